//! Probabilistic customer-base models (brief §8): a purchase-count model (how often a customer
//! buys, and whether they still are a customer) and a spend model (what they spend per
//! purchase), fitted per portfolio on customers' purchase summaries, and what they predict.
//!
//! Layers, each depending only on those above it:
//!
//! - [`math`]: what every model shares and nothing model-specific — the outcome of a fit
//!   ([`Fit`], with the Hessian at the optimum), [`ModelError`], the L-BFGS maximiser in
//!   log-parameter space, the grouping of equal summaries, [`hyp2f1`].
//! - [`unit`](mod@unit): the [`TimeUnit`] of the summaries.
//! - [`traits`]: the [`PurchaseCountModel`] and [`SpendModel`] traits, and the checked,
//!   grouped data they are fitted on ([`CountSummaries`], [`SpendSummaries`]).
//! - One file per model, implementing one trait on its parameters: [`bgnbd`] (BG/NBD),
//!   [`gamma_gamma`] (Gamma-Gamma).
//! - [`kinds`]: the models as data — [`PurchaseModelKind`] / [`SpendModelKind`] say which
//!   model, [`FittedPurchaseModel`] / [`FittedSpendModel`] carry a fitted one's parameters —
//!   dispatching to the trait implementations.
//! - [`clv`]: model CLV; [`fitted`]: [`FittedModels`] and predictions for any pair of
//!   models; [`portfolio`]: fitting a portfolio's models all or nothing.
//! - [`summary`]: summaries from dated transactions.
//!
//! # Adding a model
//!
//! 1. A new file here, say `pareto_nbd.rs`, with its parameters' type (`Copy`, serde) and
//!    `impl PurchaseCountModel` (or `SpendModel`) for it, using [`math`] for the fit
//!    (`fit_log_params` with the total log-likelihood over the grouped rows and its gradient)
//!    and its tests against published or `lifetimes` figures; plus its `mod` line below.
//! 2. One line in the `purchase_models!` (or `spend_models!`) list in [`kinds`]:
//!    `ParetoNbd(ParetoNbdParams) = "pareto_nbd"`. The tag is the key its parameters are
//!    stored under in a value model; it must never change once records are written.
//!
//! Everything else — predictions, model CLV, scores, storage — then works for the new model.
//! What the compiler then asks for outside the domain is the model's wire form (the proto
//! conversion of the value model).
//!
//! A discrete-time model (BG/BB: x purchases in n opportunities, the last at opportunity t_x)
//! takes the same [`CountSummaries`], with n as T; whatever more it needs of them (whole
//! numbers) its `fit` checks.

pub mod bgnbd;
pub mod clv;
pub mod fitted;
pub mod gamma_gamma;
pub mod kinds;
pub mod math;
pub mod portfolio;
pub mod summary;
pub mod traits;
pub mod unit;

pub use clv::model_clv;
pub use fitted::{predict_many, FittedModels, Prediction};
pub use kinds::{FittedPurchaseModel, FittedSpendModel, PurchaseModelKind, SpendModelKind};
pub use math::{hyp2f1, Fit, ModelError};
pub use portfolio::{fit_portfolio, PortfolioFit};
pub use traits::{CountSummaries, PurchaseCountModel, SpendModel, SpendSummaries};
pub use unit::TimeUnit;
