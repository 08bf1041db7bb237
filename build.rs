//! Generates the gRPC code for `proto/cvo/v1/*.proto` and a file descriptor set for reflection.
//!
//! The protoc used is the one vendored by `protoc-bin-vendored`, so building needs no protoc
//! installed on the machine.

use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts run single-threaded; nothing else reads the environment concurrently.
    unsafe { env::set_var("PROTOC", protoc) };
    let include = protoc_bin_vendored::include_path()?;

    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    let protos: Vec<PathBuf> = std::fs::read_dir("proto/cvo/v1")?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "proto"))
        .collect();
    tonic_prost_build::configure()
        // Requests that do not decode are the caller's INVALID_ARGUMENT (see src/api/codec.rs).
        .codec_path("crate::api::codec::RequestCodec")
        .file_descriptor_set_path(out_dir.join("cvo_descriptor.bin"))
        .compile_protos(&protos, &[PathBuf::from("proto"), include])?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
