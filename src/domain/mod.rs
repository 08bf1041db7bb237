//! Pure domain logic: no I/O, no wire types. Everything the service computes lives here and is
//! tested here; the API layer only converts and validates at the boundary.

pub mod bgnbd;
pub mod clv;
pub mod customer;
pub mod gamma_gamma;
pub mod id;
pub mod model;
pub mod pyramid;
pub mod rfm;
pub mod scoring;
pub mod snapshot;

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
