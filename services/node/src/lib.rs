//! Running xuncha nodes: configuration, telemetry, serving, the local federation (`up`) and
//! demo data. Binaries and tests start nodes through here and get handles to drive them.

pub mod backup;
pub mod certs;
pub mod city;
pub mod config;
pub mod county;
pub mod demo;
pub mod metrics;
pub mod server;
pub mod telemetry;
pub mod up;
pub mod web;

pub use city::{CityHandle, start_city};
pub use config::{CityConfig, ConfigError, CountyConfig, LogConfig, TlsFiles};
pub use county::{CountyHandle, restore_county, start_county};

/// Runs a city replica until Ctrl-C.
pub async fn run_city(config: CityConfig) -> anyhow::Result<()> {
    let telemetry = telemetry::init(&config.log);
    let node = start_city(config).await?;
    shutdown_signal().await?;
    tracing::info!("stopping");
    node.stop().await;
    telemetry.shutdown().await;
    Ok(())
}

/// Ctrl-C or SIGTERM (containers stop with SIGTERM).
async fn shutdown_signal() -> std::io::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r,
        _ = term.recv() => Ok(()),
    }
}

/// Runs a county node until Ctrl-C.
pub async fn run_county(config: CountyConfig) -> anyhow::Result<()> {
    let telemetry = telemetry::init(&config.log);
    let node = start_county(config).await?;
    shutdown_signal().await?;
    tracing::info!("stopping");
    node.stop().await;
    telemetry.shutdown().await;
    Ok(())
}
