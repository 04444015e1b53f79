//! Node configuration: one struct per node role, every field documented, defaults as functions,
//! read from a TOML file, then overridden by `XUNCHA_*` environment variables, then by flags,
//! and validated once. docs/configuration.md lists every setting.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use xuncha_api::AuthSettings;
use xuncha_domain::ids::validate_county_code;
pub use xuncha_replication::raft::RaftSettings;

/// A configuration problem, named by its setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Parse { path: PathBuf, source: Box<toml::de::Error> },
    #[error("{setting}: {reason}")]
    Invalid { setting: String, reason: String },
}

fn invalid(setting: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { setting: setting.to_string(), reason: reason.into() }
}

/// Log output.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` (readable) or `json` (one object per line, for log collectors).
    #[serde(default = "default_log_format")]
    pub format: String,
    /// A tracing filter, e.g. `info,openraft=warn` or `info,xuncha_store=debug`. `RUST_LOG` wins when set.
    #[serde(default = "default_log_level")]
    pub level: String,
}

fn default_log_format() -> String {
    "text".into()
}

fn default_log_level() -> String {
    // openraft reports every election and snapshot step at info.
    "info,openraft=warn".into()
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { format: default_log_format(), level: default_log_level() }
    }
}

impl LogConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        match self.format.as_str() {
            "text" | "json" => Ok(()),
            other => Err(invalid("log.format", format!("'{other}' is not text or json"))),
        }
    }
}

/// mTLS files. Every node-to-node link uses them; a node's identity is its certificate's URI SAN
/// (`xuncha://city/<replica>`, `xuncha://county/<code>`, `xuncha://operator/<name>`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The CA that signed every node and operator certificate (PEM).
    pub ca: PathBuf,
    /// This node's certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// Revoked certificates: SHA-256 fingerprints, one per line (`xuncha certs revoke` adds
    /// them). Re-read every 2 s while the node runs; a missing file revokes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<PathBuf>,
}

/// The PEM contents of [`TlsFiles`].
struct TlsPem {
    ca: Vec<u8>,
    cert: Vec<u8>,
    key: Vec<u8>,
}

impl TlsFiles {
    fn read(&self) -> Result<TlsPem, ConfigError> {
        let read =
            |setting: &str, p: &Path| std::fs::read(p).map_err(|e| invalid(setting, format!("{}: {e}", p.display())));
        Ok(TlsPem {
            ca: read("tls.ca", &self.ca)?,
            cert: read("tls.cert", &self.cert)?,
            key: read("tls.key", &self.key)?,
        })
    }

    /// Client side: trust only the CA, present the certificate.
    pub fn client(&self) -> Result<tonic::transport::ClientTlsConfig, ConfigError> {
        use tonic::transport::{Certificate, ClientTlsConfig, Identity};
        let TlsPem { ca, cert, key } = self.read()?;
        Ok(ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(ca))
            .identity(Identity::from_pem(cert, key))
            .timeout(std::time::Duration::from_secs(10)))
    }

    /// The node's TLS, both sides: it presents its certificate (re-read when the files change),
    /// requires client certificates of the CA, and as a client refuses a server certificate on
    /// `revoked` (the list this node watches).
    pub fn node_tls(&self, revoked: xuncha_api::Revoked) -> Result<xuncha_replication::tls::NodeTls, ConfigError> {
        let ca = std::fs::read(&self.ca).map_err(|e| invalid("tls.ca", format!("{}: {e}", self.ca.display())))?;
        let tls = |e: xuncha_replication::tls::TlsError| invalid("tls", e.to_string());
        let own = xuncha_replication::tls::OwnCert::watch(&self.cert, &self.key).map_err(tls)?;
        xuncha_replication::tls::NodeTls::new(&ca, own, revoked).map_err(tls)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.read().map(|_| ())
    }

    /// Warns in the log when this node's certificate is due for renewal (or unreadable).
    pub fn warn_if_due_for_renewal(&self) {
        match crate::certs::expiry(&self.cert) {
            Ok(at) => {
                let left = at - chrono::Utc::now();
                if left < chrono::Duration::days(crate::certs::RENEW_WITHIN_DAYS) {
                    tracing::warn!(cert = %self.cert.display(), expires = %at, days_left = left.num_days(),
                        "this node's certificate is due for renewal: run `xuncha certs --renew` for it (it is picked up without a restart)");
                }
            }
            Err(e) => tracing::warn!(cert = %self.cert.display(), error = %e, "cannot read the certificate's expiry"),
        }
    }

    /// The revocation list to watch, if configured.
    pub fn watch_revoked(&self) -> xuncha_api::Revoked {
        self.revoked.clone().map(xuncha_api::Revoked::watch).unwrap_or_default()
    }
}

