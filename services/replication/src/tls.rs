//! Client TLS for calls between nodes (a county to the city, a replica to a replica), with the
//! check tonic's own TLS cannot make: besides chaining to the CA and naming the node dialled,
//! the server's certificate must not be on the revocation list, which is re-read while the node
//! runs. A stolen city or replica key, once revoked, so cannot pose as the city to counties or
//! as a replica to the others, from the next connection on, without a restart.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tonic::transport::{Channel, Endpoint};

use crate::revocation::Revoked;

/// How long a TLS handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the node's client TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{what}: {reason}")]
    Pem { what: &'static str, reason: String },
    #[error("TLS: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("TLS: the CA certificate: {0}")]
    Verifier(#[from] rustls::client::VerifierBuilderError),
}

/// A node's client side of mTLS: its certificate and key, the CA, and the revocation list.
/// Clones share the configuration.
#[derive(Clone, Debug)]
pub struct NodeTls {
    config: Arc<rustls::ClientConfig>,
}

impl NodeTls {
    /// From PEM: the CA certificate, this node's certificate (chain) and its private key.
    pub fn from_pem(ca: &[u8], cert: &[u8], key: &[u8], revoked: Revoked) -> Result<Self, TlsError> {
        let pem = |what| move |e: rustls::pki_types::pem::Error| TlsError::Pem { what, reason: e.to_string() };
        let mut roots = RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(ca) {
            roots.add(c.map_err(pem("tls.ca"))?)?;
        }
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(cert).collect::<Result<_, _>>().map_err(pem("tls.cert"))?;
        let key = PrivateKeyDer::from_pem_slice(key).map_err(pem("tls.key"))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build()?;
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NotRevoked { webpki, revoked }))
            .with_client_auth_cert(chain, key)?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        // A resumed session skips the certificate check: every connection verifies afresh, so
        // a revocation holds from the next connection on. (Connections are few and long-lived.)
        config.resumption = rustls::client::Resumption::disabled();
        Ok(Self { config: Arc::new(config) })
    }

    /// A channel to `endpoint` (its URI in `http://host:port` form: TLS is this connector's)
    /// that accepts only a certificate naming `server_name`. Connects on first use.
    pub fn channel(&self, endpoint: Endpoint, server_name: &str) -> Result<Channel, TlsError> {
        let name = ServerName::try_from(server_name.to_string())
            .map_err(|e| TlsError::Pem { what: "server name", reason: e.to_string() })?;
        let connector = Connector { tls: tokio_rustls::TlsConnector::from(self.config.clone()), name };
        Ok(endpoint.connect_with_connector_lazy(connector))
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
