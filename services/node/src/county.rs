//! Starting a county node: its SQLite, its API.

use std::sync::Arc;

use anyhow::Context;
use xuncha_api::{Api, LocalBackend};
use xuncha_domain::NodeId;
use xuncha_store::{Durability, Engine};

use crate::config::CountyConfig;
use crate::server::{Serving, bind, serve};

/// A running county node, for the binary and for tests.
pub struct CountyHandle {
    pub node: NodeId,
    pub config: CountyConfig,
    pub engine: Arc<Engine>,
    pub api: Api,
    serving: Serving,
}

impl CountyHandle {
    /// The address the API listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.serving.addr
    }

    /// Stops serving and closes the database.
    pub async fn stop(self) {
        self.serving.stop().await;
        self.engine.store().close().await;
    }

    /// Drops everything at once, as a crash would (the database files stay as they are).
    pub fn kill(self) {
        self.serving.abort();
    }
}

/// Opens the county's database and serves its API on `config.listen`.
pub async fn start_county(config: CountyConfig) -> anyhow::Result<CountyHandle> {
    config.validate()?;
    let node = NodeId::county(&config.county)?;
    let engine = Engine::open(&config.database(), &node, Durability::Full)
        .await
        .with_context(|| format!("opening {}", config.database().display()))?;
    let api = Api::new(Arc::new(LocalBackend::new(engine.clone())));
    let (routes, _health) = xuncha_api::routes(api.clone(), None).await?;
    let listener = bind(config.listen).await.with_context(|| format!("listening on {}", config.listen))?;
    let serving = serve(listener, routes)?;
    tracing::info!(node = %node, addr = %serving.addr, data = %config.data_dir.display(), "county node serving");
    Ok(CountyHandle { node, config, engine, api, serving })
}
