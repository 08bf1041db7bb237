//! What a scheme is: its layers and how it cuts, the checks a configured scheme must pass, and
//! the list of schemes the service offers.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::builtin::builtin;
use super::cut::TierInput;
use crate::domain::scoring::status::Status;

/// What customers are ranked by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    ValueScore,
    Revenue,
    Profit,
    Clv,
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
    pub(super) fn is_rule(&self) -> bool {
        self.statuses.is_some() || self.flags.is_some()
    }

    pub(super) fn matches(&self, c: &TierInput) -> bool {
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
        let mut seen = HashSet::new();
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
            check_rule(l).map_err(|reason| err(format!("layer {:?}: {reason}", l.name)))?;
            if let Some(f) = l.top_fraction {
                fractions += f;
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

/// Checks one layer's rule on its own: at most one rule, a fraction in (0, 1], a finite
/// threshold, no empty list.
fn check_rule(l: &LayerDef) -> Result<(), String> {
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
        return Err("give at most one of top_fraction, min_metric, statuses, flags".to_owned());
    }
    if let Some(f) = l.top_fraction {
        if !(f > 0.0 && f <= 1.0) {
            return Err(format!("top_fraction {f} is outside (0, 1]"));
        }
    }
    if l.min_metric.is_some_and(|m| !m.is_finite()) {
        return Err("min_metric must be finite".to_owned());
    }
    if l.statuses.as_ref().is_some_and(Vec::is_empty) || l.flags.as_ref().is_some_and(Vec::is_empty)
    {
        return Err("an empty rule list".to_owned());
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pyramid::builtin::ranked;
    use crate::domain::pyramid::testing::{counts, many};

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

    #[test]
    fn a_bad_layer_is_named_in_the_reason() {
        let reason = |layer: LayerDef| {
            let c = SchemeConfig {
                name: "x".into(),
                description: String::new(),
                layers: vec![layer, ranked("rest", "", None)],
            };
            c.into_scheme().unwrap_err().reason
        };
        assert_eq!(
            reason(LayerDef {
                min_metric: Some(1.0),
                statuses: Some(vec![Status::Lapsed]),
                ..ranked("a", "", None)
            }),
            "layer \"a\": give at most one of top_fraction, min_metric, statuses, flags"
        );
        assert_eq!(
            reason(ranked("a", "", Some(1.5))),
            "layer \"a\": top_fraction 1.5 is outside (0, 1]"
        );
        assert_eq!(
            reason(LayerDef {
                min_metric: Some(f64::NAN),
                ..ranked("a", "", None)
            }),
            "layer \"a\": min_metric must be finite"
        );
        assert_eq!(
            reason(LayerDef {
                flags: Some(Vec::new()),
                ..ranked("a", "", None)
            }),
            "layer \"a\": an empty rule list"
        );
        assert_eq!(
            reason(ranked("rest", "", None)),
            "layer \"rest\" appears twice"
        );
        assert_eq!(
            reason(ranked("A", "", None)),
            "layer \"A\": a name is 1-64 characters of a-z 0-9 _"
        );
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

    #[test]
    fn a_configured_scheme_may_not_take_a_builtin_name() {
        let taken = SchemeConfig {
            name: "curry".into(),
            description: String::new(),
            layers: vec![ranked("all", "", None)],
        };
        let err = schemes(vec![taken]).unwrap_err();
        assert_eq!(err.reason, "the name is taken by another scheme");
        let own = SchemeConfig {
            name: "mine".into(),
            description: String::new(),
            layers: vec![ranked("all", "", None)],
        };
        let names: Vec<String> = schemes(vec![own])
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(
            names,
            ["curry", "key_major", "value_loyalty", "diamond", "mine"]
        );
    }
}
