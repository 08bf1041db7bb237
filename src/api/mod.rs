//! The gRPC transport: generated protobuf types, proto ⇄ domain conversion (where all input
//! is validated), page tokens, the one error → status mapping, API keys and the one
//! authorization table, the guard layer (load shedding, deadlines), and the thin tonic
//! handlers that call the [`crate::oracle`].

pub mod auth;
pub mod authz;
pub mod codec;
pub mod convert;
pub mod error;
pub mod guard;
pub mod paging;
pub mod service;

/// Code generated from `proto/cvo/v1/*.proto`.
pub mod pb {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("cvo.v1");

    /// The encoded descriptors of the cvo protos, served by reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("cvo_descriptor");
}