/// The web app is served over HTTPS only: browsers hold session cookies marked Secure.
fn check_web(tls: &Option<TlsFiles>, web: Option<SocketAddr>) -> Result<(), ConfigError> {
    match (web, tls) {
        (Some(_), None) => Err(invalid("web_listen", "the web app is served over HTTPS only: give [tls]")),
        _ => Ok(()),
    }
}

/// TLS, or plaintext asked for by name on a loopback address (development): never plaintext
/// to the network by leaving `[tls]` out.
fn check_transport(tls: &Option<TlsFiles>, plaintext: bool, listen: SocketAddr) -> Result<(), ConfigError> {
    match tls {
        Some(tls) => tls.validate(),
        None if !plaintext => Err(invalid(
            "tls",
            "required: give [tls] (or, for development on this machine only, plaintext = true with a loopback listen)",
        )),
        None if !listen.ip().is_loopback() => {
            Err(invalid("plaintext", format!("serves only on a loopback address, not {listen}; give [tls]")))
        }
        None => Ok(()),
    }
}

fn validate_auth(auth: &AuthSettings) -> Result<(), ConfigError> {
    auth.validate().map_err(|e| match e.split_once(": ") {
        Some((field, reason)) => invalid(field, reason.to_string()),
        None => invalid("auth", e),
    })
}

/// A county node.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CountyConfig {
    /// County code (`c01`): lowercase letters, digits, '-'. The node id is `county/<code>`.
    pub county: String,
    /// The county's name for people (安平县); shown in status and the demo.
    #[serde(default)]
    pub name: String,
    /// Folder of the node's SQLite files; created if missing.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Address the gRPC API listens on.
    #[serde(default = "default_county_listen")]
    pub listen: SocketAddr,
    /// Every city replica's address (host:port); empty: the county works alone, no sync.
    #[serde(default)]
    pub city: Vec<String>,
    /// How long an idle sync session waits for the city's changes before reporting in (ms).
    #[serde(default = "default_sync_wait")]
    pub sync_wait_ms: u64,
    /// mTLS; required to sync with the city.
    #[serde(default)]
    pub tls: Option<TlsFiles>,
    /// Development only: serve without TLS. Refused unless `listen` is a loopback address.
    #[serde(default)]
    pub plaintext: bool,
    /// Where to serve Prometheus metrics (`GET /metrics`, plain HTTP); off when unset.
    #[serde(default)]
    pub metrics_listen: Option<SocketAddr>,
    /// Where to serve the office's web app (HTTPS with the node's certificate); off when unset.
    #[serde(default)]
    pub web_listen: Option<SocketAddr>,
    /// Log output.
    #[serde(default)]
    pub log: LogConfig,
    /// Sign-in and sessions.
    #[serde(default)]
    pub auth: AuthSettings,
}

fn default_sync_wait() -> u64 {
    5_000
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}

fn default_county_listen() -> SocketAddr {
    "127.0.0.1:7101".parse().expect("valid address")
}

impl CountyConfig {
    /// A configuration with defaults for county `code`.
    pub fn new(code: &str, data_dir: &Path, listen: SocketAddr) -> Self {
        Self {
            county: code.into(),
            name: String::new(),
            data_dir: data_dir.into(),
            listen,
            city: Vec::new(),
            sync_wait_ms: default_sync_wait(),
            tls: None,
            plaintext: listen.ip().is_loopback(),
            metrics_listen: None,
            web_listen: None,
            log: LogConfig::default(),
            auth: AuthSettings::default(),
        }
    }

    /// Reads `path`, applies `XUNCHA_*` variables, validates.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let mut config: Self = read_toml(path)?;
        config.apply_env(|k| std::env::var(k).ok())?;
        config.validate()?;
        Ok(config)
    }

    /// `XUNCHA_DATA_DIR`, `XUNCHA_LISTEN`, `XUNCHA_CITY` (comma-separated), `XUNCHA_LOG_FORMAT`,
    /// `XUNCHA_LOG_LEVEL`.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = var("XUNCHA_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(addr) = env_addr(&var, "XUNCHA_LISTEN")? {
            self.listen = addr;
        }
        if let Some(addr) = env_addr(&var, "XUNCHA_METRICS_LISTEN")? {
            self.metrics_listen = Some(addr);
        }
        if let Some(addr) = env_addr(&var, "XUNCHA_WEB_LISTEN")? {
            self.web_listen = Some(addr);
        }
        if let Some(v) = var("XUNCHA_CITY") {
            self.city = v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        }
        apply_log_env(&mut self.log, &var);
        Ok(())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_county_code("county", &self.county).map_err(|e| invalid("county", e.reason))?;
        if !self.city.is_empty() && self.tls.is_none() {
            return Err(invalid("tls", "syncing with the city needs mTLS: the county's identity is its certificate"));
        }
        check_transport(&self.tls, self.plaintext, self.listen)?;
        check_web(&self.tls, self.web_listen)?;
        validate_auth(&self.auth)?;
        self.log.validate()
    }

    /// The node's SQLite file.
    pub fn database(&self) -> PathBuf {
        self.data_dir.join("county.db")
    }
}

