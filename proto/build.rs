//! Generates the xuncha.v1 code with the vendored protoc (a machine with only the Rust toolchain
//! builds), and proto3-JSON serde impls with pbjson for `--output json`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptor = out.join("xuncha_v1_descriptor.bin");
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    let mut files: Vec<PathBuf> = std::fs::read_dir("proto/xuncha/v1")?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "proto"))
        .collect();
    files.sort();
    tonic_prost_build::configure()
        .file_descriptor_set_path(&descriptor)
        .compile_well_known_types(true)
        .extern_path(".google.protobuf", "::pbjson_types")
        .compile_with_config(config, &files, &[PathBuf::from("proto")])?;
    pbjson_build::Builder::new()
        .register_descriptors(&std::fs::read(&descriptor)?)?
        .preserve_proto_field_names()
        .emit_fields()
        .build(&[".xuncha.v1"])?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
