//! Values, policies and their parts on the wire.

use time::OffsetDateTime;

use crate::api::error::Violations;
use crate::api::pb;
use crate::domain::clv::ClvParams;
use crate::domain::scoring::policy::ScoringPolicy;
use crate::domain::scoring::status::{LifecycleStage, Status};
use crate::domain::scoring::{ClvMethod, Flag};
use crate::domain::snapshot::ValueSnapshot;

/// The policy's CLV defaults with the request's overrides applied and checked.
pub fn clv_params(
    defaults: ClvParams,
    over: Option<&pb::ClvParameters>,
    v: &mut Violations,
) -> ClvParams {
    let Some(o) = over else { return defaults };
    let p = ClvParams {
        retention_rate: o.retention_rate.unwrap_or(defaults.retention_rate),
        discount_rate: o.discount_rate.unwrap_or(defaults.discount_rate),
        horizon_years: o.horizon_years.unwrap_or(defaults.horizon_years),
    };
    for x in p.check() {
        v.add(format!("clv.{}", x.field), x.reason);
    }
    p
}

pub fn timestamp(t: OffsetDateTime) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.unix_timestamp(),
        nanos: i32::try_from(t.nanosecond()).unwrap_or(0),
    }
}

fn status_to_proto(s: Status) -> pb::CustomerStatus {
    match s {
        Status::NonCustomer => pb::CustomerStatus::NonCustomer,
        Status::Suspect => pb::CustomerStatus::Suspect,
        Status::Target => pb::CustomerStatus::Target,
        Status::FirstTime => pb::CustomerStatus::FirstTime,
        Status::Repeat => pb::CustomerStatus::Repeat,
        Status::Loyal => pb::CustomerStatus::Loyal,
        Status::Lapsed => pb::CustomerStatus::Lapsed,
    }
}

fn stage_to_proto(s: LifecycleStage) -> pb::LifecycleStage {
    match s {
        LifecycleStage::Nurture => pb::LifecycleStage::Nurture,
        LifecycleStage::Growth => pb::LifecycleStage::Growth,
        LifecycleStage::Payback => pb::LifecycleStage::Payback,
        LifecycleStage::Retention => pb::LifecycleStage::Retention,
        LifecycleStage::Terminated => pb::LifecycleStage::Terminated,
    }
}

fn flag_to_proto(f: Flag) -> pb::Flag {
    match f {
        Flag::NegativeProfit => pb::Flag::NegativeProfit,
        Flag::PoorCredit => pb::Flag::PoorCredit,
        Flag::BarelySatisfied => pb::Flag::BarelySatisfied,
        Flag::OpenComplaints => pb::Flag::OpenComplaints,
        Flag::RevenueFalling => pb::Flag::RevenueFalling,
        Flag::NoRecentContact => pb::Flag::NoRecentContact,
        Flag::Lapsed => pb::Flag::Lapsed,
        Flag::LowPAlive => pb::Flag::LowPAlive,
    }
}

/// A value snapshot on the wire. Takes the snapshot by value: its strings (the reasons above
/// all) move into the message instead of being copied.
pub fn value_to_proto(s: ValueSnapshot) -> pb::CustomerValue {
    let a = s.assessment;
    let (tier, tier_run_id) = s.tier.map_or_else(Default::default, |t| (t.tier, t.run_id));
    pb::CustomerValue {
        customer_id: s.customer_id.into(),
        portfolio: s.portfolio.into(),
        score: a.score,
        contributions: Some(pb::Contributions {
            value: a.contributions.value,
            behaviour: a.contributions.behaviour,
            satisfaction: a.contributions.satisfaction,
        }),
        reasons: a.reasons,
        clv: a.clv,
        clv_method: match a.clv_method {
            ClvMethod::Formula => pb::ClvMethod::Formula,
            ClvMethod::Model => pb::ClvMethod::Model,
        } as i32,
        annual_profit: a.annual_profit,
        profit_margin: a.profit_margin,
        share_of_wallet: a.share_of_wallet,
        status: status_to_proto(a.status) as i32,
        lifecycle_stage: stage_to_proto(a.lifecycle_stage) as i32,
        flags: a.flags.iter().map(|f| flag_to_proto(*f) as i32).collect(),
        tier,
        policy_version: s.policy_version,
        scored_at: Some(timestamp(s.scored_at)),
        revenue_growth: a.revenue_growth,
        tenure_years: a.tenure_years,
        p_alive: a.p_alive,
        model_id: s.model_id.unwrap_or_default(),
        tier_run_id,
    }
}

/// The scoring policy on the wire.
pub fn policy_to_proto(p: &ScoringPolicy) -> pb::ScoringPolicy {
    let (w, fw, s, t, c) = (
        &p.weights,
        &p.factor_weights,
        &p.scales,
        &p.thresholds,
        &p.clv,
    );
    pb::ScoringPolicy {
        version: p.version(),
        weights: Some(pb::PartWeights {
            value: w.value,
            behaviour: w.behaviour,
            satisfaction: w.satisfaction,
        }),
        factor_weights: Some(pb::FactorWeights {
            annual_profit: fw.annual_profit,
            clv: fw.clv,
            revenue: fw.revenue,
            share_of_wallet: fw.share_of_wallet,
            tenure: fw.tenure,
            satisfaction: fw.satisfaction,
            loyalty: fw.loyalty,
        }),
        scales: Some(pb::ReferenceScales {
            annual_profit: s.annual_profit,
            clv: s.clv,
            revenue: s.revenue,
            share_of_wallet: s.share_of_wallet,
            tenure_years: s.tenure_years,
        }),
        thresholds: Some(pb::Thresholds {
            inactivity_months: t.inactivity_months,
            loyal_loyalty: t.loyal_loyalty,
            low_satisfaction: t.low_satisfaction,
            barely_satisfied_min: t.barely_satisfied_min,
            barely_satisfied_max: t.barely_satisfied_max,
            growth_tolerance: t.growth_tolerance,
            window_months: t.window_months,
            low_p_alive: t.low_p_alive,
        }),
        clv: Some(pb::ClvDefaults {
            retention_rate: c.retention_rate,
            discount_rate: c.discount_rate,
            horizon_years: c.horizon_years,
        }),
    }
}