/// A city replica.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CityConfig {
    /// This replica's raft id (1, 2, 3, ...). Never reuse an id, not even for a wiped replica.
    pub replica_id: u64,
    /// Folder of the replica's files: `raft-log/` (the raft log's segments), `state.db`, `snapshots/`.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Address the gRPC API (and raft) listens on.
    #[serde(default = "default_city_listen")]
    pub listen: SocketAddr,
    /// Address other replicas and clients use to reach this one; default: `listen`.
    #[serde(default)]
    pub advertise: Option<String>,
    /// Raft timing and compaction.
    #[serde(default)]
    pub raft: RaftSettings,
    /// Where replicas reach each other at other addresses than the advertised ones (NAT,
    /// proxies): replica id → host:port.
    #[serde(default)]
    pub peer_overrides: HashMap<u64, String>,
    /// mTLS for clients, counties and the other replicas.
    #[serde(default)]
    pub tls: Option<TlsFiles>,
    /// Development only: serve without TLS. Refused unless `listen` is a loopback address.
    #[serde(default)]
    pub plaintext: bool,
    /// Where to serve Prometheus metrics (`GET /metrics`, plain HTTP); off when unset.
    #[serde(default)]
    pub metrics_listen: Option<SocketAddr>,
    /// Where to serve the office's web app (HTTPS with the node's certificate); off when unset.
    #[serde(default)]
    pub web_listen: Option<SocketAddr>,
    /// County code → the county's name for people (c01 = "安平县"), for the web app's pages.
    #[serde(default)]
    pub county_names: std::collections::BTreeMap<String, String>,
    /// On one replica of a new cluster: the first members as `ID=HOST:PORT`. The replica
    /// initialises the cluster with them on first start (nothing happens once it is).
    #[serde(default)]
    pub bootstrap: Vec<String>,
    /// Log output.
    #[serde(default)]
    pub log: LogConfig,
    /// Sign-in and sessions.
    #[serde(default)]
    pub auth: AuthSettings,
}

impl CityConfig {
    /// The `bootstrap` members, parsed.
    pub fn bootstrap_members(&self) -> Result<std::collections::BTreeMap<u64, String>, ConfigError> {
        let mut out = std::collections::BTreeMap::new();
        for (i, m) in self.bootstrap.iter().enumerate() {
            let field = format!("bootstrap[{i}]");
            let (id, addr) = m.split_once('=').ok_or_else(|| invalid(&field, format!("'{m}' is not ID=HOST:PORT")))?;
            let id: u64 = id.trim().parse().map_err(|_| invalid(&field, format!("'{id}' is not a replica id")))?;
            out.insert(id, addr.trim().to_string());
        }
        if !out.is_empty() && !out.contains_key(&self.replica_id) {
            return Err(invalid(
                "bootstrap",
                format!("the first members must include this replica ({})", self.replica_id),
            ));
        }
        Ok(out)
    }
}

fn default_city_listen() -> SocketAddr {
    "127.0.0.1:7001".parse().expect("valid address")
}

impl CityConfig {
    pub fn new(replica_id: u64, data_dir: &Path, listen: SocketAddr) -> Self {
        Self {
            replica_id,
            data_dir: data_dir.into(),
            listen,
            advertise: None,
            raft: RaftSettings::default(),
            peer_overrides: HashMap::new(),
            tls: None,
            plaintext: listen.ip().is_loopback(),
            metrics_listen: None,
            web_listen: None,
            county_names: Default::default(),
            bootstrap: Vec::new(),
            log: LogConfig::default(),
            auth: AuthSettings::default(),
        }
    }

