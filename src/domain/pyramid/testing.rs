//! Helpers shared by the pyramid tests.

use super::{builtin, Scheme, TierInput, TierOutcome};
use crate::domain::id::CustomerId;
use crate::domain::scoring::status::Status;

/// An active repeat buyer with revenue = metric and profit a tenth of it.
pub(super) fn input(id: &str, metric: f64) -> TierInput {
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

pub(super) fn scheme(name: &str) -> Scheme {
    builtin().into_iter().find(|s| s.name == name).unwrap()
}

pub(super) fn tier_of(o: &TierOutcome, id: &str) -> String {
    let m = o
        .members
        .iter()
        .find(|m| m.customer_id.as_str() == id)
        .unwrap();
    o.summary.tiers[m.tier as usize].tier.clone()
}

pub(super) fn counts(o: &TierOutcome) -> Vec<u64> {
    o.summary.tiers.iter().map(|t| t.customers).collect()
}

/// `n` active customers c00000.. with metric 0..n-1.
pub(super) fn many(n: usize) -> Vec<TierInput> {
    (0..n)
        .map(|i| input(&format!("c{i:05}"), i as f64))
        .collect()
}

/// Twenty customers that reach every kind of layer of the built-ins: the run the stored-form
/// tests pin. c00000 lapsed, c00001 target, c00002 suspect, c00003 loses money, c00004 has
/// one purchase, c00019 / c00018 / c00005 are loyal / not / loyal, c00006 is strategic and
/// c00007 rising.
pub(super) fn stored_run_inputs() -> Vec<TierInput> {
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
