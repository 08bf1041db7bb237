//! Scoring one customer (brief §4): the 0-100 value score with each part's contribution and
//! the reasons, CLV, status, lifecycle stage and flags.
//!
//! # How a score is made
//! The score is Curry's three performance factors, weighted by the policy (0.5 / 0.3 / 0.2 by
//! default):
//! - value: annual profit and CLV;
//! - behaviour: revenue, share of wallet and tenure;
//! - satisfaction: satisfaction and loyalty.
//!
//! Each factor is turned into a number in 0..1 by a fixed, monotone function of the input and
//! the policy's reference scale, never by comparing with other customers, so a score needs no
//! portfolio and the same input and policy always give the same score:
//! - money, share of wallet and tenure: [`saturate`], `x / (x + scale)` for `x > 0` and 0
//!   otherwise. A customer at the reference scale earns half of the factor's points, one at
//!   three times the scale 75 %, and no amount ever earns all of them.
//! - satisfaction and loyalty: linear, `score / 10`.
//!
//! A part's points are `100 × part weight × Σ factor weight × normalised factor`; the score is
//! the sum of the three parts, so the contributions always add up to the score.
//!
//! Missing inputs are explicit and said in the reasons: an unknown money factor (no gross
//! profit, no revenue, no category spend, no relationship date) earns nothing, because the
//! score is evidence of value and there is none; an unknown satisfaction or loyalty counts as
//! neutral (0.5), because not having surveyed a customer says nothing about how they feel.
//!
//! # Where things are
//! Scoring computes numbers and structured reasons; words are written only on request.
//! [`factors`] reads the seven factors and their points, [`flags`] raises the warning signs,
//! [`status`](mod@status) gives the status and lifecycle stage, [`reasons`] holds the reasons
//! as numbers and is the one place that says them in words (with the number writers of
//! [`words`]), and [`policy`] is the policy all of them read. [`evaluate`] puts one score
//! together; [`assess`] adds the reasons in words, [`assess_quietly`] leaves them out.

pub mod factors;
pub mod flags;
pub mod policy;
pub mod reasons;
pub mod status;
pub mod words;

pub use factors::{saturate, Contributions, NEUTRAL};
pub use flags::Flag;
pub use reasons::Reasons;
pub use status::{lifecycle, months_before, status, LifecycleStage, Status};

use serde::{Deserialize, Serialize};
use time::Date;

use crate::domain::clv::ClvParams;
use crate::domain::customer::Customer;
use factors::Inputs;
use policy::ScoringPolicy;

/// How CLV was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClvMethod {
    /// The retention-discount formula of the policy.
    Formula,
    /// The portfolio's fitted BG/NBD and Gamma-Gamma models.
    Model,
}

/// A CLV and probability alive from the portfolio's fitted models, which replace the formula.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelEstimate {
    pub clv: f64,
    pub p_alive: f64,
    /// Which models gave them, for the reasons.
    pub models: ModelNames,
}

/// The names of a portfolio's fitted models ("BG/NBD", "Gamma-Gamma"), as the reasons say
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelNames {
    pub purchases: &'static str,
    pub spend: &'static str,
}

/// Everything the scoring of one customer produces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    pub score: f64,
    pub contributions: Contributions,
    pub reasons: Vec<String>,
    pub clv: Option<f64>,
    pub clv_method: ClvMethod,
    pub p_alive: Option<f64>,
    pub annual_profit: Option<f64>,
    pub profit_margin: Option<f64>,
    pub share_of_wallet: Option<f64>,
    pub revenue_growth: Option<f64>,
    pub tenure_years: Option<f64>,
    pub status: Status,
    pub lifecycle_stage: LifecycleStage,
    pub flags: Vec<Flag>,
}

/// One customer scored: every number, and the reasons for them not yet in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// Every number of the assessment; its `reasons` stay empty until [`Scored::explained`].
    pub assessment: Assessment,
    pub reasons: Reasons,
}

impl Scored {
    /// The assessment with its reasons in words.
    pub fn explained(self) -> Assessment {
        Assessment {
            reasons: self.reasons.words(),
            ..self.assessment
        }
    }
}

/// Scores `c` under `policy` as of `today`, with CLV parameters `clv` (the policy's defaults or
/// a caller's override) and, where the portfolio has fitted models, their estimate.
pub fn assess(
    c: &Customer,
    policy: &ScoringPolicy,
    clv: &ClvParams,
    model: Option<ModelEstimate>,
    today: Date,
) -> Assessment {
    evaluate(c, policy, clv, model, today).explained()
}

