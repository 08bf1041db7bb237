//! Runs, members, schemes and flows on the wire.

use super::value::timestamp;
use crate::api::pb;
use crate::domain::pyramid::{Direction, Member, Metric, Migration, Scheme};
use crate::domain::snapshot::TierRun;

pub fn metric_from_proto(m: pb::TierMetric) -> Metric {
    match m {
        pb::TierMetric::Unspecified | pb::TierMetric::ValueScore => Metric::ValueScore,
        pb::TierMetric::Revenue => Metric::Revenue,
        pb::TierMetric::Profit => Metric::Profit,
        pb::TierMetric::Clv => Metric::Clv,
    }
}

fn metric_to_proto(m: Metric) -> pb::TierMetric {
    match m {
        Metric::ValueScore => pb::TierMetric::ValueScore,
        Metric::Revenue => pb::TierMetric::Revenue,
        Metric::Profit => pb::TierMetric::Profit,
        Metric::Clv => pb::TierMetric::Clv,
    }
}

pub fn run_to_proto(r: &TierRun) -> pb::TierRun {
    let s = &r.summary;
    pb::TierRun {
        run_id: r.run_id.clone(),
        portfolio: r.portfolio.to_string(),
        scheme: r.scheme.clone(),
        metric: metric_to_proto(r.metric) as i32,
        policy_version: r.policy_version.clone(),
        created_at: Some(timestamp(r.created_at)),
        summary: Some(pb::PyramidSummary {
            tiers: s
                .tiers
                .iter()
                .map(|t| pb::TierStats {
                    tier: t.tier.clone(),
                    customers: t.customers,
                    revenue: t.revenue,
                    profit: t.profit,
                    revenue_share: t.revenue_share,
                    profit_share: t.profit_share,
                    min_metric: t.min_metric,
                    max_metric: t.max_metric,
                })
                .collect(),
            top20_revenue_share: s.top20_revenue_share,
            top20_profit_share: s.top20_profit_share,
            gini_revenue: s.gini_revenue,
            total_customers: s.total_customers,
        }),
        excluded: r.excluded,
    }
}

/// A member on the wire, its tier named from the run's summary.
pub fn member_to_proto(run: &TierRun, m: &Member) -> pb::TierMember {
    pb::TierMember {
        customer_id: m.customer_id.to_string(),
        tier: run
            .summary
            .tiers
            .get(m.tier as usize)
            .map(|t| t.tier.clone())
            .unwrap_or_default(),
        rank: m.rank,
        percentile: m.percentile,
        metric_value: m.metric_value,
    }
}

pub fn scheme_to_proto(s: &Scheme) -> pb::Scheme {
    pb::Scheme {
        name: s.name.clone(),
        description: s.description.clone(),
        builtin: s.builtin,
        layers: s
            .layers
            .iter()
            .map(|l| pb::Layer {
                name: l.name.clone(),
                description: l.description.clone(),
                rule: l.rule_text(),
            })
            .collect(),
    }
}

/// The flow of a comparison with the movers `from..from+limit`.
pub fn migration_to_proto(m: &Migration, from: usize, limit: usize) -> pb::CompareTierRunsResponse {
    pb::CompareTierRunsResponse {
        from_tiers: m.tiers.clone(),
        to_tiers: m.tiers.clone(),
        matrix: m
            .tiers
            .iter()
            .zip(&m.matrix)
            .map(|(t, row)| pb::FlowRow {
                from_tier: t.clone(),
                counts: row.clone(),
            })
            .collect(),
        moved_up: m.up,
        moved_down: m.down,
        unchanged: m.unchanged,
        entered: m.entered,
        left: m.left,
        movers: m
            .movers
            .iter()
            .skip(from)
            .take(limit)
            .map(|x| pb::TierMove {
                customer_id: x.customer_id.to_string(),
                from_tier: x.from_tier.clone().unwrap_or_default(),
                to_tier: x.to_tier.clone().unwrap_or_default(),
                direction: match x.direction {
                    Direction::Up => pb::MoveDirection::Up,
                    Direction::Down => pb::MoveDirection::Down,
                    Direction::Entered => pb::MoveDirection::Entered,
                    Direction::Left => pb::MoveDirection::Left,
                } as i32,
            })
            .collect(),
        next_page_token: String::new(),
    }
}
