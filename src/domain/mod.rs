//! Pure domain logic: no I/O, no wire types. Everything the service computes lives here and is
//! tested here; the API layer only converts and validates at the boundary.

pub mod clv;
pub mod customer;
pub mod id;
pub mod policy;
pub mod pyramid;
pub mod score;
pub mod snapshot;
pub mod status;