/// [`assess`] without the reasons in words: the same numbers, for scoring a whole portfolio,
/// where formatting millions of sentences nobody reads would dominate the time. Writes no
/// text and allocates only the list of flags raised.
pub fn assess_quietly(
    c: &Customer,
    policy: &ScoringPolicy,
    clv: &ClvParams,
    model: Option<ModelEstimate>,
    today: Date,
) -> Assessment {
    evaluate(c, policy, clv, model, today).assessment
}

/// Scores `c` as [`assess`] does, the reasons kept as numbers: what [`assess`] and
/// [`assess_quietly`] share, for a caller that wants the reasons' numbers or its own words.
pub fn evaluate(
    c: &Customer,
    policy: &ScoringPolicy,
    clv: &ClvParams,
    model: Option<ModelEstimate>,
    today: Date,
) -> Scored {
    let th = &policy.thresholds;
    let annual_profit = c.annual_profit(th.window_months);
    let (clv_value, clv_method) = match model {
        Some(m) => (Some(m.clv), ClvMethod::Model),
        None => (
            annual_profit.map(|m| clv.clv(m, c.acquisition_cost.unwrap_or(0.0))),
            ClvMethod::Formula,
        ),
    };
    let profit_margin = match (annual_profit, c.revenue) {
        (Some(p), Some(r)) if r > 0.0 => {
            // Margin on the window's revenue, so un-annualise the profit first.
            Some(p * f64::from(th.window_months.max(1)) / 12.0 / r)
        }
        _ => None,
    };
    let share_of_wallet = c.share_of_wallet();
    let revenue_growth = c.revenue_growth();
    let tenure_years = c
        .relationship_start
        .or(c.first_purchase)
        .map(|d| ((today - d).whole_days() as f64 / 365.25).max(0.0));

    let status = status(c, policy, today);
    let lifecycle_stage = lifecycle(c, status, revenue_growth, tenure_years, policy);
    let inputs = Inputs {
        annual_profit,
        clv: clv_value,
        revenue: c.revenue,
        share_of_wallet,
        tenure_years,
        satisfaction: c.satisfaction,
        loyalty: c.loyalty,
    };
    let readings = factors::measure(&inputs, policy);
    let contributions = factors::contributions(&readings);
    let p_alive = model.map(|m| m.p_alive);
    let fitted = model.map(|m| (m.p_alive, m.models));
    let raised = flags::raise(c, status, annual_profit, revenue_growth, p_alive, policy);
    let mut flags = Vec::new();
    for f in raised.iter().flatten() {
        flags.push(f.flag());
    }

    let assessment = Assessment {
        score: contributions.total(),
        contributions,
        reasons: Vec::new(),
        clv: clv_value,
        clv_method,
        p_alive,
        annual_profit,
        profit_margin,
        share_of_wallet,
        revenue_growth,
        tenure_years,
        status,
        lifecycle_stage,
        flags,
    };
    Scored {
        assessment,
        reasons: Reasons::new(raised, fitted, readings),
    }
}

/// What the tests of scoring's modules share: a fixed today, a customer with only an id, and
/// scoring under the default policy.
#[cfg(test)]
mod fixtures {
    use super::*;
    use crate::domain::customer::{FundingStatus, PaymentBehaviour};
    use crate::domain::id::CustomerId;
    use time::macros::date;

    pub const TODAY: Date = date!(2026 - 06 - 30);

    /// The models every portfolio fits today.
    pub const BG_GG: ModelNames = ModelNames {
        purchases: "BG/NBD",
        spend: "Gamma-Gamma",
    };

    pub fn customer() -> Customer {
        Customer::new(CustomerId::parse("c-1").unwrap())
    }

    pub fn score(c: &Customer) -> Assessment {
        let p = ScoringPolicy::default();
        assess(c, &p, &p.clv, None, TODAY)
    }

    /// A customer who raises every flag, scored with a fitted model's estimate.
    pub fn troubled_customer() -> Customer {
        let mut c = customer();
        c.gross_profit = Some(100.0);
        c.cost_to_serve = Some(350.0);
        c.revenue = Some(900.0);
        c.previous_revenue = Some(1_000.0);
        c.category_spend = Some(3_000.0);
        c.payment_behaviour = Some(PaymentBehaviour::InArrears);
        c.funding_status = Some(FundingStatus::Critical);
        c.open_complaints = Some(2);
        c.contacts_90d = Some(0);
        c.satisfaction = Some(6.5);
        c.first_purchase = Some(date!(2020 - 01 - 15));
        c.last_purchase = Some(date!(2025 - 03 - 01));
        c.purchase_count = Some(7);
        c
    }

