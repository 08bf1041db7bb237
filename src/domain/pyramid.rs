//! Tiering a portfolio: the customer pyramid (brief §5).
//!
//! A run ranks the portfolio's customers by a metric and cuts the ranking into the layers of a
//! scheme. Every scheme is a list of layers in pyramid order (the top first). A layer is either
//! a **rule layer**, which takes customers by what they are (a status, negative profit or poor
//! credit), or a **ranked layer**, which takes a slice of the ranking.
//!
//! # How a run is cut
//! 1. Rule layers are applied first, in layer order: a customer goes to the first rule layer
//!    that matches, wherever that layer stands in the pyramid (diamond's `problem` layer is at
//!    the bottom but must catch a loss-making customer before the ranking could make them
//!    `diamond`).
//! 2. The other customers are ranked if they are active buyers (first-time, repeat, loyal);
//!    the rest (non-customers, and statuses no rule layer takes) are left out of the run and
//!    counted as `excluded`.
//! 3. The ranking orders by metric, highest first; equal metrics are ordered by customer id, so
//!    a run is the same whatever order the customers were stored in.
//! 4. Ranked layers take consecutive slices of the ranking, in layer order:
//!    - `top_fraction = f`: the fractions are cumulative; with `n` ranked customers, the first
//!      `k` fraction layers together hold `round_half_up(n × (f₁ + … + f_k))` customers. The
//!      counts therefore always add up to `n`, and are exact whenever `n × f` is whole:
//!      1,000 customers under `key_major` give exactly 10 / 190 / 300 / 500.
//!    - `min_metric = m`: the following customers whose metric is at least `m`;
//!    - no rule: every ranked customer left.
//!
//!    Ranked customers left over after the last ranked layer go into it.
//!
//! `value_loyalty` and `diamond` add two-dimensional rules (loyalty, growth, headroom) on top of
//! the ranking; see [`builtin`].
//!
//! # The summary
//! Per layer: customers, revenue, profit, their shares of the run's totals, and the cut points
//! (lowest and highest metric in the layer). For the run: the revenue and profit shares of the
//! top 20 % of the ranked customers (Curry's law 1: about 80 % of revenue), the Gini coefficient
//! of revenue over all members, and the member count. Shares are fractions of the run's totals;
//! with a total of zero or less (profit can be negative) the shares are 0.
//!
//! Ranks are 1-based over all members in pyramid order (layer by layer, by metric within a
//! layer); `percentile = 100 × (members − rank + 1) / members`, the share of members ranked at or
//! below this one: 100 for the top customer.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::customer::Customer;
use super::id::CustomerId;
use super::score::{Assessment, Flag};
use super::status::Status;

/// What customers are ranked by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    ValueScore,
    Revenue,
    Profit,
    Clv,
}

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

/// A warning sign a rule layer can select on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagRule {
    NegativeProfit,
    PoorCredit,
}

/// One layer of a scheme. At most one of `top_fraction`, `min_metric`, `statuses`, `flags`;
/// none means "every ranked customer left".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerDef {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_fraction: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_metric: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statuses: Option<Vec<Status>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<Vec<FlagRule>>,
}

impl LayerDef {
    fn is_rule(&self) -> bool {
        self.statuses.is_some() || self.flags.is_some()
    }

    fn matches(&self, c: &TierInput) -> bool {
        self.statuses
            .as_ref()
            .is_some_and(|s| s.contains(&c.status))
            || self.flags.as_ref().is_some_and(|fs| {
                fs.iter().any(|f| match f {
                    FlagRule::NegativeProfit => c.negative_profit,
                    FlagRule::PoorCredit => c.poor_credit,
                })
            })
    }

    /// The rule in words, for ListSchemes.
    pub fn rule_text(&self) -> String {
        if let Some(f) = self.top_fraction {
            format!("next {} % of the ranked customers", fmt_pct(f))
        } else if let Some(m) = self.min_metric {
            format!("ranked customers with metric >= {m}")
        } else if let Some(s) = &self.statuses {
            let names: Vec<&str> = s.iter().map(|s| s.as_str()).collect();
            format!("status {}", names.join(" or "))
        } else if let Some(f) = &self.flags {
            let names: Vec<&str> = f
                .iter()
                .map(|f| match f {
                    FlagRule::NegativeProfit => "negative profit",
                    FlagRule::PoorCredit => "poor credit",
                })
                .collect();
            names.join(" or ")
        } else {
            "every ranked customer left".to_owned()
        }
    }
}

fn fmt_pct(f: f64) -> String {
    let p = f * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{}", p.round())
    } else {
        format!("{p}")
    }
}

/// Parameters of the HSBC value × loyalty matrix.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValueLoyaltyParams {
    /// Share of the ranked customers that is "high value" (the top of the ranking).
    pub high_value_fraction: f64,
    /// Loyalty (0-10) at or above which a customer is "high loyalty"; unknown loyalty is low.
    pub high_loyalty: f64,
    /// Customers with at most this many purchases are dormant (as are lapsed ones).
    pub dormant_max_purchases: u64,
}

