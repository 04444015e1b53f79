//! Finding and connecting to a node: an address, or a name from `endpoints.json`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// One entry of `endpoints.json` (written by `xuncha up`).
#[derive(Clone, Debug, Deserialize)]
pub struct NodeEntry {
    pub name: String,
    pub role: String,
    pub grpc: String,
    /// CA and operator certificate to connect with.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    #[serde(default)]
    pub cert: Option<PathBuf>,
    #[serde(default)]
    pub key: Option<PathBuf>,
}

/// Where a node is and the TLS files to reach it with.
pub struct Target {
    pub addr: String,
    pub tls: Option<TlsPaths>,
}

#[derive(Clone, Debug)]
pub struct TlsPaths {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsPaths {
    pub fn config(&self) -> anyhow::Result<ClientTlsConfig> {
        let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
        Ok(ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(read(&self.ca)?))
            .identity(Identity::from_pem(read(&self.cert)?, read(&self.key)?)))
    }
}

/// Reads `endpoints.json`.
pub fn read_endpoints(path: &Path) -> anyhow::Result<Vec<NodeEntry>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not an endpoints file", path.display()))
}

/// `node`'s address and TLS files: given TLS flags win; a name is looked up in `endpoints`,
/// whose entries also carry the CA and operator certificate.
pub fn resolve(node: &str, endpoints: &Path, flags: Option<TlsPaths>) -> anyhow::Result<Target> {
    if node.contains(':') {
        return Ok(Target { addr: node.to_string(), tls: flags });
    }
    let entries =
        read_endpoints(endpoints).with_context(|| format!("'{node}' is not host:port, so it was looked up by name"))?;
    let found = entries.iter().find(|e| e.name == node || e.name.strip_prefix("county-") == Some(node));
    match found {
        Some(e) => {
            let from_file = match (&e.ca, &e.cert, &e.key) {
                (Some(ca), Some(cert), Some(key)) => {
                    Some(TlsPaths { ca: ca.clone(), cert: cert.clone(), key: key.clone() })
                }
                _ => None,
            };
            Ok(Target { addr: e.grpc.clone(), tls: flags.or(from_file) })
        }
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

/// A channel to `addr` (`host:port`), over mTLS when `tls` is given.
pub async fn channel(addr: &str, tls: Option<&ClientTlsConfig>) -> anyhow::Result<Channel> {
    let mut endpoint = Endpoint::from_shared(format!("{}://{addr}", if tls.is_some() { "https" } else { "http" }))?;
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls.clone())?;
    }
    endpoint
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(60))
        .connect()
        .await
        .with_context(|| format!("connecting to {addr}"))
}
