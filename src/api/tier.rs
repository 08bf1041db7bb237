//! Tiering behind the RPCs: scoring a whole portfolio into tiering inputs, cutting it, and the
//! wire forms of runs, members, schemes and flows.

use std::sync::Arc;

use time::OffsetDateTime;
use tonic::Status;

use super::convert::timestamp;
use super::error::storage;
use super::pb;
use crate::domain::id::PortfolioName;
use crate::domain::policy::ScoringPolicy;
use crate::domain::pyramid::{Direction, Metric, Migration, Scheme, TierInput};
use crate::domain::score::assess_quietly;
use crate::domain::snapshot::TierRun;
use crate::store::Store;

/// Scores every stored customer of `portfolio`, cuts the ranking by `scheme` and stores the
/// run with its members in one write. FAILED_PRECONDITION for a portfolio without customers.
pub async fn tier_portfolio(
    store: &Arc<dyn Store>,
    policy: &ScoringPolicy,
    portfolio: PortfolioName,
    scheme: Scheme,
    metric: Metric,
    today: time::Date,
) -> Result<TierRun, Status> {
    // With a fitted model for the portfolio, CLV comes from it, as in ScoreCustomer.
    let models = store
        .latest_model(&portfolio)
        .await
        .map_err(storage)?
        .map(|m| m.models());
    let mut scan = store.scan_customers(&portfolio);
    let policy = policy.clone();
    let policy_version = policy.version();
    // Scoring and sorting a portfolio is CPU work: off the async workers.
    let outcome = tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let mut inputs = Vec::new();
        let mut estimator = models.as_ref().map(|m| m.estimator(&policy.clv));
        while let Some(chunk) = scan.blocking_recv() {
            for c in chunk? {
                let estimate = estimator.as_mut().and_then(|e| e(&c));
                let a = assess_quietly(&c, &policy, &policy.clv, estimate, today);
                inputs.push(TierInput::from_assessment(&c, &a, metric));
            }
        }
        let scored = started.elapsed();
        let empty = inputs.is_empty();
        let outcome = scheme.tier(inputs);
        tracing::debug!(?scored, cut = ?(started.elapsed() - scored), "portfolio scored and cut");
        Ok::<_, crate::store::StoreError>((empty, outcome))
    })
    .await
    .map_err(|e| Status::internal(format!("tiering task failed: {e}")))?
    .map_err(storage)?;
    let (empty, outcome) = outcome;
    if empty {
        return Err(Status::failed_precondition(format!(
            "portfolio \"{portfolio}\" has no customers to tier"
        )));
    }
    let run = TierRun {
        run_id: String::new(),
        portfolio,
        scheme: outcome.cuts.scheme.name.clone(),
        metric,
        policy_version,
        created_at: OffsetDateTime::now_utc(),
        summary: outcome.summary,
        excluded: outcome.excluded,
        cuts: outcome.cuts,
    };
    let started = std::time::Instant::now();
    let run = store
        .save_run(run, outcome.members)
        .await
        .map_err(storage)?;
    tracing::debug!(saved = ?started.elapsed(), "run stored");
    Ok(run)
}

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
pub fn member_to_proto(run: &TierRun, m: &crate::domain::pyramid::Member) -> pb::TierMember {
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
