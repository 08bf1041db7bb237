//! Pure domain logic: no I/O, no wire types. Everything the service computes lives here and is
//! tested here; the API layer only converts and validates at the boundary.

pub mod bgnbd;
pub mod clv;
pub mod customer;
pub mod gamma_gamma;
pub mod id;
pub mod model;
pub mod policy;
pub mod pyramid;
pub mod rfm;
pub mod score;
pub mod snapshot;
pub mod status;
pub mod words;
