//! The pyramid summary of a run (module docs, "The summary"): per-layer totals and shares, the
//! top 20 %'s shares, and the Gini coefficient of revenue.

use serde::{Deserialize, Serialize};

use super::cut::{round_half_up, TierInput};
use super::scheme::LayerDef;

/// One layer's totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierStats {
    pub tier: String,
    pub customers: u64,
    pub revenue: f64,
    pub profit: f64,
    pub revenue_share: f64,
    pub profit_share: f64,
    pub min_metric: Option<f64>,
    pub max_metric: Option<f64>,
}

/// The pyramid summary of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PyramidSummary {
    pub tiers: Vec<TierStats>,
    pub top20_revenue_share: f64,
    pub top20_profit_share: f64,
    pub gini_revenue: f64,
    pub total_customers: u64,
}

/// The totals of a run, added up member by member in pyramid order (in the same pass that
/// ranks them, so a run reads its members once).
pub(super) struct Tally {
    stats: Vec<TierStats>,
    revenue: f64,
    profit: f64,
}

impl Tally {
    pub(super) fn new(layers: &[LayerDef]) -> Self {
        let stats = layers
            .iter()
            .map(|l| TierStats {
                tier: l.name.clone(),
                customers: 0,
                revenue: 0.0,
                profit: 0.0,
                revenue_share: 0.0,
                profit_share: 0.0,
                min_metric: None,
                max_metric: None,
            })
            .collect();
        Self {
            stats,
            revenue: 0.0,
            profit: 0.0,
        }
    }

    /// Counts member `c` in layer `layer`.
    #[inline]
    pub(super) fn add(&mut self, layer: usize, c: &TierInput) {
        let s = &mut self.stats[layer];
        s.customers += 1;
        s.revenue += c.revenue;
        s.profit += c.profit;
        s.min_metric = Some(s.min_metric.map_or(c.metric, |m: f64| m.min(c.metric)));
        s.max_metric = Some(s.max_metric.map_or(c.metric, |m: f64| m.max(c.metric)));
        self.revenue += c.revenue;
        self.profit += c.profit;
    }

    /// The summary, once every member is counted. `ranked` are the ranked customers in
    /// ranking order (the top 20 % is theirs), `order` the members in pyramid order; both
    /// index `inputs`.
    pub(super) fn finish(
        mut self,
        inputs: &[TierInput],
        ranked: &[usize],
        order: &[usize],
    ) -> PyramidSummary {
        for s in &mut self.stats {
            s.revenue_share = share(s.revenue, self.revenue);
            s.profit_share = share(s.profit, self.profit);
        }
        let (top_revenue, top_profit) = top20(inputs, ranked);
        let revenues: Vec<f64> = order.iter().map(|&i| inputs[i].revenue).collect();
        PyramidSummary {
            tiers: self.stats,
            top20_revenue_share: share(top_revenue, self.revenue),
            top20_profit_share: share(top_profit, self.profit),
            gini_revenue: gini(revenues),
            total_customers: order.len() as u64,
        }
    }
}

/// `x` as a share of the total `t`; 0 when the total is zero or less.
fn share(x: f64, t: f64) -> f64 {
    if t > 0.0 {
        x / t
    } else {
        0.0
    }
}

/// Revenue and profit of the best `round_half_up(20 %)` of the ranked customers.
fn top20(inputs: &[TierInput], ranked: &[usize]) -> (f64, f64) {
    let n = ranked.len();
    let top = round_half_up(n as f64 * 0.2).min(n);
    ranked[..top].iter().fold((0.0, 0.0), |(r, p), &i| {
        (r + inputs[i].revenue, p + inputs[i].profit)
    })
}