    /// `troubled_customer`'s assessment as value snapshots keep it (serde JSON), as written by
    /// the scoring of commit f7b364e: kept snapshots must read, and new ones look the same.
    pub const KEPT_TROUBLED: &str = r#"{"score":22.83870799721238,"contributions":{"value":0.4819018434843709,"behaviour":10.856806153728009,"satisfaction":11.5},"reasons":["loses money: annual profit -250","poor credit: pays in arrears, funding critical","lapsed: no purchase within the inactivity window","revenue falling: -10 % against the previous window","2 open complaint(s)","barely satisfied (6.5/10): such customers defect to competitors","no contact in the last 90 days","at risk: the fitted model gives a low probability that the customer is still active","CLV from the portfolio's fitted BG/NBD and Gamma-Gamma models; probability alive 13 %","satisfaction 6.5/10 (6.5 of 10.0 points)","tenure 6.5 years is at or above the policy scale 3.0 years (6.1 of 9.0 points)","loyalty not reported: counted as neutral (5.0 of 10.0 points)","share of wallet 30 % is at or above the policy scale 30 % (4.5 of 9.0 points)","CLV 1,234.5 is in the low band of the policy scale 50,000 (0.5 of 20.0 points)","revenue 900 is in the low band of the policy scale 50,000 (0.2 of 12.0 points)","annual profit -250 is in the low band of the policy scale 10,000 (0.0 of 30.0 points)"],"clv":1234.5,"clv_method":"model","p_alive":0.125,"annual_profit":-250.0,"profit_margin":-0.2777777777777778,"share_of_wallet":0.3,"revenue_growth":-0.1,"tenure_years":6.455852156057495,"status":"lapsed","lifecycle_stage":"terminated","flags":["negative_profit","poor_credit","lapsed","revenue_falling","open_complaints","barely_satisfied","no_recent_contact","low_p_alive"]}"#;
}

#[cfg(test)]
mod tests {
    use super::fixtures::{customer, score, KEPT_TROUBLED, TODAY};
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    #[test]
    fn issue_example_clv_is_920() {
        let mut c = customer();
        c.gross_profit = Some(100.0);
        c.acquisition_cost = Some(80.0);
        let p = ScoringPolicy::default();
        let clv = ClvParams {
            retention_rate: 1.0,
            discount_rate: 0.0,
            horizon_years: 10,
        };
        let a = assess(&c, &p, &clv, None, TODAY);
        assert_eq!(a.clv, Some(920.0));
        assert_eq!(a.clv_method, ClvMethod::Formula);
        assert_eq!(a.annual_profit, Some(100.0));
    }

    #[test]
    fn hand_computed_score() {
        // Every factor exactly at its reference scale earns half; satisfaction 8 and loyalty 6.
        let mut c = customer();
        c.gross_profit = Some(10_000.0);
        c.revenue = Some(50_000.0);
        c.category_spend = Some(50_000.0 / 0.3);
        c.relationship_start = Some(date!(2023 - 06 - 30));
        c.satisfaction = Some(8.0);
        c.loyalty = Some(6.0);
        let p = ScoringPolicy::default();
        // CLV is set to the scale through a model estimate so that every money factor is at ½.
        let a = assess(
            &c,
            &p,
            &p.clv,
            Some(ModelEstimate {
                clv: 50_000.0,
                p_alive: 0.9,
                models: fixtures::BG_GG,
            }),
            TODAY,
        );
        // value: 50 × (0.6 × ½ + 0.4 × ½) = 25.
        assert!((a.contributions.value - 25.0).abs() < 1e-9);
        // behaviour: 30 × (0.4 × ½ + 0.3 × ½ + 0.3 × t/(t+3)), t = 1096 days / 365.25.
        let t = 1096.0 / 365.25;
        let expected_behaviour = 30.0 * (0.2 + 0.15 + 0.3 * t / (t + 3.0));
        assert!((a.contributions.behaviour - expected_behaviour).abs() < 1e-9);
        // satisfaction: 20 × (0.5 × 0.8 + 0.5 × 0.6) = 14.
        assert!((a.contributions.satisfaction - 14.0).abs() < 1e-9);
        assert!((a.score - (25.0 + expected_behaviour + 14.0)).abs() < 1e-9);
        assert_eq!(a.clv_method, ClvMethod::Model);
        assert_eq!(a.p_alive, Some(0.9));
    }

    #[test]
    fn missing_inputs_are_said_and_explicit() {
        let a = score(&customer());
        // Only the neutral survey points: 20 × 0.5.
        assert!((a.score - 10.0).abs() < 1e-9);
        assert!(a
            .reasons
            .iter()
            .any(|r| r.contains("satisfaction not reported")));
        assert!(a
            .reasons
            .iter()
            .any(|r| r.contains("annual profit unknown")));
        assert_eq!(a.clv, None);
        assert_eq!(a.status, Status::Suspect);
    }

