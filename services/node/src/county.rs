//! Starting a county node: its SQLite, its API.

use std::sync::Arc;

use anyhow::Context;
use xuncha_api::{Api, LocalBackend};
use xuncha_domain::NodeId;
use xuncha_replication::sync::{SyncHandle, SyncOptions};
use xuncha_store::{Durability, Engine};

use crate::config::CountyConfig;
use crate::metrics::{self, RpcMetrics};
use crate::server::{Serving, bind, serve};

/// A running county node, for the binary and for tests.
pub struct CountyHandle {
    pub node: NodeId,
    pub config: CountyConfig,
    pub engine: Arc<Engine>,
    pub api: Api,
    /// The sync with the city, when configured.
    pub sync: Option<SyncHandle>,
    serving: Serving,
    /// The metrics endpoint, when configured.
    pub metrics: Option<(std::net::SocketAddr, tokio::task::JoinHandle<()>)>,
    /// The web app, when configured.
    pub web: Option<crate::web::WebServing>,
}

impl CountyHandle {
    /// The address the API listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.serving.addr
    }

    /// Stops syncing and serving and closes the database.
    pub async fn stop(self) {
        if let Some((_, task)) = &self.metrics {
            task.abort();
        }
        if let Some(web) = self.web {
            web.stop().await;
        }
        if let Some(sync) = self.sync {
            sync.stop().await;
        }
        self.serving.stop().await;
        self.engine.store().close().await;
    }

    /// Drops everything at once, as a crash would (the database files stay as they are).
    pub async fn kill(self) {
        self.serving.abort();
        if let Some(web) = self.web {
            web.abort();
        }
        if let Some((_, task)) = &self.metrics {
            task.abort();
        }
        if let Some(sync) = self.sync {
            sync.stop().await;
        }
    }
}

/// Opens the county's database and serves its API on `config.listen`.
pub async fn start_county(config: CountyConfig) -> anyhow::Result<CountyHandle> {
    config.validate()?;
    let node = NodeId::county(&config.county)?;
    let engine = Engine::open(&config.database(), &node, Durability::Full)
        .await
        .with_context(|| format!("opening {}", config.database().display()))?;
    let own_name = if config.name.is_empty() { config.county.clone() } else { config.name.clone() };
    let names = [("city".to_string(), "市委巡察办".to_string()), (node.to_string(), own_name)].into_iter().collect();
    let api = Api::new(Arc::new(LocalBackend::new(engine.clone())), config.auth.clone())?.with_node_names(names);
    if !config.name.is_empty() {
        let code = xuncha_domain::ids::CountyCode::parse("county", &config.county)?;
        engine.name_counties([(code, config.name.clone())].into_iter().collect()).await;
    }
    let (routes, _health, access) = xuncha_api::routes(api.clone(), None).await?;
    let listener = bind(config.listen).await.with_context(|| format!("listening on {}", config.listen))?;
    let rpc = RpcMetrics::default();
    if let Some(tls) = &config.tls {
        tls.warn_if_due_for_renewal();
    }
    // One revocation list, watched once: for calls this node serves and its sync to the city.
    let revoked = config.tls.as_ref().map(|t| t.watch_revoked());
    let node_tls = match (&config.tls, &revoked) {
        (Some(t), Some(r)) => Some(t.node_tls(r.clone())?),
        _ => None,
    };
    let access = match &revoked {
        Some(revoked) => access.with_revoked(revoked.clone()),
        None => access,
    };
    let serving = serve(listener, routes, access, node_tls.as_ref().map(|t| t.server_config()), rpc.clone())?;
    // From here on a start that fails stops what it started: it leaves no port taken.
    let metrics = match config.metrics_listen {
        Some(addr) => {
            let sources = metrics::Sources { rpc, engine: engine.clone(), replica: None, tls: node_tls.clone() };
            match metrics::serve(addr, sources).await {
                Ok(m) => Some(m),
                Err(e) => {
                    serving.stop().await;
                    return Err(e);
                }
            }
        }
        None => None,
    };
    let sync = match &node_tls {
        Some(tls) if !config.city.is_empty() => {
            let mut opts = SyncOptions::new(config.city.clone(), tls.clone());
            opts.idle_wait = std::time::Duration::from_millis(config.sync_wait_ms);
            Some(xuncha_replication::sync::start(engine.clone(), opts))
        }
        _ => None,
    };
    let site = crate::web::Site {
        node: node.clone(),
        name_zh: format!("{}委巡察办", if config.name.is_empty() { &config.county } else { &config.name }),
        county_names: Default::default(),
        sync: sync.as_ref().map(|s| s.state.clone()),
    };
    let web = match crate::web::start(config.web_listen, &api, site, node_tls.as_ref()).await {
        Ok(web) => web,
        Err(e) => {
            if let Some((_, task)) = &metrics {
                task.abort();
            }
            if let Some(sync) = sync {
                sync.stop().await;
            }
            serving.stop().await;
            return Err(e);
        }
    };
    tracing::info!(node = %node, addr = %serving.addr, data = %config.data_dir.display(), syncing = sync.is_some(), "county node serving");
    Ok(CountyHandle { node, config, engine, api, sync, serving, metrics, web })
}

/// Rebuilds a county whose disk was lost from the city's copy of its records, into the
/// (empty) data folder of `config`. Returns (changes restored, sequence it continues after).
pub async fn restore_county(config: &CountyConfig) -> anyhow::Result<(u64, u64)> {
    config.validate()?;
    let tls = config.tls.as_ref().context("restoring needs the county's certificate (tls)")?;
    anyhow::ensure!(!config.city.is_empty(), "restoring needs the city's addresses (city)");
    let node = NodeId::county(&config.county)?;
    let engine = Engine::open(&config.database(), &node, Durability::Full).await?;
    let restored = xuncha_replication::sync::restore(
        &engine,
        &SyncOptions::new(config.city.clone(), tls.node_tls(tls.watch_revoked())?),
    )
    .await;
    engine.store().close().await;
    restored
}