/// Gini coefficient of non-negative values: 0 when all are equal, (n−1)/n when one holds
/// everything; 0 for no values or a zero total. Sorted ascending,
/// `G = 2 Σ i·x_i / (n Σ x) − (n+1)/n` with i from 1.
pub fn gini(mut values: Vec<f64>) -> f64 {
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    values.sort_unstable_by(f64::total_cmp);
    let (mut sum, mut weighted) = (0.0, 0.0);
    for (i, x) in values.iter().enumerate() {
        sum += x;
        weighted += (i as f64 + 1.0) * x;
    }
    if sum <= 0.0 {
        return 0.0;
    }
    let n = n as f64;
    (2.0 * weighted / (n * sum) - (n + 1.0) / n).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pyramid::testing::{many, scheme, stored_run_inputs};

    #[test]
    fn gini_of_known_distributions() {
        assert_eq!(gini(vec![5.0; 10]), 0.0);
        assert!((gini(vec![0.0, 0.0, 0.0, 12.0]) - 0.75).abs() < 1e-12);
        // 1, 2, 3, 4: mean abs difference / (2 mean) = (20/16) / 5 = 0.25.
        assert!((gini(vec![4.0, 1.0, 3.0, 2.0]) - 0.25).abs() < 1e-12);
        assert_eq!(gini(vec![]), 0.0);
        assert_eq!(gini(vec![0.0, 0.0]), 0.0);
    }

    #[test]
    fn summary_sums_equal_the_inputs_and_top20_is_the_best_fifth() {
        let inputs = many(1000);
        let revenue: f64 = inputs.iter().map(|c| c.revenue).sum();
        let profit: f64 = inputs.iter().map(|c| c.profit).sum();
        let o = scheme("curry").tier(inputs);
        let s = &o.summary;
        assert!((s.tiers.iter().map(|t| t.revenue).sum::<f64>() - revenue).abs() < 1e-6);
        assert!((s.tiers.iter().map(|t| t.profit).sum::<f64>() - profit).abs() < 1e-6);
        assert!((s.tiers.iter().map(|t| t.revenue_share).sum::<f64>() - 1.0).abs() < 1e-12);
        // Top 200 of 0..999 hold 800..999: sum 179,900 of 499,500.
        assert!((s.top20_revenue_share - 179_900.0 / 499_500.0).abs() < 1e-12);
        assert!((s.top20_profit_share - 179_900.0 / 499_500.0).abs() < 1e-12);
    }

    /// key_major's summary of the stored-form run, as a stored run holds it.
    const STORED_SUMMARY: &str = r#"{"tiers":[{"tier":"key","customers":0,"revenue":0.0,"profit":0.0,"revenue_share":0.0,"profit_share":0.0,"min_metric":null,"max_metric":null},{"tier":"major","customers":3,"revenue":54.0,"profit":5.4,"revenue_share":0.2887700534759358,"profit_share":0.2887700534759359,"min_metric":17.0,"max_metric":19.0},{"tier":"ordinary","customers":6,"revenue":81.0,"profit":8.1,"revenue_share":0.43315508021390375,"profit_share":0.43315508021390375,"min_metric":11.0,"max_metric":16.0},{"tier":"small","customers":8,"revenue":52.0,"profit":5.2,"revenue_share":0.27807486631016043,"profit_share":0.27807486631016043,"min_metric":3.0,"max_metric":10.0}],"top20_revenue_share":0.2887700534759358,"top20_profit_share":0.2887700534759359,"gini_revenue":0.25668449197860954,"total_customers":17}"#;

    #[test]
    fn a_stored_summary_reads_back_and_is_written_the_same() {
        let summary = scheme("key_major").tier(stored_run_inputs()).summary;
        // 17 ranked (metrics 3..19): key round(0.17) = 0, major round(3.4) = 3, ordinary
        // round(8.5) = 9 -> 6, small 8; revenue 187 in all, major's 54 = 17 + 18 + 19.
        assert_eq!(
            summary
                .tiers
                .iter()
                .map(|t| t.customers)
                .collect::<Vec<_>>(),
            [0, 3, 6, 8]
        );
        assert_eq!(summary.tiers[1].revenue, 54.0);
        assert!((summary.top20_revenue_share - 54.0 / 187.0).abs() < 1e-12);
        let stored: PyramidSummary = serde_json::from_str(STORED_SUMMARY).unwrap();
        assert_eq!(stored, summary);
        assert_eq!(serde_json::to_string(&summary).unwrap(), STORED_SUMMARY);
    }
}
