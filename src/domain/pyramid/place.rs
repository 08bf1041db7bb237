//! Real-time placement: one new customer into a finished run's layers, by the cut points the
//! run kept, without re-tiering.

use serde::{Deserialize, Serialize};

use super::builtin::{ClassLayers, DiamondClass, ValueLoyaltyClass};
use super::cut::TierInput;
use super::scheme::{Scheme, SchemeKind, ValueLoyaltyParams};

/// What real-time placement of a new score needs from a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CutPoints {
    pub scheme: Scheme,
    /// Lowest metric of each ranked layer of the run (by layer index); `None` when empty.
    pub min_metric: Vec<Option<f64>>,
    /// value_loyalty: the lowest metric that counted as high value.
    pub high_value_cut: Option<f64>,
}

impl CutPoints {
    /// Places one customer into the run's layers without re-tiering: a rule layer by its rule;
    /// otherwise, for an active customer, the first ranked layer whose lowest metric the
    /// customer reaches (the last ranked layer when below every cut). value_loyalty uses the
    /// run's high-value cut and the loyalty threshold; diamond's lower layers use their rules.
    /// `None` for a customer the scheme leaves out.
    pub fn place(&self, c: &TierInput) -> Option<String> {
        let s = &self.scheme;
        let layer = match &s.kind {
            SchemeKind::ValueLoyalty(p) => self.value_loyalty_layer(p, c),
            SchemeKind::Layered | SchemeKind::Diamond => self.layered_layer(c),
        }?;
        s.layers.get(layer).map(|l| l.name.clone())
    }

    fn value_loyalty_layer(&self, p: &ValueLoyaltyParams, c: &TierInput) -> Option<usize> {
        let classes = ClassLayers::<ValueLoyaltyClass>::of(&self.scheme);
        if ValueLoyaltyClass::is_dormant(c, p) {
            return classes.layer(ValueLoyaltyClass::Dormant);
        }
        if !c.status.is_active() {
            return None;
        }
        let high = self.high_value_cut.is_some_and(|cut| c.metric >= cut);
        classes.layer(ValueLoyaltyClass::of_ranked(high, c, p))
    }

    fn layered_layer(&self, c: &TierInput) -> Option<usize> {
        let s = &self.scheme;
        if let Some(i) = s.layers.iter().position(|l| l.is_rule() && l.matches(c)) {
            return Some(i);
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
                return Some(i);
            }
            last = Some(i);
        }
        if diamond {
            return ClassLayers::<DiamondClass>::of(s).layer(DiamondClass::of(c));
        }
        last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pyramid::testing::{input, many, scheme, stored_run_inputs, tier_of};
    use crate::domain::scoring::status::Status;

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
    fn placement_of_a_runs_own_members_finds_their_tier() {
        // Metrics are distinct, so every cut point separates the layers exactly.
        for name in ["curry", "key_major", "value_loyalty", "diamond"] {
            let o = scheme(name).tier(stored_run_inputs());
            for c in stored_run_inputs() {
                let placed = o.cuts.place(&c);
                let id = c.customer_id.as_str();
                if o.members.iter().any(|m| m.customer_id == c.customer_id) {
                    assert_eq!(placed, Some(tier_of(&o, id)), "{name}: {id}");
                } else {
                    assert_eq!(placed, None, "{name}: {id}");
                }
            }
        }
        // By hand: dormant by purchases, loyal below the high-value cut (17), a lapsed one.
        let o = scheme("value_loyalty").tier(stored_run_inputs());
        let mut c = input("new", 17.0);
        assert_eq!(o.cuts.place(&c).as_deref(), Some("high_value"));
        c.loyalty = Some(7.0);
        assert_eq!(o.cuts.place(&c).as_deref(), Some("top"));
        c.metric = 16.5;
        assert_eq!(o.cuts.place(&c).as_deref(), Some("loyal"));
        c.purchases = 1;
        assert_eq!(o.cuts.place(&c).as_deref(), Some("dormant"));
        c.status = Status::Suspect;
        assert_eq!(o.cuts.place(&c), None);
        // Diamond: below gold's cut (19), the classes decide; problem first.
        let o = scheme("diamond").tier(stored_run_inputs());
        let mut c = input("new", 18.0);
        assert_eq!(o.cuts.place(&c).as_deref(), Some("general"));
        c.headroom = Some(18.0);
        assert_eq!(o.cuts.place(&c).as_deref(), Some("potential"));
        c.revenue_growth = Some(0.1);
        c.own_growth = Some(0.0);
        assert_eq!(o.cuts.place(&c).as_deref(), Some("strategic"));
        c.metric = 19.0;
        assert_eq!(o.cuts.place(&c).as_deref(), Some("gold"));
        c.poor_credit = true;
        assert_eq!(o.cuts.place(&c).as_deref(), Some("problem"));
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
}