    /// Reads `path`, applies `XUNCHA_*` variables, validates.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let mut config: Self = read_toml(path)?;
        config.apply_env(|k| std::env::var(k).ok())?;
        config.validate()?;
        Ok(config)
    }

    /// `XUNCHA_DATA_DIR`, `XUNCHA_LISTEN`, `XUNCHA_ADVERTISE`, `XUNCHA_LOG_FORMAT`, `XUNCHA_LOG_LEVEL`.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = var("XUNCHA_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(addr) = env_addr(&var, "XUNCHA_LISTEN")? {
            self.listen = addr;
        }
        if let Some(v) = var("XUNCHA_ADVERTISE") {
            self.advertise = Some(v);
        }
        if let Some(addr) = env_addr(&var, "XUNCHA_METRICS_LISTEN")? {
            self.metrics_listen = Some(addr);
        }
        if let Some(addr) = env_addr(&var, "XUNCHA_WEB_LISTEN")? {
            self.web_listen = Some(addr);
        }
        apply_log_env(&mut self.log, &var);
        Ok(())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.replica_id == 0 {
            return Err(invalid("replica_id", "replica ids start at 1"));
        }
        self.raft.to_openraft().map_err(|e| invalid("raft", e.to_string()))?;
        self.bootstrap_members()?;
        check_transport(&self.tls, self.plaintext, self.listen)?;
        check_web(&self.tls, self.web_listen)?;
        validate_auth(&self.auth)?;
        self.log.validate()
    }
}

fn env_addr(var: &impl Fn(&str) -> Option<String>, key: &str) -> Result<Option<SocketAddr>, ConfigError> {
    var(key).map(|v| v.parse().map_err(|_| invalid(key, format!("'{v}' is not host:port")))).transpose()
}

fn apply_log_env(log: &mut LogConfig, var: &impl Fn(&str) -> Option<String>) {
    if let Some(v) = var("XUNCHA_LOG_FORMAT") {
        log.format = v;
    }
    if let Some(v) = var("XUNCHA_LOG_LEVEL") {
        log.level = v;
    }
}

fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse { path: path.into(), source: Box::new(source) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn county_config_reads_with_defaults_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "county = \"c01\"\nname = \"安平县\"\nplaintext = true\n").unwrap();
        let mut c: CountyConfig = read_toml(&path).unwrap();
        assert_eq!(c.listen, default_county_listen());
        c.apply_env(|k| (k == "XUNCHA_LISTEN").then(|| "127.0.0.1:9999".to_string())).unwrap();
        assert_eq!(c.listen.port(), 9999);
        c.validate().unwrap();
    }

    #[test]
    fn plaintext_only_when_asked_and_only_on_loopback() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("city.toml");
        std::fs::write(&path, "replica_id = 1\n").unwrap();
        let err = CityConfig::load(&path).unwrap_err().to_string();
        assert!(err.starts_with("tls: required"), "{err}");
        std::fs::write(&path, "replica_id = 1\nplaintext = true\nlisten = \"0.0.0.0:7001\"\n").unwrap();
        let err = CityConfig::load(&path).unwrap_err().to_string();
        assert!(err.starts_with("plaintext: serves only on a loopback address"), "{err}");
        std::fs::write(&path, "replica_id = 1\nplaintext = true\nlisten = \"127.0.0.1:7001\"\n").unwrap();
        CityConfig::load(&path).unwrap();
        let wide = CountyConfig::new("c01", Path::new("d"), "0.0.0.0:7101".parse().unwrap());
        assert!(wide.validate().unwrap_err().to_string().starts_with("tls:"));
    }

    #[test]
    fn the_web_app_needs_tls() {
        let mut c = CountyConfig::new("c01", Path::new("d"), default_county_listen());
        c.web_listen = Some("127.0.0.1:7501".parse().unwrap());
        let err = c.validate().unwrap_err().to_string();
        assert!(err.starts_with("web_listen:") && err.contains("HTTPS"), "{err}");
        let mut city = CityConfig::new(1, Path::new("d"), default_city_listen());
        city.web_listen = c.web_listen;
        assert!(city.validate().unwrap_err().to_string().starts_with("web_listen:"));
    }

    #[test]
    fn bad_settings_are_named() {
        let mut c = CountyConfig::new("C 01", Path::new("d"), default_county_listen());
        assert!(c.validate().unwrap_err().to_string().starts_with("county:"));
        c.county = "c01".into();
        c.log.format = "xml".into();
        assert!(c.validate().unwrap_err().to_string().starts_with("log.format:"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "county = \"c01\"\nlisten_port = 1\n").unwrap();
        assert!(matches!(CountyConfig::load(&path), Err(ConfigError::Parse { .. })));
    }
}
