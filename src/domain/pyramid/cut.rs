//! Cutting a run: ranking the customers and sending each to a layer (module docs, "How a run
//! is cut"), then listing the members in pyramid order with their ranks.

use serde::{Deserialize, Serialize};

use super::builtin::{ClassLayers, DiamondClass, ValueLoyaltyClass};
use super::place::CutPoints;
use super::scheme::{LayerDef, Metric, Scheme, SchemeKind, ValueLoyaltyParams};
use super::summary::{PyramidSummary, Tally};
use crate::domain::customer::Customer;
use crate::domain::id::CustomerId;
use crate::domain::scoring::status::Status;
use crate::domain::scoring::{Assessment, Flag};

/// The facts of one customer that tiering uses.
#[derive(Debug, Clone, PartialEq)]
pub struct TierInput {
    pub customer_id: CustomerId,
    /// The ranking metric; finite.
    pub metric: f64,
    /// 0 when unknown.
    pub revenue: f64,
    /// Annual profit; 0 when unknown.
    pub profit: f64,
    pub status: Status,
    pub negative_profit: bool,
    pub poor_credit: bool,
    pub loyalty: Option<f64>,
    pub revenue_growth: Option<f64>,
    pub own_growth: Option<f64>,
    pub headroom: Option<f64>,
    pub purchases: u64,
}

impl TierInput {
    /// The tiering facts of a scored customer, ranked by `metric`. Unknown money counts as 0.
    pub fn from_assessment(c: &Customer, a: &Assessment, metric: Metric) -> Self {
        let revenue = c.revenue.unwrap_or(0.0);
        let profit = a.annual_profit.unwrap_or(0.0);
        Self {
            customer_id: c.id.clone(),
            metric: match metric {
                Metric::ValueScore => a.score,
                Metric::Revenue => revenue,
                Metric::Profit => profit,
                Metric::Clv => a.clv.unwrap_or(0.0),
            },
            revenue,
            profit,
            status: a.status,
            negative_profit: a.flags.contains(&Flag::NegativeProfit),
            poor_credit: a.flags.contains(&Flag::PoorCredit),
            loyalty: c.loyalty,
            revenue_growth: a.revenue_growth,
            own_growth: c.own_growth,
            headroom: c.headroom(),
            purchases: c.purchases_known().unwrap_or(0),
        }
    }
}

/// One customer's place in a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub customer_id: CustomerId,
    /// Index of the tier in the scheme's layers (0 = the top); names are in the summary.
    pub tier: u32,
    pub rank: u64,
    pub percentile: f64,
    pub metric_value: f64,
}

/// A finished cut: members in rank order, the summary, the cut points, and how many customers
/// were left out.
#[derive(Debug, Clone, PartialEq)]
pub struct TierOutcome {
    pub members: Vec<Member>,
    pub summary: PyramidSummary,
    pub cuts: CutPoints,
    pub excluded: u64,
}

/// The layer of a customer the run leaves out.
const EXCLUDED: usize = usize::MAX;

/// `round(x)` with halves rounded up, for whole customers.
pub(super) fn round_half_up(x: f64) -> usize {
    (x + 0.5).floor().max(0.0) as usize
}

/// Orders by metric, highest first, then by id.
fn by_rank(a: &TierInput, b: &TierInput) -> std::cmp::Ordering {
    b.metric
        .total_cmp(&a.metric)
        .then_with(|| a.customer_id.cmp(&b.customer_id))
}

/// One run in progress: the inputs in ranking order and the layer of each (`EXCLUDED` until
/// sent somewhere).
struct Cut<'a> {
    scheme: &'a Scheme,
    inputs: Vec<TierInput>,
    layer_of: Vec<usize>,
}

