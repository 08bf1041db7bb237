//! The wire side: generated protobuf types, proto ⇄ domain conversion (where all input is
//! validated), page tokens, error mapping and the tonic handlers.

pub mod codec;
pub mod convert;
pub mod error;
pub mod models;
pub mod paging;
pub mod service;
pub mod tier;

/// Code generated from `proto/cvo/v1/*.proto`.
pub mod pb {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("cvo.v1");

    /// The encoded descriptors of the cvo protos, served by reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("cvo_descriptor");
}
