//! cvo, the customer-value oracle: a gRPC service that scores customers, tiers portfolios into
//! the customer pyramid, serves lifetime-value models, and keeps every answer as a snapshot.
//!
//! The layers, from the inside out (each depends only on the ones above it in this list):
//! - [`domain`]: the pure logic — customers, scoring, the pyramid, the models. No I/O, no
//!   clock (today's date is a parameter), no wire types.
//! - [`clock`]: where "now" comes from; the system clock in the server, a fixed one in tests.
//! - [`store`]: the persistence contract ([`store::Store`]), its conformance suite, and the
//!   sled implementation. A write is acknowledged only once it is durable.
//! - [`oracle`]: the use cases over a store and a clock, in domain types with their own error;
//!   what every transport and tool calls.
//! - [`api`]: the gRPC transport — conversion and validation, the one error mapping, page
//!   tokens, keys and the one authorization table, and thin handlers.
//! - [`config`] (flags, environment, file) and [`app`], which builds and serves it all.

pub mod api;
pub mod app;
pub mod clock;
pub mod config;
pub mod domain;
pub mod oracle;
pub mod store;
