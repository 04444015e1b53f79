//! Serving the gRPC routes on a bound listener until told to stop.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use xuncha_replication::tls::handshakes;

use xuncha_api::AccessLayer;

use crate::metrics::{RpcMetrics, RpcMetricsLayer};

/// The longest any call may take to answer (a stream to start): a stuck client or a slow
/// write ends here as DEADLINE_EXCEEDED instead of holding a task forever.
pub const RPC_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

/// A running gRPC server.
pub struct Serving {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl Serving {
    /// Stops accepting, lets requests in flight finish, and waits.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "server ended with an error"),
            Err(e) => tracing::warn!(error = %e, "server task failed"),
        }
    }

    /// Ends the server without waiting for requests in flight (a crash, in tests).
    pub fn abort(self) {
        self.task.abort();
    }
}

/// Reads trace context from HTTP headers.
struct HeaderExtractor<'a>(&'a tonic::codegen::http::HeaderMap);

impl opentelemetry::propagation::Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Binds `addr` (port 0 picks a free port).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves `routes` behind `access` on `listener`, with mTLS when `tls` is given, counting calls
/// in `rpc` (refusals by `access` included).
pub fn serve(
    listener: TcpListener,
    routes: Routes,
    access: AccessLayer,
    tls: Option<Arc<rustls::ServerConfig>>,
    rpc: RpcMetrics,
) -> anyhow::Result<Serving> {
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    // Every call answers (or starts its stream) within the deadline; a client asking for less
    // (grpc-timeout) gets less.
    // One span per RPC, a child of the caller's trace when it sent one.
    let builder = Server::builder().timeout(RPC_DEADLINE).trace_fn(|req| {
        let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(req.headers())));
        let span =
            tracing::info_span!("grpc", otel.name = %req.uri().path(), otel.kind = "server", rpc = %req.uri().path());
        let _ = tracing_opentelemetry::OpenTelemetrySpanExt::set_parent(&span, parent);
        span
    });
    let router = builder.layer(RpcMetricsLayer(rpc)).layer(access).add_routes(routes);
    let task = match tls {
        Some(tls) => {
            let incoming = tls_incoming(listener, tls);
            tokio::spawn(async move { router.serve_with_incoming_shutdown(incoming, shutdown).await })
        }
        None => {
            let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
            tokio::spawn(async move { router.serve_with_incoming_shutdown(incoming, shutdown).await })
        }
    };
    Ok(Serving { addr, stop: Some(stop), task })
}

/// Connections off `listener` once their TLS handshake is done (see [`handshakes`]).
fn tls_incoming(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
) -> impl tokio_stream::Stream<Item = std::io::Result<TlsStream<TcpStream>>> {
    use tokio_stream::StreamExt;
    ReceiverStream::new(handshakes(listener, tls)).map(|(stream, _)| Ok(stream))
}