impl Scheme {
    /// Tiers `inputs` (in any order; ids unique).
    pub fn tier(&self, mut inputs: Vec<TierInput>) -> TierOutcome {
        // Ids are unique, so the order is total and an unstable sort gives the same result.
        inputs.sort_unstable_by(by_rank);
        let mut cut = Cut {
            scheme: self,
            layer_of: vec![EXCLUDED; inputs.len()],
            inputs,
        };
        let (ranked, high_value_cut) = match &self.kind {
            SchemeKind::Layered => {
                let ranked = cut.rule_layers();
                let (end, last) = cut.slices(&ranked, false);
                if let Some(l) = last {
                    cut.send(&ranked[end..], |_| Some(l));
                }
                (ranked, None)
            }
            SchemeKind::Diamond => {
                let classes = ClassLayers::<DiamondClass>::of(self);
                let ranked = cut.rule_layers();
                let (end, _) = cut.slices(&ranked, true);
                cut.send(&ranked[end..], |c| classes.layer(DiamondClass::of(c)));
                (ranked, None)
            }
            SchemeKind::ValueLoyalty(p) => {
                let classes = ClassLayers::<ValueLoyaltyClass>::of(self);
                let ranked = cut.dormant(p, classes.layer(ValueLoyaltyClass::Dormant));
                let high_value_cut = cut.value_loyalty(p, &classes, &ranked);
                (ranked, high_value_cut)
            }
        };
        cut.finish(&ranked, high_value_cut)
    }
}

impl Cut<'_> {
    /// Sends each rule-layer customer to the first rule layer that matches (step 1) and
    /// returns the other active customers, in ranking order (step 2).
    fn rule_layers(&mut self) -> Vec<usize> {
        let scheme = self.scheme;
        let rules: Vec<(usize, &LayerDef)> = scheme
            .layers
            .iter()
            .enumerate()
            .filter(|(_, l)| l.is_rule())
            .collect();
        self.split(|c| rules.iter().find(|(_, l)| l.matches(c)).map(|&(i, _)| i))
    }

    /// value_loyalty's step 1: dormant customers go to `dormant` (or are left out when the
    /// scheme has no such layer) before the ranking.
    fn dormant(&mut self, p: &ValueLoyaltyParams, dormant: Option<usize>) -> Vec<usize> {
        let dormant = dormant.unwrap_or(EXCLUDED);
        self.split(|c| ValueLoyaltyClass::is_dormant(c, p).then_some(dormant))
    }

    /// Sends the customers a rule takes to its layer; returns the other active ones.
    fn split(&mut self, rule: impl Fn(&TierInput) -> Option<usize>) -> Vec<usize> {
        let mut ranked = Vec::with_capacity(self.inputs.len());
        for (i, c) in self.inputs.iter().enumerate() {
            match rule(c) {
                Some(l) => self.layer_of[i] = l,
                None if c.status.is_active() => ranked.push(i),
                None => {}
            }
        }
        ranked
    }

    /// Step 4: the ranked layers take consecutive slices of `ranked`, in layer order; with
    /// `fractions_only` (diamond) only the top-fraction layers do, the rest being left to the
    /// classes. Returns where the slices end and the last layer that took one.
    fn slices(&mut self, ranked: &[usize], fractions_only: bool) -> (usize, Option<usize>) {
        let n = ranked.len();
        let (mut pos, mut cumulative, mut last) = (0, 0.0, None);
        for (l, def) in self.scheme.layers.iter().enumerate() {
            if def.is_rule() || (fractions_only && def.top_fraction.is_none()) {
                continue;
            }
            let end = if let Some(f) = def.top_fraction {
                cumulative += f;
                round_half_up(n as f64 * cumulative).clamp(pos, n)
            } else if let Some(m) = def.min_metric {
                let mut e = pos;
                while e < n && self.inputs[ranked[e]].metric >= m {
                    e += 1;
                }
                e
            } else {
                n
            };
            for &i in &ranked[pos..end] {
                self.layer_of[i] = l;
            }
            pos = end;
            last = Some(l);
        }
        (pos, last)
    }

    /// Sends each of `which` to the layer `layer` gives it (left out on `None`).
    fn send(&mut self, which: &[usize], layer: impl Fn(&TierInput) -> Option<usize>) {
        for &i in which {
            self.layer_of[i] = layer(&self.inputs[i]).unwrap_or(EXCLUDED);
        }
    }

    /// value_loyalty's matrix: the top `high_value_fraction` of the ranking is high value.
    /// Returns the lowest metric that counted as high value.
    fn value_loyalty(
        &mut self,
        p: &ValueLoyaltyParams,
        classes: &ClassLayers<ValueLoyaltyClass>,
        ranked: &[usize],
    ) -> Option<f64> {
        let n = ranked.len();
        let high = round_half_up(n as f64 * p.high_value_fraction).min(n);
        for (r, &i) in ranked.iter().enumerate() {
            let class = ValueLoyaltyClass::of_ranked(r < high, &self.inputs[i], p);
            self.layer_of[i] = classes.layer(class).unwrap_or(EXCLUDED);
        }
        (high > 0).then(|| self.inputs[ranked[high - 1]].metric)
    }

    /// Lists the members in pyramid order with their ranks, and totals the run.
    fn finish(self, ranked: &[usize], high_value_cut: Option<f64>) -> TierOutcome {
        let Cut {
            scheme,
            inputs,
            layer_of,
        } = self;
        let order = pyramid_order(&layer_of, scheme.layers.len());
        let excluded = (inputs.len() - order.len()) as u64;
        let total = order.len();
        // One pass over the members for the ranks and the per-layer totals.
        let mut tally = Tally::new(&scheme.layers);
        let mut members = Vec::with_capacity(total);
        for (pos, &i) in order.iter().enumerate() {
            let c = &inputs[i];
            let layer = layer_of[i];
            tally.add(layer, c);
            members.push(Member {
                customer_id: c.customer_id.clone(),
                tier: layer as u32,
                rank: pos as u64 + 1,
                percentile: 100.0 * (total as f64 - pos as f64) / total as f64,
                metric_value: c.metric,
            });
        }
        let summary = tally.finish(&inputs, ranked, &order);
        let cuts = CutPoints {
            scheme: scheme.clone(),
            min_metric: summary.tiers.iter().map(|t| t.min_metric).collect(),
            high_value_cut,
        };
        TierOutcome {
            members,
            summary,
            cuts,
            excluded,
        }
    }
}

