//! A node's TLS, both sides, with what tonic's own TLS cannot do:
//! - as a client (a county to the city, a replica to a replica), besides chaining to the CA and
//!   naming the node dialled, the server's certificate must not be on the revocation list, which
//!   is re-read while the node runs: a stolen city or replica key, once revoked, cannot pose as
//!   the city or a replica from the next connection on;
//! - the node's own certificate and key are re-read when their files change ([`OwnCert`]), so a
//!   renewed certificate is presented from the next handshake on, without a restart.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, RwLock, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tonic::transport::{Channel, Endpoint};

use crate::revocation::{RELOAD_EVERY, Revoked};

/// How long a TLS handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the node's TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{what}: {reason}")]
    Pem { what: &'static str, reason: String },
    #[error("TLS: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("TLS: the CA certificate: {0}")]
    Verifier(#[from] rustls::client::VerifierBuilderError),
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
}

/// A node's mTLS: the CA, its own certificate (re-read while it runs) and the revocation list.
/// Clones share the configuration.
#[derive(Clone, Debug)]
pub struct NodeTls {
    client: Arc<rustls::ClientConfig>,
    server: Arc<rustls::ServerConfig>,
    own: Arc<OwnCert>,
}

impl NodeTls {
    /// From the CA certificate (PEM) and this node's certificate and key files.
    pub fn new(ca: &[u8], own: Arc<OwnCert>, revoked: Revoked) -> Result<Self, TlsError> {
        let mut roots = RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(ca) {
            roots.add(c.map_err(pem("tls.ca"))?)?;
        }
        let roots = Arc::new(roots);
        let provider = provider();
        let webpki = WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone()).build()?;
        let mut client = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NotRevoked { webpki, revoked }))
            .with_client_cert_resolver(own.clone());
        client.alpn_protocols = vec![b"h2".to_vec()];
        // A resumed session skips the certificate check: every connection verifies afresh, so
        // a revocation holds from the next connection on. (Connections are few and long-lived.)
        client.resumption = rustls::client::Resumption::disabled();
        // Every client must present a certificate of the CA; which calls it may make, and
        // whether it is revoked, the access layer decides per call.
        let clients = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|e| TlsError::Pem { what: "tls.ca", reason: e.to_string() })?;
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(clients)
            .with_cert_resolver(own.clone());
        server.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Self { client: Arc::new(client), server: Arc::new(server), own })
    }

    /// The server side, for the node's listener.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        self.server.clone()
    }

    /// The server side for browsers (the web app): the node's own certificate, re-read as it
    /// changes, and no client certificate asked for (people sign in with their accounts).
    pub fn web_server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let mut web = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(self.own.clone());
        web.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(web))
    }

    /// The node's own certificate as presented now.
    pub fn own(&self) -> &OwnCert {
        &self.own
    }

    /// A channel to `endpoint` (its URI in `http://host:port` form: TLS is this connector's)
    /// that accepts only a certificate naming `server_name`. Connects on first use.
    pub fn channel(&self, endpoint: Endpoint, server_name: &str) -> Result<Channel, TlsError> {
        let name = ServerName::try_from(server_name.to_string())
            .map_err(|e| TlsError::Pem { what: "server name", reason: e.to_string() })?;
        let connector = Connector { tls: tokio_rustls::TlsConnector::from(self.client.clone()), name };
        Ok(endpoint.connect_with_connector_lazy(connector))
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn pem(what: &'static str) -> impl Fn(rustls::pki_types::pem::Error) -> TlsError {
    move |e| TlsError::Pem { what, reason: e.to_string() }
}

/// This node's certificate and key, re-read from their files every [`RELOAD_EVERY`] when they
/// changed. A pair that does not load (half-written, or a key that does not match the
/// certificate) is logged and the one before kept; the next change is tried again.
#[derive(Debug)]
pub struct OwnCert {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    key: Arc<CertifiedKey>,
    /// The files' bytes it was made from.
    from: (Vec<u8>, Vec<u8>),
}

impl OwnCert {
    /// Loads the pair now (an error if it does not load) and watches it until dropped.
    pub fn watch(cert: &Path, key: &Path) -> Result<Arc<Self>, TlsError> {
        let from = read_pair(cert, key)?;
        let loaded = Loaded { key: certified(&from.0, &from.1)?, from };
        let own = Arc::new(Self { cert: cert.to_path_buf(), key: key.to_path_buf(), current: RwLock::new(loaded) });
        let weak: Weak<Self> = Arc::downgrade(&own);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(RELOAD_EVERY).await;
                let Some(own) = weak.upgrade() else { return };
                own.reload();
            }
        });
        Ok(own)
    }

    fn reload(&self) {
        let from = match read_pair(&self.cert, &self.key) {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(error = %e, "cannot read this node's certificate; keeping the one loaded");
                return;
            }
        };
        if self.current.read().expect("certificate lock").from == from {
            return;
        }
        match certified(&from.0, &from.1) {
            Ok(key) => {
                tracing::info!(cert = %self.cert.display(), "this node's certificate changed; presenting the new one");
                *self.current.write().expect("certificate lock") = Loaded { key, from };
            }
            Err(e) => tracing::warn!(cert = %self.cert.display(), error = %e,
                "this node's certificate changed but does not load (yet); keeping the one loaded"),
        }
    }

    fn key(&self) -> Arc<CertifiedKey> {
        self.current.read().expect("certificate lock").key.clone()
    }

    /// The certificate presented now (DER).
    pub fn leaf(&self) -> Vec<u8> {
        self.key().end_entity_cert().map(|c| c.to_vec()).unwrap_or_default()
    }
}

