//! Serving the office's web app beside the gRPC API, with the node's own certificate.

use std::net::SocketAddr;

use anyhow::Context;
use xuncha_api::Api;
use xuncha_replication::tls::NodeTls;
pub use xuncha_web::{Site, WebServing};

/// Serves the web app on `addr` when it is configured (the config checks that TLS is).
pub async fn start(
    addr: Option<SocketAddr>,
    api: &Api,
    site: Site,
    tls: Option<&NodeTls>,
) -> anyhow::Result<Option<WebServing>> {
    let (Some(addr), Some(tls)) = (addr, tls) else {
        return Ok(None);
    };
    let listener = crate::server::bind(addr).await.with_context(|| format!("web app: listening on {addr}"))?;
    let router = xuncha_web::router(api.clone(), site);
    Ok(Some(xuncha_web::serve(listener, router, tls.web_server_config()?)?))
}
