//! Generates the xuncha.v1 code with the vendored protoc, so a machine with only the Rust
//! toolchain builds.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    let files: Vec<PathBuf> = std::fs::read_dir("proto/xuncha/v1")?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    let mut files: Vec<PathBuf> = files.into_iter().filter(|p| p.extension().is_some_and(|e| e == "proto")).collect();
    files.sort();
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("xuncha_v1_descriptor.bin"))
        .compile_with_config(config, &files, &[PathBuf::from("proto")])?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
