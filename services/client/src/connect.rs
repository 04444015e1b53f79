//! Finding and connecting to a node: an address, or a name from `endpoints.json`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use tonic::transport::{Channel, Endpoint};

/// One entry of `endpoints.json` (written by `xuncha up`).
#[derive(Clone, Debug, Deserialize)]
pub struct NodeEntry {
    pub name: String,
    pub role: String,
    pub grpc: String,
}

/// Reads `endpoints.json`.
pub fn read_endpoints(path: &Path) -> anyhow::Result<Vec<NodeEntry>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not an endpoints file", path.display()))
}

/// `host:port` for `node`: itself if it looks like an address, else its entry in `endpoints`.
pub fn resolve(node: &str, endpoints: &Path) -> anyhow::Result<String> {
    if node.contains(':') {
        return Ok(node.to_string());
    }
    let entries =
        read_endpoints(endpoints).with_context(|| format!("'{node}' is not host:port, so it was looked up by name"))?;
    let found = entries.iter().find(|e| e.name == node || e.name.strip_prefix("county-") == Some(node));
    match found {
        Some(e) => Ok(e.grpc.clone()),
        None => {
            let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
            bail!("no node named '{node}' in {}; known: {}", endpoints.display(), names.join(", "))
        }
    }
}

/// Where the CLI looks for `endpoints.json` by default.
pub fn default_endpoints() -> PathBuf {
    PathBuf::from("data/endpoints.json")
}

/// A channel to `addr` (`host:port`).
pub async fn channel(addr: &str) -> anyhow::Result<Channel> {
    Endpoint::from_shared(format!("http://{addr}"))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(60))
        .connect()
        .await
        .with_context(|| format!("connecting to {addr}"))
}
