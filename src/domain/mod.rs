//! Pure domain logic: no I/O, no clock, no wire types. Everything the service computes lives
//! here and is tested here; the layers above only convert, store and call.
//!
//! - [`customer`], [`id`]: the customer record and the identifiers callers choose;
//! - [`scoring`]: one customer's value score, CLV, status, flags and reasons;
//! - [`clv`]: the retention-discount CLV formula;
//! - [`pyramid`]: tiering a portfolio, placing a score, comparing runs;
//! - [`models`]: the probabilistic customer-base models;
//! - [`snapshot`]: what the service keeps.

pub mod clv;
pub mod customer;
pub mod id;
pub mod models;
pub mod pyramid;
pub mod scoring;
pub mod snapshot;
