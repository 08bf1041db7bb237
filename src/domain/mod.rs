//! Pure domain logic: no I/O, no wire types. Everything the service computes lives here and is
//! tested here; the API layer only converts and validates at the boundary.

pub mod clv;
pub mod customer;
pub mod id;
pub mod models;
pub mod pyramid;
pub mod scoring;
pub mod snapshot;

// The model code's former paths, kept for the callers that still use them.
pub use models as model;
pub use models::summary as rfm;
pub use models::{bgnbd, gamma_gamma};

/// Scoring one customer, by the names it had before [`scoring`] was split by job.
pub mod score {
    pub use super::scoring::status::{lifecycle, months_before, status};
    pub use super::scoring::{
        assess, assess_quietly, saturate, Assessment, ClvMethod, Contributions, Flag,
        ModelEstimate, NEUTRAL,
    };
}

/// The scoring policy, by the path it had before it moved into [`scoring`].
pub mod policy {
    pub use super::scoring::policy::*;
}

/// Customer status and lifecycle stage, by the path they had before they moved into
/// [`scoring`].
pub mod status {
    pub use super::scoring::status::*;
}

/// The number writers of the reasons, by the path they had before they moved into [`scoring`].
pub mod words {
    pub use super::scoring::words::*;
}
