//! The `xuncha.v1` gRPC API, generated from `proto/xuncha/v1/*.proto`, with proto3-JSON serde
//! impls (snake_case field names, enum names as strings) for the CLI's `--output json`.

#![allow(clippy::large_enum_variant, clippy::doc_lazy_continuation, clippy::doc_overindented_list_items)]

/// Generated messages, clients and servers of package `xuncha.v1`.
pub mod v1 {
    tonic::include_proto!("xuncha.v1");
    include!(concat!(env!("OUT_DIR"), "/xuncha.v1.serde.rs"));
}

/// The encoded file descriptor set, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("xuncha_v1_descriptor");

pub use pbjson_types::Timestamp;