/// The members (indexes into the ranked inputs) by layer, then by rank within it: a counting
/// sort by layer, stable, so the ranking is kept inside each layer. Left-out customers are
/// not members.
fn pyramid_order(layer_of: &[usize], layers: usize) -> Vec<usize> {
    let mut buckets: Vec<Vec<usize>> = vec![Vec::new(); layers];
    for (i, &l) in layer_of.iter().enumerate() {
        if let Some(b) = buckets.get_mut(l) {
            b.push(i);
        }
    }
    buckets.concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pyramid::testing::{counts, input, many, scheme, stored_run_inputs};
    use proptest::prelude::*;

    #[test]
    fn key_major_on_1000_is_exact() {
        let o = scheme("key_major").tier(many(1000));
        assert_eq!(counts(&o), [10, 190, 300, 500]);
        assert_eq!(o.members[0].customer_id.as_str(), "c00999");
        assert_eq!(o.members[0].tier, 0);
        assert_eq!(o.members[0].rank, 1);
        assert_eq!(o.members[0].percentile, 100.0);
        assert_eq!(o.members[999].percentile, 0.1);
        // Cut points: key holds metrics 990..999.
        assert_eq!(o.summary.tiers[0].min_metric, Some(990.0));
        assert_eq!(o.summary.tiers[0].max_metric, Some(999.0));
        assert_eq!(o.summary.tiers[3].min_metric, Some(0.0));
    }

    #[test]
    fn curry_on_1000_active_plus_status_layers() {
        let mut inputs = many(1000);
        for (i, status) in [
            Status::Lapsed,
            Status::Lapsed,
            Status::Target,
            Status::Suspect,
            Status::NonCustomer,
        ]
        .into_iter()
        .enumerate()
        {
            let mut c = input(&format!("s{i}"), 5000.0);
            c.status = status;
            inputs.push(c);
        }
        let o = scheme("curry").tier(inputs);
        assert_eq!(counts(&o), [10, 40, 150, 800, 2, 1, 1]);
        assert_eq!(o.excluded, 1);
        assert_eq!(o.summary.total_customers, 1004);
        // Status layers come after the ranked ones, whatever their metric.
        assert_eq!(o.members[1000].tier, 4, "inactive");
        assert_eq!(o.members[1000].rank, 1001);
    }

    #[test]
    fn cumulative_rounding_adds_up_on_awkward_sizes() {
        for n in [1usize, 2, 7, 49, 50, 150, 333] {
            let o = scheme("key_major").tier(many(n));
            assert_eq!(counts(&o).iter().sum::<u64>(), n as u64, "n = {n}");
        }
        // n = 150: key round(1.5) = 2, key+major round(30) = 30, +ordinary round(75) = 75.
        assert_eq!(
            counts(&scheme("key_major").tier(many(150))),
            [2, 28, 45, 75]
        );
        // n = 7: round(0.07) = 0, round(1.4) = 1, round(3.5) = 4.
        assert_eq!(counts(&scheme("key_major").tier(many(7))), [0, 1, 3, 3]);
        assert_eq!(counts(&scheme("key_major").tier(many(1))), [0, 0, 1, 0]);
    }

    #[test]
    fn half_up_rounding_of_whole_customers() {
        assert_eq!(round_half_up(0.49), 0);
        assert_eq!(round_half_up(0.5), 1);
        assert_eq!(round_half_up(1.5), 2);
        assert_eq!(round_half_up(2.5), 3);
        assert_eq!(round_half_up(-0.7), 0);
    }

    #[test]
    fn ties_break_by_id() {
        let inputs = vec![input("b", 1.0), input("c", 1.0), input("a", 1.0)];
        let o = scheme("key_major").tier(inputs);
        let ids: Vec<_> = o.members.iter().map(|m| m.customer_id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }

    /// The first member of curry's stored-form run, as a stored run holds it in JSON.
    const STORED_MEMBER: &str =
        r#"{"customer_id":"c00019","tier":1,"rank":1,"percentile":100.0,"metric_value":19.0}"#;

    #[test]
    fn a_stored_member_reads_back_and_is_written_the_same() {
        let o = scheme("curry").tier(stored_run_inputs());
        // 17 ranked: top round(0.17) = 0, so the best (c00019) is big, tier 1.
        let m = &o.members[0];
        assert_eq!((m.customer_id.as_str(), m.tier, m.rank), ("c00019", 1, 1));
        let stored: Member = serde_json::from_str(STORED_MEMBER).unwrap();
        assert_eq!(&stored, m);
        assert_eq!(serde_json::to_string(m).unwrap(), STORED_MEMBER);
    }

    proptest! {
        #[test]
        fn input_order_does_not_matter(metrics in proptest::collection::vec(0u8..5, 1..60), seed in any::<u64>()) {
            let inputs: Vec<TierInput> = metrics.iter().enumerate().map(|(i, m)| input(&format!("c{i:03}"), f64::from(*m))).collect();
            let mut shuffled = inputs.clone();
            // A deterministic shuffle from the seed.
            let mut s = seed | 1;
            for i in (1..shuffled.len()).rev() {
                s ^= s << 13; s ^= s >> 7; s ^= s << 17;
                shuffled.swap(i, (s % (i as u64 + 1)) as usize);
            }
            for name in ["curry", "key_major", "value_loyalty", "diamond"] {
                let a = scheme(name).tier(inputs.clone());
                let b = scheme(name).tier(shuffled.clone());
                prop_assert_eq!(a.members, b.members);
            }
        }
    }
}
