//! The models the service knows, as data: which purchase-count and which spend model to fit
//! (the kinds) and a fitted one of each with its parameters, with methods that dispatch to the
//! model's trait implementation. Both lists are declared once, in the two macro calls at the
//! end of this file; a model is added there by one line (see the module docs of
//! [`super`]).
//!
//! Dispatch is a `match` on a small `Copy` enum, once per prediction; each model's likelihood
//! loops are its own monomorphic code, so no call inside a fit goes through the enum.

use serde::{Deserialize, Serialize};

use super::bgnbd::BgNbdParams;
use super::gamma_gamma::GammaGammaParams;
use super::math::{Fit, ModelError};
use super::traits::{CountSummaries, PurchaseCountModel, SpendModel, SpendSummaries};

/// Declares the purchase-count models: `Variant(Params) = "tag"`, where `Params` implements
/// [`PurchaseCountModel`] and `tag` is the key its parameters are stored under.
macro_rules! purchase_models {
    ($($(#[$doc:meta])* $variant:ident($params:ty) = $tag:literal),+ $(,)?) => {
        /// A purchase-count model, without parameters: what to fit.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum PurchaseModelKind {
            $($(#[$doc])* $variant,)+
        }

        impl PurchaseModelKind {
            /// Every purchase-count model, to choose among them.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The model's name, for messages.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => <$params as PurchaseCountModel>::NAME,)+
                }
            }

            /// Fits this model (see [`PurchaseCountModel::fit`]).
            pub fn fit(
                self,
                data: &CountSummaries,
                penalizer: f64,
            ) -> Result<Fit<FittedPurchaseModel>, ModelError> {
                match self {
                    $(Self::$variant => <$params as PurchaseCountModel>::fit(data, penalizer)
                        .map(|f| f.map(FittedPurchaseModel::$variant)),)+
                }
            }
        }

        /// A fitted purchase-count model: which one, and its parameters. In serde's
        /// external tagging, `{"<tag>": {parameters}}`; flattened into a record, the tag is
        /// a field of the record.
        #[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
        pub enum FittedPurchaseModel {
            $($(#[$doc])* #[serde(rename = $tag)] $variant($params),)+
        }

        impl FittedPurchaseModel {
            /// Which model this is.
            pub fn kind(&self) -> PurchaseModelKind {
                match self {
                    $(Self::$variant(_) => PurchaseModelKind::$variant,)+
                }
            }

            /// See [`PurchaseCountModel::log_likelihood`].
            pub fn log_likelihood(&self, x: f64, t_x: f64, t: f64) -> f64 {
                match self {
                    $(Self::$variant(m) => m.log_likelihood(x, t_x, t),)+
                }
            }

            /// See [`PurchaseCountModel::p_alive`].
            pub fn p_alive(&self, x: f64, t_x: f64, t: f64) -> f64 {
                match self {
                    $(Self::$variant(m) => m.p_alive(x, t_x, t),)+
                }
            }

            /// See [`PurchaseCountModel::expected_purchases`].
            pub fn expected_purchases(&self, horizon: f64, x: f64, t_x: f64, t: f64) -> f64 {
                match self {
                    $(Self::$variant(m) => m.expected_purchases(horizon, x, t_x, t),)+
                }
            }
        }

        $(impl From<$params> for FittedPurchaseModel {
            fn from(p: $params) -> Self {
                Self::$variant(p)
            }
        })+
    };
}

/// Declares the spend models: `Variant(Params) = "tag"`, where `Params` implements
/// [`SpendModel`] and `tag` is the key its parameters are stored under.
macro_rules! spend_models {
    ($($(#[$doc:meta])* $variant:ident($params:ty) = $tag:literal),+ $(,)?) => {
        /// A spend model, without parameters: what to fit.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum SpendModelKind {
            $($(#[$doc])* $variant,)+
        }

        impl SpendModelKind {
            /// Every spend model, to choose among them.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The model's name, for messages.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => <$params as SpendModel>::NAME,)+
                }
            }

            /// Fits this model (see [`SpendModel::fit`]).
            pub fn fit(
                self,
                data: &SpendSummaries,
                penalizer: f64,
            ) -> Result<Fit<FittedSpendModel>, ModelError> {
                match self {
                    $(Self::$variant => <$params as SpendModel>::fit(data, penalizer)
                        .map(|f| f.map(FittedSpendModel::$variant)),)+
                }
            }
        }

        /// A fitted spend model: which one, and its parameters, tagged like
        /// [`FittedPurchaseModel`].
        #[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
        pub enum FittedSpendModel {
            $($(#[$doc])* #[serde(rename = $tag)] $variant($params),)+
        }

        impl FittedSpendModel {
            /// Which model this is.
            pub fn kind(&self) -> SpendModelKind {
                match self {
                    $(Self::$variant(_) => SpendModelKind::$variant,)+
                }
            }

            /// See [`SpendModel::log_likelihood`].
            pub fn log_likelihood(&self, x: f64, m: f64) -> f64 {
                match self {
                    $(Self::$variant(s) => s.log_likelihood(x, m),)+
                }
            }

            /// See [`SpendModel::expected_average_value`].
            pub fn expected_average_value(&self, x: f64, m: f64) -> f64 {
                match self {
                    $(Self::$variant(s) => s.expected_average_value(x, m),)+
                }
            }
        }

        $(impl From<$params> for FittedSpendModel {
            fn from(p: $params) -> Self {
                Self::$variant(p)
            }
        })+
    };
}

purchase_models! {
    /// BG/NBD (Fader, Hardie & Lee 2005), lifetimes' `BetaGeoFitter`.
    BgNbd(BgNbdParams) = "bgnbd",
}

spend_models! {
    /// Gamma-Gamma (Fader & Hardie 2013), lifetimes' `GammaGammaFitter`.
    GammaGamma(GammaGammaParams) = "gamma_gamma",
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::models::bgnbd::tests::cdnow;

    const BG: BgNbdParams = BgNbdParams {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };
    const GG: GammaGammaParams = GammaGammaParams {
        p: 6.25,
        q: 3.74,
        v: 15.44,
    };

    #[test]
    fn the_enums_answer_what_their_model_answers() {
        let purchases = FittedPurchaseModel::from(BG);
        assert_eq!(purchases.kind(), PurchaseModelKind::BgNbd);
        assert_eq!(purchases.kind().name(), "BG/NBD");
        let (x, t_x, t) = (2.0, 30.43, 38.86);
        assert_eq!(purchases.p_alive(x, t_x, t), BG.p_alive(x, t_x, t));
        assert_eq!(
            purchases.expected_purchases(52.0, x, t_x, t),
            BG.expected_purchases(52.0, x, t_x, t)
        );
        assert_eq!(
            purchases.log_likelihood(x, t_x, t),
            BG.log_likelihood(x, t_x, t)
        );
        let spend = FittedSpendModel::from(GG);
        assert_eq!(spend.kind(), SpendModelKind::GammaGamma);
        assert_eq!(spend.kind().name(), "Gamma-Gamma");
        assert_eq!(
            spend.expected_average_value(x, 22.35),
            GG.expected_average_value(x, 22.35)
        );
        assert_eq!(spend.log_likelihood(x, 22.35), GG.log_likelihood(x, 22.35));
    }

    #[test]
    fn a_kind_fits_its_model() {
        let rows = cdnow();
        let counts: Vec<_> = rows.iter().map(|c| (c.0, c.1, c.2)).collect();
        let fit = PurchaseModelKind::BgNbd
            .fit(&CountSummaries::new(&counts).unwrap(), 0.0)
            .unwrap();
        let direct = super::super::bgnbd::fit_bgnbd(&counts, 0.0).unwrap();
        assert_eq!(fit, direct.map(FittedPurchaseModel::BgNbd));
        assert_eq!(fit.hessian.len(), 4);
        let spend: Vec<_> = rows.iter().map(|c| (c.0, c.3)).collect();
        let fit = SpendModelKind::GammaGamma
            .fit(&SpendSummaries::new(&spend).unwrap(), 0.0)
            .unwrap();
        let direct = super::super::gamma_gamma::fit_gamma_gamma(&spend, 0.0).unwrap();
        assert_eq!(fit, direct.map(FittedSpendModel::GammaGamma));
        assert_eq!(PurchaseModelKind::ALL, [PurchaseModelKind::BgNbd]);
        assert_eq!(SpendModelKind::ALL, [SpendModelKind::GammaGamma]);
    }

    #[test]
    fn parameters_are_stored_under_the_model_tag() {
        let json = serde_json::to_value(FittedPurchaseModel::BgNbd(BG)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}})
        );
        let json = serde_json::to_value(FittedSpendModel::GammaGamma(GG)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"gamma_gamma": {"p": 6.25, "q": 3.74, "v": 15.44}})
        );
    }
}
