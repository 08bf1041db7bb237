//! Pure domain logic: no I/O, no wire types. Everything the service computes lives here and is
//! tested here; the API layer only converts and validates at the boundary.

pub mod clv;
pub mod customer;
pub mod id;
pub mod models;
pub mod policy;
pub mod pyramid;
pub mod score;
pub mod snapshot;
pub mod status;
pub mod words;

// The model code's former paths, kept for the callers that still use them.
pub use models as model;
pub use models::summary as rfm;
pub use models::{bgnbd, gamma_gamma};