impl Default for ValueLoyaltyParams {
    fn default() -> Self {
        Self {
            high_value_fraction: 0.2,
            high_loyalty: 7.0,
            dormant_max_purchases: 1,
        }
    }
}

/// How a scheme cuts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum SchemeKind {
    /// Rule layers and ranked layers, as the module docs describe.
    Layered,
    /// HSBC: top, high_value, loyal, small, dormant.
    ValueLoyalty(ValueLoyaltyParams),
    /// Seed 004: diamond, gold, strategic, potential, general, problem.
    Diamond,
}

/// A tiering scheme.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scheme {
    pub name: String,
    pub description: String,
    pub builtin: bool,
    pub kind: SchemeKind,
    /// In pyramid order, the top first.
    pub layers: Vec<LayerDef>,
}

/// A custom scheme as written in the configuration file (`[[schemes]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemeConfig {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub layers: Vec<LayerDef>,
}

/// Why a scheme definition cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scheme {scheme:?}: {reason}")]
pub struct SchemeError {
    pub scheme: String,
    pub reason: String,
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl SchemeConfig {
    /// Validates the definition and makes it a scheme.
    pub fn into_scheme(self) -> Result<Scheme, SchemeError> {
        let err = |reason: String| SchemeError {
            scheme: self.name.clone(),
            reason,
        };
        if !valid_name(&self.name) {
            return Err(err("a name is 1-64 characters of a-z 0-9 _".to_owned()));
        }
        if self.layers.is_empty() {
            return Err(err("needs at least one layer".to_owned()));
        }
        let mut seen = std::collections::HashSet::new();
        let mut fractions = 0.0;
        let mut ranked = 0;
        for l in &self.layers {
            if !valid_name(&l.name) {
                return Err(err(format!(
                    "layer {:?}: a name is 1-64 characters of a-z 0-9 _",
                    l.name
                )));
            }
            if !seen.insert(l.name.clone()) {
                return Err(err(format!("layer {:?} appears twice", l.name)));
            }
            let rules = [
                l.top_fraction.is_some(),
                l.min_metric.is_some(),
                l.statuses.is_some(),
                l.flags.is_some(),
            ]
            .iter()
            .filter(|x| **x)
            .count();
            if rules > 1 {
                return Err(err(format!(
                    "layer {:?}: give at most one of top_fraction, min_metric, statuses, flags",
                    l.name
                )));
            }
            if let Some(f) = l.top_fraction {
                if !(f > 0.0 && f <= 1.0) {
                    return Err(err(format!(
                        "layer {:?}: top_fraction {f} is outside (0, 1]",
                        l.name
                    )));
                }
                fractions += f;
            }
            if l.min_metric.is_some_and(|m| !m.is_finite()) {
                return Err(err(format!(
                    "layer {:?}: min_metric must be finite",
                    l.name
                )));
            }
            if l.statuses.as_ref().is_some_and(Vec::is_empty)
                || l.flags.as_ref().is_some_and(Vec::is_empty)
            {
                return Err(err(format!("layer {:?}: an empty rule list", l.name)));
            }
            if !l.is_rule() {
                ranked += 1;
            }
        }
        if fractions > 1.0 + 1e-9 {
            return Err(err(format!(
                "top fractions add up to {fractions}, more than 1"
            )));
        }
        if ranked == 0 {
            return Err(err(
                "needs at least one ranked layer (without statuses or flags)".to_owned(),
            ));
        }
        Ok(Scheme {
            name: self.name,
            description: self.description,
            builtin: false,
            kind: SchemeKind::Layered,
            layers: self.layers,
        })
    }
}

fn ranked(name: &str, description: &str, top_fraction: Option<f64>) -> LayerDef {
    LayerDef {
        name: name.to_owned(),
        description: description.to_owned(),
        top_fraction,
        min_metric: None,
        statuses: None,
        flags: None,
    }
}

fn by_status(name: &str, description: &str, statuses: &[Status]) -> LayerDef {
    LayerDef {
        statuses: Some(statuses.to_vec()),
        ..ranked(name, description, None)
    }
}

fn by_flags(name: &str, description: &str, flags: &[FlagRule]) -> LayerDef {
    LayerDef {
        flags: Some(flags.to_vec()),
        ..ranked(name, description, None)
    }
}

/// The built-in schemes: `curry`, `key_major`, `value_loyalty`, `diamond`.
///
/// - `curry` (seeds 000, 001): active customers top 1 %, big 4 %, medium 15 %, small 80 %; then
///   `inactive` (lapsed), `prospect` (target), `suspect`. Non-customers are excluded.
/// - `key_major` (seed 002): key 1 %, major 19 %, ordinary 30 %, small 50 % of the active
///   customers; key + major are the critical 20 %. Customers who are not active buyers are
///   excluded (the grading is of customers who buy).
/// - `value_loyalty` (seed 004, HSBC): `dormant` takes lapsed customers and those with at most
///   one purchase; the other active customers are high value if in the top 20 % of the ranking,
///   high loyalty with loyalty ≥ 7: `top` (high, high), `high_value` (high value, low loyalty),
///   `loyal` (low value, high loyalty), `small` (low, low).
/// - `diamond` (seed 004): `problem` takes negative profit or poor credit first; of the other
///   active customers `diamond` is the top 1 % and `gold` the next 4 %; of the rest,
///   `strategic` are those with at least as much category spend left to win as we have
///   (headroom ≥ revenue) who are gaining share (revenue growth above their own growth),
///   `potential` those with revenue rising or headroom ≥ revenue, and `general` the others.
pub fn builtin() -> Vec<Scheme> {
    vec![
        Scheme {
            name: "curry".into(),
            description: "Jay Curry's customer pyramid".into(),
            builtin: true,
            kind: SchemeKind::Layered,
            layers: vec![
                ranked("top", "top 1 % of active customers", Some(0.01)),
                ranked("big", "next 4 %", Some(0.04)),
                ranked("medium", "next 15 %", Some(0.15)),
                ranked("small", "the other 80 %", None),
                by_status(
                    "inactive",
                    "bought before, not within the inactivity window",
                    &[Status::Lapsed],
                ),
                by_status(
                    "prospect",
                    "qualified or pursued, no purchase yet",
                    &[Status::Target],
                ),
                by_status("suspect", "no purchase, not qualified", &[Status::Suspect]),
            ],
        },
        Scheme {
            name: "key_major".into(),
            description:
                "Key / major / ordinary / small grading; key + major are the critical 20 %".into(),
            builtin: true,
            kind: SchemeKind::Layered,
            layers: vec![
                ranked("key", "top 1 %", Some(0.01)),
                ranked("major", "next 19 %", Some(0.19)),
                ranked("ordinary", "next 30 %", Some(0.30)),
                ranked("small", "bottom 50 %", None),
            ],
        },
        Scheme {
            name: "value_loyalty".into(),
            description: "HSBC value x loyalty matrix".into(),
            builtin: true,
            kind: SchemeKind::ValueLoyalty(ValueLoyaltyParams::default()),
            layers: vec![
                ranked("top", "high value, high loyalty", None),
                ranked("high_value", "high value, low loyalty", None),
                ranked("loyal", "low value, high loyalty", None),
                ranked("small", "low value, low loyalty", None),
                ranked("dormant", "lapsed or at most one purchase", None),
            ],
        },
        Scheme {
            name: "diamond".into(),
            description: "Diamond / gold / strategic / potential / general / problem".into(),
            builtin: true,
            kind: SchemeKind::Diamond,
            layers: vec![
                ranked("diamond", "top 1 % of active customers", Some(0.01)),
                ranked("gold", "next 4 %", Some(0.04)),
                ranked("strategic", "headroom >= revenue and gaining share", None),
                ranked("potential", "revenue rising or headroom >= revenue", None),
                ranked("general", "the other active customers", None),
                by_flags(
                    "problem",
                    "negative profit or poor credit",
                    &[FlagRule::NegativeProfit, FlagRule::PoorCredit],
                ),
            ],
        },
    ]
}

/// The built-in schemes followed by the configured ones, each validated; a configured scheme
/// may not reuse a built-in name.
pub fn schemes(custom: Vec<SchemeConfig>) -> Result<Vec<Scheme>, SchemeError> {
    let mut all = builtin();
    for c in custom {
        let s = c.into_scheme()?;
        if all.iter().any(|x| x.name == s.name) {
            return Err(SchemeError {
                scheme: s.name,
                reason: "the name is taken by another scheme".to_owned(),
            });
        }
        all.push(s);
    }
    Ok(all)
}

/// `round(x)` with halves rounded up, for whole customers.
fn round_half_up(x: f64) -> usize {
    (x + 0.5).floor().max(0.0) as usize
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

/// What real-time placement of a new score needs from a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CutPoints {
    pub scheme: Scheme,
    /// Lowest metric of each ranked layer of the run (by layer index); `None` when empty.
    pub min_metric: Vec<Option<f64>>,
    /// value_loyalty: the lowest metric that counted as high value.
    pub high_value_cut: Option<f64>,
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

/// Orders by metric, highest first, then by id.
fn by_rank(a: &TierInput, b: &TierInput) -> std::cmp::Ordering {
    b.metric
        .total_cmp(&a.metric)
        .then_with(|| a.customer_id.cmp(&b.customer_id))
}

/// Diamond's rules for the active customers below gold.
fn diamond_layer(c: &TierInput) -> usize {
    let room = c.headroom.is_some_and(|h| h >= c.revenue && h > 0.0);
    let gaining = match (c.revenue_growth, c.own_growth) {
        (Some(g), Some(own)) => g > own,
        _ => false,
    };
    let rising = c.revenue_growth.is_some_and(|g| g > 0.0);
    if room && gaining {
        2 // strategic
    } else if rising || room {
        3 // potential
    } else {
        4 // general
    }
}

impl Scheme {
    /// Tiers `inputs` (in any order; ids unique).
    pub fn tier(&self, mut inputs: Vec<TierInput>) -> TierOutcome {
        let layers = self.layers.len();
        // Layer of each input; usize::MAX = excluded.
        let mut layer_of: Vec<usize> = vec![usize::MAX; inputs.len()];
        // Ids are unique, so the order is total and an unstable sort gives the same result.
        inputs.sort_unstable_by(by_rank);

        // Rule layers first (for the layered and diamond kinds).
        let mut ranked_idx: Vec<usize> = Vec::with_capacity(inputs.len());
        for (i, c) in inputs.iter().enumerate() {
            let rule = match &self.kind {
                SchemeKind::ValueLoyalty(p) => (c.status == Status::Lapsed
                    || (c.status.is_active() && c.purchases <= p.dormant_max_purchases))
                    .then_some(layers - 1),
                _ => self.layers.iter().position(|l| l.is_rule() && l.matches(c)),
            };
            match rule {
                Some(l) => layer_of[i] = l,
                None if c.status.is_active() => ranked_idx.push(i),
                None => {}
            }
        }
        let n = ranked_idx.len();
        let mut high_value_cut = None;
        match &self.kind {
            SchemeKind::Layered | SchemeKind::Diamond => {
                let ranked_layers: Vec<usize> =
                    (0..layers).filter(|&l| !self.layers[l].is_rule()).collect();
                let mut pos = 0;
                let mut cumulative = 0.0;
                let mut last = None;
                for &l in &ranked_layers {
                    let def = &self.layers[l];
                    if matches!(self.kind, SchemeKind::Diamond) && def.top_fraction.is_none() {
                        break;
                    }
                    let end = if let Some(f) = def.top_fraction {
                        cumulative += f;
                        round_half_up(n as f64 * cumulative).clamp(pos, n)
                    } else if let Some(m) = def.min_metric {
                        let mut e = pos;
                        while e < n && inputs[ranked_idx[e]].metric >= m {
                            e += 1;
                        }
                        e
                    } else {
                        n
                    };
                    for &i in &ranked_idx[pos..end] {
                        layer_of[i] = l;
                    }
                    pos = end;
                    last = Some(l);
                }
                if matches!(self.kind, SchemeKind::Diamond) {
                    for &i in &ranked_idx[pos..] {
                        layer_of[i] = diamond_layer(&inputs[i]);
                    }
                } else if let Some(l) = last {
                    for &i in &ranked_idx[pos..] {
                        layer_of[i] = l;
                    }
                }
            }
            SchemeKind::ValueLoyalty(p) => {
                let high = round_half_up(n as f64 * p.high_value_fraction).min(n);
                if high > 0 {
                    high_value_cut = Some(inputs[ranked_idx[high - 1]].metric);
                }
                for (r, &i) in ranked_idx.iter().enumerate() {
                    let loyal = inputs[i].loyalty.is_some_and(|l| l >= p.high_loyalty);
                    layer_of[i] = match (r < high, loyal) {
                        (true, true) => 0,
                        (true, false) => 1,
                        (false, true) => 2,
                        (false, false) => 3,
                    };
                }
            }
        }

        // Members in pyramid order: by layer, then by rank within it (inputs are sorted).
        // A counting sort by layer: stable, so the ranking is kept inside each layer.
        let mut buckets: Vec<Vec<usize>> = vec![Vec::new(); layers];
        for (i, &l) in layer_of.iter().enumerate() {
            if let Some(b) = buckets.get_mut(l) {
                b.push(i);
            }
        }
        let order: Vec<usize> = buckets.concat();
        let excluded = (inputs.len() - order.len()) as u64;
        let total = order.len();

        // One pass over the members for the per-layer totals and Gini; the top-20 % shares
        // follow the ranking of the ranked customers.
        let mut stats: Vec<TierStats> = self
            .layers
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
        let (mut total_revenue, mut total_profit) = (0.0, 0.0);
        let mut members = Vec::with_capacity(total);
        for (pos, &i) in order.iter().enumerate() {
            let c = &inputs[i];
            let s = &mut stats[layer_of[i]];
            s.customers += 1;
            s.revenue += c.revenue;
            s.profit += c.profit;
            s.min_metric = Some(s.min_metric.map_or(c.metric, |m: f64| m.min(c.metric)));
            s.max_metric = Some(s.max_metric.map_or(c.metric, |m: f64| m.max(c.metric)));
            total_revenue += c.revenue;
            total_profit += c.profit;
            let rank = pos as u64 + 1;
            members.push(Member {
                customer_id: c.customer_id.clone(),
                tier: layer_of[i] as u32,
                rank,
                percentile: 100.0 * (total as f64 - pos as f64) / total as f64,
                metric_value: c.metric,
            });
        }
        let share = |x: f64, t: f64| if t > 0.0 { x / t } else { 0.0 };
        for s in &mut stats {
            s.revenue_share = share(s.revenue, total_revenue);
            s.profit_share = share(s.profit, total_profit);
        }
        let top = round_half_up(n as f64 * 0.2).min(n);
        let (top_rev, top_profit) = ranked_idx[..top].iter().fold((0.0, 0.0), |(r, p), &i| {
            (r + inputs[i].revenue, p + inputs[i].profit)
        });
        let revenues: Vec<f64> = order.iter().map(|&i| inputs[i].revenue).collect();
        let summary = PyramidSummary {
            tiers: stats,
            top20_revenue_share: share(top_rev, total_revenue),
            top20_profit_share: share(top_profit, total_profit),
            gini_revenue: gini(revenues),
            total_customers: total as u64,
        };
        let cuts = CutPoints {
            scheme: self.clone(),
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

impl CutPoints {
    /// Places one customer into the run's layers without re-tiering: a rule layer by its rule;
    /// otherwise, for an active customer, the first ranked layer whose lowest metric the
    /// customer reaches (the last ranked layer when below every cut). value_loyalty uses the
    /// run's high-value cut and the loyalty threshold; diamond's lower layers use their rules.
    /// `None` for a customer the scheme leaves out.
    pub fn place(&self, c: &TierInput) -> Option<String> {
        let s = &self.scheme;
        let name = |i: usize| s.layers.get(i).map(|l| l.name.clone());
        match &s.kind {
            SchemeKind::ValueLoyalty(p) => {
                if c.status == Status::Lapsed
                    || (c.status.is_active() && c.purchases <= p.dormant_max_purchases)
                {
                    return name(s.layers.len() - 1);
                }
                if !c.status.is_active() {
                    return None;
                }
                let high = self.high_value_cut.is_some_and(|cut| c.metric >= cut);
                let loyal = c.loyalty.is_some_and(|l| l >= p.high_loyalty);
                name(match (high, loyal) {
                    (true, true) => 0,
                    (true, false) => 1,
                    (false, true) => 2,
                    (false, false) => 3,
                })
            }
            SchemeKind::Layered | SchemeKind::Diamond => {
                if let Some(i) = s.layers.iter().position(|l| l.is_rule() && l.matches(c)) {
                    return name(i);
                }
                if !c.status.is_active() {
                    return None;
                }
                let diamond = matches!(s.kind, SchemeKind::Diamond);
                let mut last = None;
                for (i, l) in s.layers.iter().enumerate() {
                    if l.is_rule() || (diamond && l.top_fraction.is_none()) {
                        continue;
                    }
                    if self
                        .min_metric
                        .get(i)
                        .copied()
                        .flatten()
                        .is_some_and(|m| c.metric >= m)
                    {
                        return name(i);
                    }
                    last = Some(i);
                }
                if diamond {
                    return name(diamond_layer(c));
                }
                last.and_then(name)
            }
        }
    }
}

/// Direction of one customer's move between two runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Up,
    Down,
    Entered,
    Left,
}

/// One customer whose tier changed, or who entered or left.
#[derive(Debug, Clone, PartialEq)]
pub struct Move {
    pub customer_id: CustomerId,
    pub from_tier: Option<String>,
    pub to_tier: Option<String>,
    pub direction: Direction,
}

/// Customer flow between two runs of one scheme.
#[derive(Debug, Clone, PartialEq)]
pub struct Migration {
    pub tiers: Vec<String>,
    /// `matrix[from][to]`: customers in tier `from` in the first run and `to` in the second.
    pub matrix: Vec<Vec<u64>>,
    pub up: u64,
    pub down: u64,
    pub unchanged: u64,
    pub entered: u64,
    pub left: u64,
    /// Ordered by customer id.
    pub movers: Vec<Move>,
}

/// Compares two runs of the same scheme (`tiers` in pyramid order): the flow matrix, and who
/// moved up (to a tier nearer the top), down, entered or left.
pub fn compare(tiers: &[String], from: &[Member], to: &[Member]) -> Migration {
    let k = tiers.len();
    let mut m = Migration {
        tiers: tiers.to_vec(),
        matrix: vec![vec![0; k]; k],
        up: 0,
        down: 0,
        unchanged: 0,
        entered: 0,
        left: 0,
        movers: Vec::new(),
    };
    let tier = |x: &Member| Some(x.tier as usize).filter(|&t| t < k);
    let before: HashMap<&CustomerId, usize> = from
        .iter()
        .filter_map(|x| tier(x).map(|t| (&x.customer_id, t)))
        .collect();
    let mut seen = std::collections::HashSet::with_capacity(to.len());
    for x in to {
        let Some(t) = tier(x) else { continue };
        seen.insert(&x.customer_id);
        let (direction, from_tier) = match before.get(&x.customer_id) {
            Some(&f) => {
                m.matrix[f][t] += 1;
                match t.cmp(&f) {
                    std::cmp::Ordering::Less => {
                        m.up += 1;
                        (Direction::Up, Some(tiers[f].clone()))
                    }
                    std::cmp::Ordering::Greater => {
                        m.down += 1;
                        (Direction::Down, Some(tiers[f].clone()))
                    }
                    std::cmp::Ordering::Equal => {
                        m.unchanged += 1;
                        continue;
                    }
                }
            }
            None => {
                m.entered += 1;
                (Direction::Entered, None)
            }
        };
        m.movers.push(Move {
            customer_id: x.customer_id.clone(),
            from_tier,
            to_tier: Some(tiers[t].clone()),
            direction,
        });
    }
    for x in from {
        if let Some(f) = tier(x) {
            if !seen.contains(&x.customer_id) {
                m.left += 1;
                m.movers.push(Move {
                    customer_id: x.customer_id.clone(),
                    from_tier: Some(tiers[f].clone()),
                    to_tier: None,
                    direction: Direction::Left,
                });
            }
        }
    }
    m.movers.sort_by(|a, b| a.customer_id.cmp(&b.customer_id));
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn input(id: &str, metric: f64) -> TierInput {
        TierInput {
            customer_id: CustomerId::parse(id).unwrap(),
            metric,
            revenue: metric,
            profit: metric / 10.0,
            status: Status::Repeat,
            negative_profit: false,
            poor_credit: false,
            loyalty: None,
            revenue_growth: None,
            own_growth: None,
            headroom: None,
            purchases: 5,
        }
    }

    fn scheme(name: &str) -> Scheme {
        builtin().into_iter().find(|s| s.name == name).unwrap()
    }

    fn tier_of(o: &TierOutcome, id: &str) -> String {
        let m = o
            .members
            .iter()
            .find(|m| m.customer_id.as_str() == id)
            .unwrap();
        o.summary.tiers[m.tier as usize].tier.clone()
    }

    fn counts(o: &TierOutcome) -> Vec<u64> {
        o.summary.tiers.iter().map(|t| t.customers).collect()
    }

    fn many(n: usize) -> Vec<TierInput> {
        (0..n)
            .map(|i| input(&format!("c{i:05}"), i as f64))
            .collect()
    }

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
    fn ties_break_by_id() {
        let inputs = vec![input("b", 1.0), input("c", 1.0), input("a", 1.0)];
        let o = scheme("key_major").tier(inputs);
        let ids: Vec<_> = o.members.iter().map(|m| m.customer_id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }

    #[test]
    fn value_loyalty_hand_case() {
        // Ten active customers, metric 10..1; top 20 % = the two best.
        let mut inputs: Vec<TierInput> = (1..=10)
            .map(|i| input(&format!("c{i:02}"), f64::from(i)))
            .collect();
        inputs[9].loyalty = Some(9.0); // c10: high value, loyal -> top
        inputs[8].loyalty = Some(3.0); // c09: high value, not loyal -> high_value
        inputs[0].loyalty = Some(8.0); // c01: low value, loyal -> loyal
        inputs[1].purchases = 1; // c02: dormant
        inputs[2].status = Status::Lapsed; // c03: dormant
        let o = scheme("value_loyalty").tier(inputs);
        assert_eq!(counts(&o), [1, 1, 1, 5, 2]);
        let tier = |id: &str| tier_of(&o, id);
        assert_eq!(tier("c10"), "top");
        assert_eq!(tier("c09"), "high_value");
        assert_eq!(tier("c01"), "loyal");
        assert_eq!(tier("c02"), "dormant");
        assert_eq!(tier("c03"), "dormant");
        assert_eq!(tier("c05"), "small");
        // 8 ranked: round(1.6) = 2 high value; cut at c09's metric 9.
        assert_eq!(o.cuts.high_value_cut, Some(9.0));
    }

    #[test]
    fn diamond_hand_case() {
        let mut inputs = many(100);
        // The best customer loses money: problem, not diamond.
        inputs[99].negative_profit = true;
        // Strategic: room and gaining share.
        inputs[10].headroom = Some(50.0);
        inputs[10].revenue_growth = Some(0.2);
        inputs[10].own_growth = Some(0.05);
        // Potential: rising only.
        inputs[11].revenue_growth = Some(0.1);
        // Potential: room only.
        inputs[12].headroom = Some(100.0);
        // Poor credit: problem.
        inputs[13].poor_credit = true;
        let o = scheme("diamond").tier(inputs);
        // 98 ranked: diamond round(0.98) = 1, gold round(4.9) = 5 -> 4.
        assert_eq!(counts(&o), [1, 4, 1, 2, 90, 2]);
        let tier = |id: &str| tier_of(&o, id);
        assert_eq!(tier("c00099"), "problem");
        assert_eq!(tier("c00098"), "diamond");
        assert_eq!(tier("c00010"), "strategic");
        assert_eq!(tier("c00011"), "potential");
        assert_eq!(tier("c00012"), "potential");
        assert_eq!(tier("c00013"), "problem");
    }

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

    #[test]
    fn migration_on_a_hand_case() {
        let tiers: Vec<String> = ["key", "major", "small"].map(String::from).to_vec();
        let m = |id: &str, t: u32| Member {
            customer_id: CustomerId::parse(id).unwrap(),
            tier: t,
            rank: 0,
            percentile: 0.0,
            metric_value: 0.0,
        };
        let (key, major, small) = (0, 1, 2);
        let from = vec![m("a", key), m("b", major), m("c", small), m("d", small)];
        let to = vec![m("a", major), m("b", major), m("c", key), m("e", small)];
        let g = compare(&tiers, &from, &to);
        assert_eq!(g.matrix, vec![vec![0, 1, 0], vec![0, 1, 0], vec![1, 0, 0]]);
        assert_eq!(
            (g.up, g.down, g.unchanged, g.entered, g.left),
            (1, 1, 1, 1, 1)
        );
        let moves: Vec<_> = g
            .movers
            .iter()
            .map(|x| (x.customer_id.as_str(), x.direction))
            .collect();
        assert_eq!(
            moves,
            [
                ("a", Direction::Down),
                ("c", Direction::Up),
                ("d", Direction::Left),
                ("e", Direction::Entered)
            ]
        );
    }

    #[test]
    fn placement_uses_the_runs_cut_points() {
        let o = scheme("key_major").tier(many(1000));
        let mut c = input("new", 995.0);
        assert_eq!(o.cuts.place(&c).as_deref(), Some("key"));
        c.metric = 989.5;
        assert_eq!(o.cuts.place(&c).as_deref(), Some("major"));
        c.metric = -5.0;
        assert_eq!(o.cuts.place(&c).as_deref(), Some("small"));
        c.status = Status::Suspect;
        assert_eq!(o.cuts.place(&c), None);
        let curry = scheme("curry").tier(many(100));
        assert_eq!(curry.cuts.place(&c).as_deref(), Some("suspect"));
    }

    #[test]
    fn custom_scheme_from_toml() {
        #[derive(Deserialize)]
        struct File {
            schemes: Vec<SchemeConfig>,
        }
        let text = r#"
            [[schemes]]
            name = "gold_silver"
            description = "two bands and the lost"
            [[schemes.layers]]
            name = "gold"
            top_fraction = 0.1
            [[schemes.layers]]
            name = "silver"
            min_metric = 500.0
            [[schemes.layers]]
            name = "bronze"
            [[schemes.layers]]
            name = "lost"
            statuses = ["lapsed"]
        "#;
        let f: File = toml::from_str(text).unwrap();
        let s = f.schemes.into_iter().next().unwrap().into_scheme().unwrap();
        let mut inputs = many(1000);
        inputs[0].status = Status::Lapsed;
        let o = s.tier(inputs);
        // 999 ranked (metrics 1..999): gold round(99.9) = 100 (900..999), silver the ones
        // >= 500 left (500..899), bronze the rest (1..499), lost the lapsed one.
        assert_eq!(counts(&o), [100, 400, 499, 1]);
        assert_eq!(
            s.layers[1].rule_text(),
            "ranked customers with metric >= 500"
        );

        let bad = SchemeConfig {
            name: "x".into(),
            description: String::new(),
            layers: vec![LayerDef {
                top_fraction: Some(0.5),
                min_metric: Some(1.0),
                ..ranked("a", "", None)
            }],
        };
        assert!(bad
            .into_scheme()
            .unwrap_err()
            .reason
            .contains("at most one"));
        let bad = SchemeConfig {
            name: "x".into(),
            description: String::new(),
            layers: vec![ranked("a", "", Some(0.7)), ranked("b", "", Some(0.7))],
        };
        assert!(bad
            .into_scheme()
            .unwrap_err()
            .reason
            .contains("more than 1"));
        let bad = SchemeConfig {
            name: "Bad Name".into(),
            description: String::new(),
            layers: vec![ranked("a", "", None)],
        };
        assert!(bad.into_scheme().is_err());
    }

    /// Twenty customers that reach every kind of layer of the built-ins: the run the stored-form
    /// tests pin. c00000 lapsed, c00001 target, c00002 suspect, c00003 loses money, c00004 has
    /// one purchase, c00019 / c00018 / c00005 are loyal / not / loyal, c00006 is strategic and
    /// c00007 rising.
    fn stored_run_inputs() -> Vec<TierInput> {
        let mut v = many(20);
        v[0].status = Status::Lapsed;
        v[1].status = Status::Target;
        v[2].status = Status::Suspect;
        v[3].negative_profit = true;
        v[4].purchases = 1;
        v[19].loyalty = Some(9.0);
        v[18].loyalty = Some(2.0);
        v[5].loyalty = Some(8.0);
        v[6].headroom = Some(100.0);
        v[6].revenue_growth = Some(0.2);
        v[6].own_growth = Some(0.1);
        v[7].revenue_growth = Some(0.1);
        v
    }

    /// The cut points of [`stored_run_inputs`] under each built-in, exactly as a stored run
    /// holds them (the store keeps them as serde JSON).
    const STORED_CUTS: [(&str, &str); 4] = [
        (
            "curry",
            r#"{"scheme":{"name":"curry","description":"Jay Curry's customer pyramid","builtin":true,"kind":{"kind":"layered"},"layers":[{"name":"top","description":"top 1 % of active customers","top_fraction":0.01},{"name":"big","description":"next 4 %","top_fraction":0.04},{"name":"medium","description":"next 15 %","top_fraction":0.15},{"name":"small","description":"the other 80 %"},{"name":"inactive","description":"bought before, not within the inactivity window","statuses":["lapsed"]},{"name":"prospect","description":"qualified or pursued, no purchase yet","statuses":["target"]},{"name":"suspect","description":"no purchase, not qualified","statuses":["suspect"]}]},"min_metric":[null,19.0,17.0,3.0,0.0,1.0,2.0],"high_value_cut":null}"#,
        ),
        (
            "key_major",
            r#"{"scheme":{"name":"key_major","description":"Key / major / ordinary / small grading; key + major are the critical 20 %","builtin":true,"kind":{"kind":"layered"},"layers":[{"name":"key","description":"top 1 %","top_fraction":0.01},{"name":"major","description":"next 19 %","top_fraction":0.19},{"name":"ordinary","description":"next 30 %","top_fraction":0.3},{"name":"small","description":"bottom 50 %"}]},"min_metric":[null,17.0,11.0,3.0],"high_value_cut":null}"#,
        ),
        (
            "value_loyalty",
            r#"{"scheme":{"name":"value_loyalty","description":"HSBC value x loyalty matrix","builtin":true,"kind":{"kind":"value_loyalty","high_value_fraction":0.2,"high_loyalty":7.0,"dormant_max_purchases":1},"layers":[{"name":"top","description":"high value, high loyalty"},{"name":"high_value","description":"high value, low loyalty"},{"name":"loyal","description":"low value, high loyalty"},{"name":"small","description":"low value, low loyalty"},{"name":"dormant","description":"lapsed or at most one purchase"}]},"min_metric":[19.0,17.0,5.0,3.0,0.0],"high_value_cut":17.0}"#,
        ),
        (
            "diamond",
            r#"{"scheme":{"name":"diamond","description":"Diamond / gold / strategic / potential / general / problem","builtin":true,"kind":{"kind":"diamond"},"layers":[{"name":"diamond","description":"top 1 % of active customers","top_fraction":0.01},{"name":"gold","description":"next 4 %","top_fraction":0.04},{"name":"strategic","description":"headroom >= revenue and gaining share"},{"name":"potential","description":"revenue rising or headroom >= revenue"},{"name":"general","description":"the other active customers"},{"name":"problem","description":"negative profit or poor credit","flags":["negative_profit","poor_credit"]}]},"min_metric":[null,19.0,6.0,7.0,4.0,3.0],"high_value_cut":null}"#,
        ),
    ];

    #[test]
    fn stored_cut_points_read_back_as_the_builtins_and_are_written_the_same() {
        for (name, json) in STORED_CUTS {
            let stored: CutPoints = serde_json::from_str(json).unwrap();
            assert_eq!(stored.scheme, scheme(name), "{name}");
            let cuts = scheme(name).tier(stored_run_inputs()).cuts;
            assert_eq!(stored, cuts, "{name}");
            assert_eq!(serde_json::to_string(&cuts).unwrap(), json, "{name}");
        }
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

    #[test]
    fn metrics_are_stored_by_their_snake_case_names() {
        let all = [
            Metric::ValueScore,
            Metric::Revenue,
            Metric::Profit,
            Metric::Clv,
        ];
        let json = r#"["value_score","revenue","profit","clv"]"#;
        assert_eq!(serde_json::to_string(&all).unwrap(), json);
        assert_eq!(serde_json::from_str::<Vec<Metric>>(json).unwrap(), all);
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
