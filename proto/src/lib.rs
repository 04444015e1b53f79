//! The `xuncha.v1` gRPC API, generated from `proto/xuncha/v1/*.proto`.

#![allow(clippy::large_enum_variant, clippy::doc_lazy_continuation, clippy::doc_overindented_list_items)]

/// Generated messages, clients and servers of package `xuncha.v1`.
pub mod v1 {
    tonic::include_proto!("xuncha.v1");
}

/// The encoded file descriptor set, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("xuncha_v1_descriptor");
