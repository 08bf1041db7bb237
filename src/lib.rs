//! cvo, the customer-value oracle: a gRPC service that scores customers, keeps their values as
//! snapshots, and answers "what is this customer worth, and which tier are they in?".
//!
//! Layout: [`domain`] is the pure logic, [`store`] the persistence behind one trait, [`api`]
//! the wire types and the tonic handlers, [`config`] the configuration, and [`app`] ties them
//! into a server that can be started on any listener (tests use port 0).

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod domain;
pub mod middleware;
pub mod store;
