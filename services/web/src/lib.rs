//! The office's web app, served by every node (each city replica and each county node) over
//! HTTPS: server-rendered Chinese pages over the same [`Api`] the gRPC services use, so every
//! rule, permission and write path is the one the CLI goes through.
//!
//! People sign in with their accounts; the session lives in a `__Host-` cookie (HttpOnly,
//! Secure, SameSite=Strict) named after the node, every form carries a CSRF token bound to the
//! session, and every response carries a strict Content-Security-Policy. Every asset is
//! embedded in the binary: a county cut off from the city still serves its pages.

mod assets;
mod charts;
mod pages;
mod session;
pub mod zh;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use xuncha_api::Api;
use xuncha_domain::NodeId;

/// What a node's pages say about the node itself.
#[derive(Clone, Debug)]
pub struct Site {
    pub node: NodeId,
    /// 市委巡察办, 安平县委巡察办, ...
    pub name_zh: String,
    /// County code → its Chinese name (安平县), for the city's pages.
    pub county_names: std::collections::BTreeMap<String, String>,
    /// A county's sync with the city, when it syncs: the pages say when the city is cut off.
    pub sync: Option<tokio::sync::watch::Receiver<xuncha_replication::sync::SyncState>>,
}

impl Site {
    pub fn is_city(&self) -> bool {
        self.node.is_city()
    }

    /// A node as the office calls it: 市委巡察办, a county's configured name, this node's own.
    pub fn node_name(&self, node: &NodeId) -> String {
        if *node == self.node {
            return self.name_zh.clone();
        }
        match node.county_code() {
            Some(code) => self.county_names.get(code).cloned().unwrap_or_else(|| code.to_string()),
            None => "市委巡察办".to_string(),
        }
    }
}

/// Shared by every handler.
#[derive(Clone)]
pub(crate) struct App {
    api: Api,
    site: Arc<Site>,
    /// The session cookie's name: one per node, since browsers share cookies across ports.
    cookie: Arc<str>,
}

/// The web app's routes over `api`.
pub fn router(api: Api, site: Site) -> Router {
    let cookie = session::cookie_name(&site.node).into();
    pages::routes(App { api, site: Arc::new(site), cookie })
}

/// A running web server.
pub struct WebServing {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl WebServing {
    /// The address to open in a browser.
    pub fn url(&self) -> String {
        format!("https://{}/", self.addr)
    }

    /// Stops accepting, lets requests in flight finish, and waits.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Ends at once (a crash, in tests).
    pub fn abort(self) {
        self.task.abort();
    }
}

/// Serves `router` over HTTPS (`tls`, no client certificate) on `listener`.
pub fn serve(listener: TcpListener, router: Router, tls: Arc<rustls::ServerConfig>) -> std::io::Result<WebServing> {
    let addr = listener.local_addr()?;
    let incoming = TlsListener { addr, connections: xuncha_replication::tls::handshakes(listener, tls) };
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(incoming, router.into_make_service_with_connect_info::<Peer>())
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "web server ended with an error");
        }
    });
    tracing::info!(%addr, "web app serving");
    Ok(WebServing { addr, stop: Some(stop), task })
}

/// The address a request came from (for sign-in throttling and the log).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peer(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

/// TLS connections as axum's listener.
struct TlsListener {
    addr: SocketAddr,
    connections: tokio::sync::mpsc::Receiver<(tokio_rustls::server::TlsStream<tokio::net::TcpStream>, SocketAddr)>,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.connections.recv().await {
            Some(c) => c,
            // The accept loop ends only when this receiver is dropped; wait for shutdown.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}
