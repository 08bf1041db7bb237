//! The four built-in schemes, and the rules of the two-dimensional ones.
//!
//! `value_loyalty` and `diamond` send customers to layers by rules written in code (loyalty,
//! growth, headroom, purchases). Such a rule yields a class ([`ValueLoyaltyClass`],
//! [`DiamondClass`]), and a class goes to the layer *of its name* in the scheme, looked up once
//! per run ([`ClassLayers`]): reordering the layers of a definition cannot move a class into a
//! neighbour's layer, and a class whose layer is missing (a rename) takes nobody rather than
//! somebody else's layer. The tests pin that every class names a layer of its built-in.

use std::marker::PhantomData;

use super::cut::TierInput;
use super::scheme::{FlagRule, LayerDef, Scheme, SchemeKind, ValueLoyaltyParams};
use crate::domain::scoring::status::Status;

pub(super) fn ranked(name: &str, description: &str, top_fraction: Option<f64>) -> LayerDef {
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

/// A class that a built-in's rule written in code puts a customer in; it goes to the layer
/// named [`layer_name`](Class::layer_name).
pub(super) trait Class: Copy + 'static {
    /// Every class, each at its [`index`](Class::index).
    const ALL: &'static [Self];
    fn index(self) -> usize;
    fn layer_name(self) -> &'static str;
}

/// Where each class of `C` sits in one scheme's layers. Looked up by name once per run, so
/// that sending a customer to its layer is an array index, not a string comparison.
#[derive(Debug, Clone)]
pub(super) struct ClassLayers<C> {
    at: Vec<Option<usize>>,
    class: PhantomData<C>,
}

impl<C: Class> ClassLayers<C> {
    pub(super) fn of(scheme: &Scheme) -> Self {
        let at = C::ALL
            .iter()
            .map(|c| scheme.layers.iter().position(|l| l.name == c.layer_name()))
            .collect();
        Self {
            at,
            class: PhantomData,
        }
    }

    /// The layer index of `class`; `None` when the scheme has no layer of its name.
    #[inline]
    pub(super) fn layer(&self, class: C) -> Option<usize> {
        self.at[class.index()]
    }
}

/// The cells of the HSBC value × loyalty matrix, and `dormant` for those too quiet to judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ValueLoyaltyClass {
    Top,
    HighValue,
    Loyal,
    Small,
    Dormant,
}

impl Class for ValueLoyaltyClass {
    const ALL: &'static [Self] = &[
        Self::Top,
        Self::HighValue,
        Self::Loyal,
        Self::Small,
        Self::Dormant,
    ];

    fn index(self) -> usize {
        self as usize
    }

    fn layer_name(self) -> &'static str {
        match self {
            Self::Top => "top",
            Self::HighValue => "high_value",
            Self::Loyal => "loyal",
            Self::Small => "small",
            Self::Dormant => "dormant",
        }
    }
}

impl ValueLoyaltyClass {
    /// Lapsed customers, and active ones with too few purchases to judge, are dormant; this
    /// comes before the ranking, so they do not take places in the high-value share.
    #[inline]
    pub(super) fn is_dormant(c: &TierInput, p: &ValueLoyaltyParams) -> bool {
        c.status == Status::Lapsed
            || (c.status.is_active() && c.purchases <= p.dormant_max_purchases)
    }

    /// The matrix cell of a ranked (not dormant) customer; unknown loyalty is low.
    #[inline]
    pub(super) fn of_ranked(high_value: bool, c: &TierInput, p: &ValueLoyaltyParams) -> Self {
        let loyal = c.loyalty.is_some_and(|l| l >= p.high_loyalty);
        match (high_value, loyal) {
            (true, true) => Self::Top,
            (true, false) => Self::HighValue,
            (false, true) => Self::Loyal,
            (false, false) => Self::Small,
        }
    }
}

/// Diamond's classes below gold. `diamond` and `gold` are the scheme's top-fraction layers and
/// `problem` its flag layer, found by their rules like any layered scheme's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DiamondClass {
    Strategic,
    Potential,
    General,
}

impl Class for DiamondClass {
    const ALL: &'static [Self] = &[Self::Strategic, Self::Potential, Self::General];

    fn index(self) -> usize {
        self as usize
    }

    fn layer_name(self) -> &'static str {
        match self {
            Self::Strategic => "strategic",
            Self::Potential => "potential",
            Self::General => "general",
        }
    }
}

