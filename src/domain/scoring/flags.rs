//! The warning signs of a score and the rules that raise them.

use serde::{Deserialize, Serialize};

use super::policy::ScoringPolicy;
use super::reasons::FlagReason;
use super::status::Status;
use crate::domain::customer::Customer;

/// Warning signs a salesperson should see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    NegativeProfit,
    PoorCredit,
    BarelySatisfied,
    OpenComplaints,
    RevenueFalling,
    NoRecentContact,
    Lapsed,
    /// The fitted model says the customer is probably gone.
    LowPAlive,
}

/// The flags one score raises, with their facts: one slot per rule, in the order the rules
/// run, which is the order the flags are listed and said in.
pub type Raised = [Option<FlagReason>; 8];

/// Runs every flag rule on `c`, given what scoring derived: its status, annual profit and
/// revenue growth, and the fitted model's probability alive when there is one.
#[inline]
pub fn raise(
    c: &Customer,
    status: Status,
    annual_profit: Option<f64>,
    revenue_growth: Option<f64>,
    p_alive: Option<f64>,
    policy: &ScoringPolicy,
) -> Raised {
    let th = &policy.thresholds;
    [
        annual_profit
            .filter(|p| *p < 0.0)
            .map(|annual_profit| FlagReason::NegativeProfit { annual_profit }),
        c.poor_credit().then(|| FlagReason::PoorCredit {
            payment: c.payment_behaviour.filter(|p| p.is_poor()),
            funding: c.funding_status.filter(|s| s.is_poor()),
        }),
        (status == Status::Lapsed).then_some(FlagReason::Lapsed),
        revenue_growth
            .filter(|g| *g < -th.growth_tolerance)
            .map(|growth| FlagReason::RevenueFalling { growth }),
        c.open_complaints
            .filter(|n| *n > 0)
            .map(|count| FlagReason::OpenComplaints { count }),
        c.satisfaction
            .filter(|s| *s >= th.barely_satisfied_min && *s < th.barely_satisfied_max)
            .map(|satisfaction| FlagReason::BarelySatisfied { satisfaction }),
        (c.contacts_90d == Some(0)).then_some(FlagReason::NoRecentContact),
        p_alive
            .filter(|p| *p < th.low_p_alive)
            .map(|p_alive| FlagReason::LowPAlive { p_alive }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::customer::{FundingStatus, PaymentBehaviour};
    use crate::domain::scoring::fixtures::{customer, score};

    #[test]
    fn flags_negative_profit_and_poor_credit_first() {
        let mut c = customer();
        c.gross_profit = Some(100.0);
        c.cost_to_serve = Some(350.0);
        c.payment_behaviour = Some(PaymentBehaviour::InArrears);
        c.funding_status = Some(FundingStatus::Ample);
        let a = score(&c);
        assert_eq!(a.flags, [Flag::NegativeProfit, Flag::PoorCredit]);
        assert_eq!(a.reasons[0], "loses money: annual profit -250");
        assert_eq!(a.reasons[1], "poor credit: pays in arrears");
    }

    #[test]
    fn flags_carry_their_facts_and_only_the_poor_credit_facts() {
        let mut c = customer();
        c.payment_behaviour = Some(PaymentBehaviour::Prompt);
        c.funding_status = Some(FundingStatus::Short);
        c.open_complaints = Some(3);
        let p = ScoringPolicy::default();
        let raised = raise(&c, Status::Suspect, Some(-1.5), None, Some(0.29), &p);
        let facts: Vec<_> = raised.iter().flatten().copied().collect();
        assert_eq!(
            facts,
            [
                FlagReason::NegativeProfit {
                    annual_profit: -1.5
                },
                FlagReason::PoorCredit {
                    payment: None,
                    funding: Some(FundingStatus::Short)
                },
                FlagReason::OpenComplaints { count: 3 },
                FlagReason::LowPAlive { p_alive: 0.29 },
            ]
        );
        // At the thresholds nothing is raised: growth of exactly -5 %, p alive 0.3.
        let c = customer();
        let raised = raise(&c, Status::Repeat, Some(0.0), Some(-0.05), Some(0.3), &p);
        assert!(raised.iter().all(Option::is_none), "{raised:?}");
    }
}
