//! Running xuncha nodes: configuration, telemetry, serving, the local federation (`up`) and
//! demo data. Binaries and tests start nodes through here and get handles to drive them.

pub mod backup;
pub mod certs;
pub mod city;
pub mod config;
pub mod county;
pub mod demo;
pub mod server;
pub mod telemetry;
pub mod up;

pub use city::{CityHandle, start_city};
pub use config::{CityConfig, ConfigError, CountyConfig, LogConfig, TlsFiles};
pub use county::{CountyHandle, restore_county, start_county};

/// Runs a city replica until Ctrl-C.
pub async fn run_city(config: CityConfig) -> anyhow::Result<()> {
    telemetry::init(&config.log);
    let node = start_city(config).await?;
    tokio::signal::ctrl_c().await?;
    tracing::info!("stopping");
    node.stop().await;
    Ok(())
}

/// Runs a county node until Ctrl-C.
pub async fn run_county(config: CountyConfig) -> anyhow::Result<()> {
    telemetry::init(&config.log);
    let node = start_county(config).await?;
    tokio::signal::ctrl_c().await?;
    tracing::info!("stopping");
    node.stop().await;
    Ok(())
}