impl DiamondClass {
    /// Diamond's rules for the active customers below gold: room to grow (headroom at least
    /// the revenue) and gaining share is strategic; rising revenue or room alone is potential.
    #[inline]
    pub(super) fn of(c: &TierInput) -> Self {
        let room = c.headroom.is_some_and(|h| h >= c.revenue && h > 0.0);
        let gaining = match (c.revenue_growth, c.own_growth) {
            (Some(g), Some(own)) => g > own,
            _ => false,
        };
        let rising = c.revenue_growth.is_some_and(|g| g > 0.0);
        if room && gaining {
            Self::Strategic
        } else if rising || room {
            Self::Potential
        } else {
            Self::General
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pyramid::testing::{
        counts, input, many, scheme, stored_run_inputs, tier_of,
    };
    use crate::domain::pyramid::TierOutcome;

    /// Ten active customers, metric 10..1, for value_loyalty's hand case.
    fn value_loyalty_inputs() -> Vec<TierInput> {
        let mut inputs: Vec<TierInput> = (1..=10)
            .map(|i| input(&format!("c{i:02}"), f64::from(i)))
            .collect();
        inputs[9].loyalty = Some(9.0); // c10: high value, loyal -> top
        inputs[8].loyalty = Some(3.0); // c09: high value, not loyal -> high_value
        inputs[0].loyalty = Some(8.0); // c01: low value, loyal -> loyal
        inputs[1].purchases = 1; // c02: dormant
        inputs[2].status = Status::Lapsed; // c03: dormant
        inputs
    }

    /// A hundred active customers for diamond's hand case.
    fn diamond_inputs() -> Vec<TierInput> {
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
        inputs
    }

    #[test]
    fn value_loyalty_hand_case() {
        // Top 20 % = the two best.
        let o = scheme("value_loyalty").tier(value_loyalty_inputs());
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
        let o = scheme("diamond").tier(diamond_inputs());
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
    fn every_class_names_one_layer_of_its_builtin() {
        fn check<C: Class + std::fmt::Debug>(s: &Scheme) {
            for (i, &c) in C::ALL.iter().enumerate() {
                assert_eq!(c.index(), i, "{c:?}");
                let named = s.layers.iter().filter(|l| l.name == c.layer_name());
                assert_eq!(named.count(), 1, "{}: {c:?}", s.name);
                assert!(ClassLayers::<C>::of(s).layer(c).is_some());
            }
        }
        check::<ValueLoyaltyClass>(&scheme("value_loyalty"));
        check::<DiamondClass>(&scheme("diamond"));
    }

    /// Each member's tier name, by id.
    fn named_tiers(o: &TierOutcome) -> Vec<(String, String)> {
        let mut v: Vec<_> = o
            .members
            .iter()
            .map(|m| {
                let id = m.customer_id.as_str();
                (id.to_owned(), tier_of(o, id))
            })
            .collect();
        v.sort();
        v
    }

    /// `name`'s layers in the order `order` gives (the layer names).
    fn reordered(name: &str, order: &[&str]) -> Scheme {
        let mut s = scheme(name);
        let layer = |n: &&str| s.layers.iter().find(|l| l.name == *n).unwrap().clone();
        let layers = order.iter().map(layer).collect();
        s.layers = layers;
        s
    }

    #[test]
    fn reordered_layers_keep_every_customer_in_the_layer_of_its_name() {
        // Upside down: dormant on top, top at the bottom. Diamond keeps diamond above gold,
        // since top-fraction layers take their slices in pyramid order.
        let cases = [
            (
                "value_loyalty",
                reordered(
                    "value_loyalty",
                    &["dormant", "small", "loyal", "high_value", "top"],
                ),
                value_loyalty_inputs(),
            ),
            (
                "diamond",
                reordered(
                    "diamond",
                    &[
                        "problem",
                        "general",
                        "diamond",
                        "potential",
                        "gold",
                        "strategic",
                    ],
                ),
                diamond_inputs(),
            ),
        ];
        for (name, moved, inputs) in cases {
            for inputs in [inputs, stored_run_inputs()] {
                let a = scheme(name).tier(inputs.clone());
                let b = moved.tier(inputs.clone());
                assert_eq!(named_tiers(&a), named_tiers(&b), "{name}");
                assert_eq!(a.excluded, b.excluded, "{name}");
                for c in &inputs {
                    assert_eq!(a.cuts.place(c), b.cuts.place(c), "{name}");
                }
            }
        }
        // By hand, upside down: c02 and c03 are dormant, now the first layer.
        let o = reordered(
            "value_loyalty",
            &["dormant", "small", "loyal", "high_value", "top"],
        )
        .tier(value_loyalty_inputs());
        assert_eq!(counts(&o), [2, 5, 1, 1, 1]);
        assert_eq!(o.members[0].customer_id.as_str(), "c03");
        assert_eq!(tier_of(&o, "c10"), "top");
    }

    #[test]
    fn a_class_whose_layer_is_renamed_takes_nobody_elses_layer() {
        // Diamond's strategic layer renamed: the strategic customer is left out, and the
        // renamed layer (a ranked layer without a rule of its own) stays empty.
        let mut s = scheme("diamond");
        s.layers[2].name = "strategy".into();
        let o = s.tier(diamond_inputs());
        assert_eq!(counts(&o), [1, 4, 0, 2, 90, 2]);
        assert_eq!(o.excluded, 1);
        assert!(o.members.iter().all(|m| m.customer_id.as_str() != "c00010"));
        assert_eq!(o.cuts.place(&diamond_inputs()[10]), None);
        // value_loyalty's dormant layer renamed: the dormant are left out, not ranked, so the
        // others keep their cells.
        let mut s = scheme("value_loyalty");
        s.layers[4].name = "asleep".into();
        let o = s.tier(value_loyalty_inputs());
        assert_eq!(counts(&o), [1, 1, 1, 5, 0]);
        assert_eq!(o.excluded, 2);
        assert_eq!(o.cuts.high_value_cut, Some(9.0));
        assert_eq!(o.cuts.place(&value_loyalty_inputs()[1]), None);
    }
}
