//! Starting a city replica: its raft log and state, its API, raft between replicas.

use std::sync::Arc;

use anyhow::Context;
use xuncha_api::{Api, CityBackend};
use xuncha_replication::raft::{CityReplica, Peers, ReplicaOptions};

use crate::config::CityConfig;
use crate::metrics::{self, RpcMetrics};
use crate::server::{Serving, bind, serve};

/// A running city replica, for the binary and for tests.
pub struct CityHandle {
    pub config: CityConfig,
    pub replica: Arc<CityReplica>,
    pub api: Api,
    serving: Serving,
    /// The metrics endpoint, when configured.
    pub metrics: Option<(std::net::SocketAddr, tokio::task::JoinHandle<()>)>,
    /// The web app, when configured.
    pub web: Option<crate::web::WebServing>,
}

impl CityHandle {
    /// The address the replica listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.serving.addr
    }

    /// The address others reach it at.
    pub fn advertised(&self) -> String {
        self.config.advertise.clone().unwrap_or_else(|| self.addr().to_string())
    }

    /// Stops serving, stops raft, closes the databases.
    pub async fn stop(self) {
        if let Some((_, task)) = &self.metrics {
            task.abort();
        }
        if let Some(web) = self.web {
            web.stop().await;
        }
        self.serving.stop().await;
        self.replica.shutdown().await;
    }

    /// Stops at once, as a crash would: no request in flight is finished.
    pub async fn kill(self) {
        self.serving.abort();
        if let Some(web) = self.web {
            web.abort();
        }
        if let Some((_, task)) = &self.metrics {
            task.abort();
        }
        let _ = self.replica.raft.shutdown().await;
    }
}

/// A replica restored from a backup holds data its log never carried: once it leads its new
/// cluster, it snapshots that state and compacts the log, so later replicas catch up from the
/// snapshot.
async fn compact_restored(replica: Arc<CityReplica>, marker: std::path::PathBuf) {
    let led = replica
        .raft
        .wait(None)
        .metrics(
            |m| m.state == openraft::ServerState::Leader && m.last_applied.is_some(),
            "leadership of the restored cluster",
        )
        .await;
    if led.is_err() {
        return;
    }
    if let Err(e) = replica.snapshot().await {
        tracing::warn!(error = %e, "snapshot after restore");
        return;
    }
    let snapshot = replica.raft.metrics().borrow().snapshot;
    if let Some(s) = snapshot {
        let _ = replica.raft.trigger().purge_log(s.index).await;
    }
    let _ = std::fs::remove_file(&marker);
    tracing::info!("restored state snapshotted; the log behind it is compacted");
}

/// Opens the replica's data and serves its API and raft on `config.listen`.
pub async fn start_city(config: CityConfig) -> anyhow::Result<CityHandle> {
    config.validate()?;
    let listener = bind(config.listen).await.with_context(|| format!("listening on {}", config.listen))?;
    let mut config = config;
    if config.advertise.is_none() {
        config.advertise = Some(listener.local_addr()?.to_string());
    }
    // One revocation list, watched once: for calls this replica serves and those it makes.
    let revoked = config.tls.as_ref().map(|t| t.watch_revoked());
    let node_tls = match (&config.tls, &revoked) {
        (Some(t), Some(r)) => Some(t.node_tls(r.clone())?),
        _ => None,
    };
    let peers = Peers::new(node_tls.clone(), config.peer_overrides.clone());
    let replica = CityReplica::open(ReplicaOptions {
        id: config.replica_id,
        data_dir: config.data_dir.clone(),
        raft: config.raft.clone(),
        peers,
    })
    .await
    .with_context(|| format!("opening replica {} in {}", config.replica_id, config.data_dir.display()))?;
    let mut names: std::collections::BTreeMap<String, String> =
        config.county_names.iter().map(|(code, name)| (format!("county/{code}"), name.clone())).collect();
    names.insert("city".into(), "市委巡察办".into());
    let api = Api::new(Arc::new(CityBackend::new(replica.clone())), config.auth.clone())?.with_node_names(names);
    api.engine().name_counties(county_codes_named(&config.county_names)?).await;
    let (routes, _health, access) = xuncha_api::routes(api.clone(), Some(replica.clone())).await?;
    let rpc = RpcMetrics::default();
    if let Some(tls) = &config.tls {
        tls.warn_if_due_for_renewal();
    }
    let access = match revoked {
        Some(revoked) => access.with_revoked(revoked),
        None => access,
    };
    // The web app first: if its port is taken the start fails before the API serves.
    let site = crate::web::Site {
        node: xuncha_domain::NodeId::city(),
        name_zh: "市委巡察办".into(),
        county_names: config.county_names.clone(),
        sync: None,
    };
    let web = crate::web::start(config.web_listen, &api, site, node_tls.as_ref()).await?;
    let serving = serve(listener, routes, access, node_tls.as_ref().map(|t| t.server_config()), rpc.clone())?;
    let metrics = match config.metrics_listen {
        Some(addr) => {
            let sources = metrics::Sources {
                rpc,
                engine: replica.engine.clone(),
                replica: Some(replica.clone()),
                tls: node_tls.clone(),
            };
            match metrics::serve(addr, sources).await {
                Ok(m) => Some(m),
                Err(e) => {
                    // A start that fails stops what it started.
                    if let Some(web) = web {
                        web.stop().await;
                    }
                    serving.stop().await;
                    return Err(e);
                }
            }
        }
        None => None,
    };
    tracing::info!(replica = config.replica_id, addr = %serving.addr, data = %config.data_dir.display(), "city replica serving");
    let bootstrap = config.bootstrap_members()?;
    if !bootstrap.is_empty() && !replica.raft.is_initialized().await? {
        let members =
            bootstrap.into_iter().map(|(id, addr)| (id, xuncha_replication::raft::ReplicaNode { addr })).collect();
        replica.initialize(members).await?;
        tracing::info!("initialised a new cluster from `bootstrap`");
    }
    let marker = config.data_dir.join(crate::backup::RESTORED_MARKER);
    if marker.exists() {
        tokio::spawn(compact_restored(replica.clone(), marker));
    }
    Ok(CityHandle { config, replica, api, serving, metrics, web })
}

/// The configuration's county names keyed by checked codes; a malformed code is a start-up error
/// naming it, not a silently unnamed county.
fn county_codes_named(
    names: &std::collections::BTreeMap<String, String>,
) -> anyhow::Result<std::collections::BTreeMap<xuncha_domain::ids::CountyCode, String>> {
    names
        .iter()
        .map(|(code, name)| {
            let code = xuncha_domain::ids::CountyCode::parse("county_names", code)
                .map_err(|e| anyhow::anyhow!("county_names: {code:?}: {e}"))?;
            Ok((code, name.clone()))
        })
        .collect()
}