    /// A kept assessment with every optional number unknown and no flag.
    const KEPT_UNKNOWN: &str = r#"{"score":15.0,"contributions":{"value":0.0,"behaviour":0.0,"satisfaction":15.0},"reasons":["satisfaction 10/10 (15.0 of 15.0 points)","annual profit unknown: counted as no evidence (0 of 12.0 points)","CLV unknown: counted as no evidence (0 of 8.0 points)","revenue unknown: counted as no evidence (0 of 20.0 points)","share of wallet unknown: counted as no evidence (0 of 15.0 points)","tenure unknown: counted as no evidence (0 of 15.0 points)","loyalty 0/10 (0.0 of 15.0 points)"],"clv":null,"clv_method":"formula","p_alive":null,"annual_profit":null,"profit_margin":null,"share_of_wallet":null,"revenue_growth":null,"tenure_years":null,"status":"non_customer","lifecycle_stage":"terminated","flags":[]}"#;

    #[test]
    fn kept_assessments_read_and_write_back_byte_for_byte() {
        for json in [KEPT_TROUBLED, KEPT_UNKNOWN] {
            let a: Assessment = serde_json::from_str(json).unwrap();
            assert_eq!(serde_json::to_string(&a).unwrap(), json);
        }
    }

    fn arb_customer() -> impl Strategy<Value = Customer> {
        (
            prop::option::of(0.0..1e9f64),
            prop::option::of(-1e9..1e9f64),
            prop::option::of(0.0..1e9f64),
            prop::option::of(0.0..1e9f64),
            prop::option::of(0.0..=10.0f64),
            prop::option::of(0.0..=10.0f64),
            prop::option::of(0i64..20_000),
            prop::option::of(0u64..1000),
        )
            .prop_map(|(rev, gp, cts, spend, sat, loy, days, n)| {
                let mut c = customer();
                c.revenue = rev;
                c.gross_profit = gp;
                c.cost_to_serve = cts;
                c.category_spend = match (rev, spend) {
                    (Some(r), Some(s)) => Some(r + s),
                    (_, s) => s,
                };
                c.satisfaction = sat;
                c.loyalty = loy;
                c.relationship_start = days.map(|d| TODAY - time::Duration::days(d));
                c.purchase_count = n;
                c
            })
    }

    proptest! {
        #[test]
        fn any_valid_customer_scores_within_0_100_and_parts_add_up(c in arb_customer()) {
            prop_assert!(c.check(TODAY).is_empty());
            let a = score(&c);
            prop_assert!((0.0..=100.0).contains(&a.score), "{}", a.score);
            prop_assert!((a.contributions.total() - a.score).abs() < 1e-9);
            prop_assert_eq!(score(&c), a);
        }

        #[test]
        fn quiet_scoring_gives_the_same_numbers(c in arb_customer()) {
            let p = ScoringPolicy::default();
            let loud = assess(&c, &p, &p.clv, None, TODAY);
            let quiet = assess_quietly(&c, &p, &p.clv, None, TODAY);
            prop_assert!(quiet.reasons.is_empty());
            prop_assert_eq!(Assessment { reasons: Vec::new(), ..loud }, quiet);
        }

        /// The reasons' numbers are the assessment's: the factors' points add up to each
        /// part, the flags are the assessment's, and the words are what `assess` says.
        #[test]
        fn the_reasons_numbers_are_the_assessments(c in arb_customer()) {
            let p = ScoringPolicy::default();
            let scored = evaluate(&c, &p, &p.clv, None, TODAY);
            let f = scored.reasons.factors().map(|f| f.points());
            let a = &scored.assessment;
            prop_assert_eq!(f[0] + f[1], a.contributions.value);
            prop_assert_eq!(f[2] + f[3] + f[4], a.contributions.behaviour);
            prop_assert_eq!(f[5] + f[6], a.contributions.satisfaction);
            let flags: Vec<Flag> = scored.reasons.flags().map(|r| r.flag()).collect();
            prop_assert_eq!(&flags, &a.flags);
            prop_assert_eq!(scored.reasons.words(), score(&c).reasons);
        }

        #[test]
        fn more_profit_never_lowers_the_score(c in arb_customer(), extra in 0.0..1e6f64) {
            let base = score(&c).score;
            let mut richer = c.clone();
            richer.gross_profit = Some(c.gross_profit.unwrap_or(0.0) + extra);
            prop_assert!(score(&richer).score >= base - 1e-9);
        }

        #[test]
        fn more_satisfaction_never_lowers_the_score(c in arb_customer(), s in 0.0..=10.0f64) {
            let mut a = c.clone();
            a.satisfaction = Some(s);
            let mut b = c;
            b.satisfaction = Some((s + 1.0).min(10.0));
            prop_assert!(score(&b).score >= score(&a).score - 1e-9);
        }
    }
}
