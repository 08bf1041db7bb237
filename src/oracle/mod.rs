//! The use cases: what the service does, over a [`Store`] and a [`Clock`].
//!
//! Every transport and tool goes through the [`Oracle`]: the gRPC handlers, and anything that
//! wants the same answers without the network (a batch job, a command-line tool). It takes and
//! returns domain types and its own [`OracleError`]; it knows nothing of protobuf or gRPC.
//! Input arrives already validated (the transport converts its wire types into domain types
//! and refuses what does not convert); what is checked here is what needs the store or the
//! configuration: that a customer, run or model exists, that a scheme is known, that a
//! portfolio has what an operation needs.
//!
//! One file per group of use cases: [`customers`], [`scoring`], [`tiering`], [`models`].

pub mod customers;
pub mod models;
pub mod scoring;
pub mod tiering;

use std::sync::Arc;

use crate::clock::Clock;
use crate::domain::customer::Violation;
use crate::domain::pyramid::Scheme;
use crate::domain::scoring::policy::ScoringPolicy;
use crate::store::{Store, StoreError};

/// Why a use case did not produce its answer.
#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    /// The input breaks a rule that needs the store or the configuration to check (an unknown
    /// scheme, a tier the run does not have). Each violation names the field.
    #[error("invalid input: {}", .0.iter().map(|v| format!("{}: {}", v.field, v.reason)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Violation>),
    /// A customer, value, run or model that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The portfolio lacks what the operation needs (customers to tier, a model to predict
    /// with), or a fit did not converge.
    #[error("{0}")]
    FailedPrecondition(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bug or a failed background task: nothing the caller can fix.
    #[error("{0}")]
    Internal(String),
}

impl OracleError {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid(vec![Violation::new(field, reason)])
    }
}

pub type Result<T, E = OracleError> = std::result::Result<T, E>;

/// The configuration the use cases run with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub policy: ScoringPolicy,
    /// Built-in and configured schemes, validated.
    pub schemes: Vec<Scheme>,
    /// The scheme of tiering runs that name none, and whose runs place real-time scores.
    pub default_scheme: String,
}

/// The service's use cases over one store and one clock.
pub struct Oracle {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    policy: ScoringPolicy,
    /// Computed once: it hashes the whole policy.
    policy_version: String,
    schemes: Vec<Scheme>,
    default_scheme: String,
}

impl Oracle {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, settings: Settings) -> Self {
        Self {
            store,
            clock,
            policy_version: settings.policy.version(),
            policy: settings.policy,
            schemes: settings.schemes,
            default_scheme: settings.default_scheme,
        }
    }

    pub fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    /// Today, as validation and scoring see it (see [`Clock::today`]).
    pub fn today(&self) -> time::Date {
        self.clock.today()
    }

    pub fn policy(&self) -> &ScoringPolicy {
        &self.policy
    }

    pub fn policy_version(&self) -> &str {
        &self.policy_version
    }

    /// Flushes the store (at shutdown; writes are durable on their own).
    pub async fn flush(&self) -> Result<()> {
        Ok(self.store.flush().await?)
    }
}

/// Runs CPU-heavy work (scoring a portfolio, fitting a model) off the async workers.
async fn blocking<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| OracleError::Internal(format!("{what} failed: {e}")))?
}
