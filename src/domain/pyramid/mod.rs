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
//! the ranking; see [`builtin`](fn@builtin).
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
//!
//! # Where things live
//! `scheme` defines schemes and validates configured ones; `builtin` holds the four built-in
//! schemes and the rules of their two-dimensional layers; `cut` ranks and cuts a run;
//! `summary` totals it; `place` places one new customer into a finished run; `migration`
//! compares two runs.

mod builtin;
mod cut;
mod migration;
mod place;
mod scheme;
mod summary;
#[cfg(test)]
mod testing;

pub use builtin::builtin;
pub use cut::{Member, TierInput, TierOutcome};
pub use migration::{compare, Direction, Migration, Move};
pub use place::CutPoints;
pub use scheme::{
    schemes, FlagRule, LayerDef, Metric, Scheme, SchemeConfig, SchemeError, SchemeKind,
    ValueLoyaltyParams,
};
pub use summary::{gini, PyramidSummary, TierStats};