fn read_pair(cert: &Path, key: &Path) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
    let read = |path: &Path| std::fs::read(path).map_err(|source| TlsError::Read { path: path.to_path_buf(), source });
    Ok((read(cert)?, read(key)?))
}

fn certified(cert: &[u8], key: &[u8]) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(cert).collect::<Result<_, _>>().map_err(pem("tls.cert"))?;
    let key = PrivateKeyDer::from_pem_slice(key).map_err(pem("tls.key"))?;
    let certified = CertifiedKey::from_der(chain, key, &provider())?;
    Ok(Arc::new(certified))
}

impl ResolvesServerCert for OwnCert {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.key())
    }
}

impl ResolvesClientCert for OwnCert {
    fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.key())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// The CA's checks (chain, validity, name), then the revocation list.
#[derive(Debug)]
struct NotRevoked {
    webpki: Arc<WebPkiServerVerifier>,
    revoked: Revoked,
}

impl ServerCertVerifier for NotRevoked {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self.webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)?;
        if let Some(print) = self.revoked.refuses(end_entity.as_ref()) {
            tracing::error!(server = ?server_name, fingerprint = %print, "the server presented a revoked certificate");
            return Err(rustls::Error::General(format!(
                "the certificate of {server_name:?} (sha256 {print}) is revoked"
            )));
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// Dials TCP and runs the TLS handshake for tonic's channel.
#[derive(Clone)]
struct Connector {
    tls: tokio_rustls::TlsConnector,
    name: ServerName<'static>,
}

type Connecting =
    Pin<Box<dyn Future<Output = std::io::Result<TokioIo<tokio_rustls::client::TlsStream<TcpStream>>>> + Send>>;

impl tower::Service<http::Uri> for Connector {
    type Response = TokioIo<tokio_rustls::client::TlsStream<TcpStream>>;
    type Error = std::io::Error;
    type Future = Connecting;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let (tls, name) = (self.tls.clone(), self.name.clone());
        Box::pin(async move {
            let invalid = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{uri}: {why}"));
            let host = uri.host().ok_or_else(|| invalid("no host"))?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let port = uri.port_u16().ok_or_else(|| invalid("no port"))?;
            let tcp = TcpStream::connect((host, port)).await?;
            tcp.set_nodelay(true)?;
            let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.connect(name, tcp))
                .await
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "the TLS handshake timed out"))??;
            Ok(TokioIo::new(stream))
        })
    }
}

/// Connections off `listener` once their TLS handshake under `tls` is done, with the peer's
/// address. Each handshake runs on its own task, bounded by `HANDSHAKE_TIMEOUT`, so a slow or
/// silent client holds up no one else. Accepting stops, and the port is released, when the
/// receiver is dropped.
pub fn handshakes(
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
) -> tokio::sync::mpsc::Receiver<(tokio_rustls::server::TlsStream<TcpStream>, std::net::SocketAddr)> {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: pause instead of spinning.
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = tx.closed() => return,
            };
            let _ = tcp.set_nodelay(true);
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let _ = tx.send((stream, peer)).await;
                    }
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            });
        }
    });
    rx
}
