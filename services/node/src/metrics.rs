//! Metrics in the Prometheus/OpenMetrics text format on `GET /metrics` of a plain-HTTP port
//! (`metrics_listen`): RPC counts and latencies, the raft cluster as this replica sees it, and
//! sync with every peer (last contact, backlog, lag). Gauges are read when scraped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::State;
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use xuncha_replication::raft::CityReplica;
use xuncha_store::Engine;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RpcLabels {
    method: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabel {
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PeerLabel {
    peer: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReplicaLabel {
    replica: String,
}

/// RPC counters, shared by the server layer and the scrape.
#[derive(Clone)]
pub struct RpcMetrics {
    requests: Family<RpcLabels, Counter>,
    duration: Family<MethodLabel, Histogram>,
}

impl Default for RpcMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            duration: Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.0005, 2.0, 16))),
        }
    }
}

/// A tower layer counting each gRPC call by method and status, and timing it.
#[derive(Clone)]
pub struct RpcMetricsLayer(pub RpcMetrics);

impl<S> tower::Layer<S> for RpcMetricsLayer {
    type Service = RpcMetricsService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RpcMetricsService { inner, metrics: self.0.clone() }
    }
}

#[derive(Clone)]
pub struct RpcMetricsService<S> {
    inner: S,
    metrics: RpcMetrics,
}

impl<S, B, RB> tower::Service<http::Request<B>> for RpcMetricsService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let method = req.uri().path().to_string();
        let start = Instant::now();
        let fut = self.inner.call(req);
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let result = fut.await;
            // Errors come as trailers-only responses with grpc-status in the headers; success
            // puts it in trailers, which this layer does not see.
            let code = match &result {
                Ok(r) => r.headers().get("grpc-status").and_then(|v| v.to_str().ok()).unwrap_or("0").to_string(),
                Err(_) => "transport".to_string(),
            };
            metrics
                .duration
                .get_or_create(&MethodLabel { method: method.clone() })
                .observe(start.elapsed().as_secs_f64());
            metrics.requests.get_or_create(&RpcLabels { method, code }).inc();
            result
        })
    }
}

/// What a scrape reads.
#[derive(Clone)]
pub struct Sources {
    pub rpc: RpcMetrics,
    pub engine: Arc<Engine>,
    pub replica: Option<Arc<CityReplica>>,
    /// The node's TLS, if it serves TLS: the certificate presented now (renewed ones too).
    pub tls: Option<xuncha_replication::tls::NodeTls>,
}

fn gauge(registry: &mut Registry, name: &str, help: &str, value: i64) {
    let g: Gauge = Gauge::default();
    g.set(value);
    registry.register(name, help, g);
}

/// Renders every metric now.
pub async fn render(src: &Sources) -> String {
    let mut r = Registry::with_prefix("xuncha");
    r.register("rpc_requests", "gRPC calls by method and status code", src.rpc.requests.clone());
    r.register("rpc_duration_seconds", "gRPC call latency by method", src.rpc.duration.clone());
    gauge(&mut r, "records", "Records held by this node", src.engine.read(|s| s.record_count() as i64).await);
    gauge(&mut r, "outbox_seq", "Last sequence this node gave a change", src.engine.outbox_seq() as i64);
    if let Ok(peers) = src.engine.store().peer_statuses().await {
        let backlog = Family::<PeerLabel, Gauge>::default();
        let lag = Family::<PeerLabel, Gauge>::default();
        let contact = Family::<PeerLabel, Gauge>::default();
        let refused = Family::<PeerLabel, Gauge>::default();
        for p in peers {
            refused.get_or_create(&PeerLabel { peer: p.node.to_string() }).set(i64::from(p.refused.is_some()));
            let l = PeerLabel { peer: p.node.to_string() };
            backlog.get_or_create(&l).set(p.backlog as i64);
            lag.get_or_create(&l).set(p.lag as i64);
            if let Some(at) = p.last_contact {
                contact.get_or_create(&l).set((chrono::Utc::now() - at).num_seconds());
            }
        }
        r.register("sync_peer_backlog", "The peer's changes not yet received here, as it reported", backlog);
        r.register("sync_peer_lag", "This node's changes for the peer that it has not applied", lag);
        r.register("sync_peer_last_contact_age_seconds", "Seconds since the peer was last in touch", contact);
        r.register("sync_peer_refused", "1 while a change on the peer's link stands refused", refused);
    }
    let presented = src.tls.as_ref().and_then(|t| crate::certs::expiry_of_der(&t.own().leaf()).ok());
    if let Some(at) = presented.map(|t| t.timestamp()) {
        gauge(
            &mut r,
            "tls_certificate_expiry_timestamp_seconds",
            "When this node's certificate expires (Unix seconds)",
            at,
        );
    }
    if let Some(replica) = &src.replica {
        let v = replica.status().await;
        gauge(&mut r, "raft_term", "Current raft term", v.term as i64);
        gauge(&mut r, "raft_leader", "Leader's replica id (0: none known)", v.leader_id.unwrap_or(0) as i64);
        gauge(&mut r, "raft_is_leader", "1 on the leader", i64::from(v.state == "leader"));
        gauge(&mut r, "raft_commit_index", "Highest committed log index", v.commit_index.unwrap_or(0) as i64);
        gauge(&mut r, "raft_last_applied", "Highest applied log index", v.last_applied.unwrap_or(0) as i64);
        gauge(&mut r, "raft_last_log_index", "Last log index", v.last_log_index.unwrap_or(0) as i64);
        gauge(
            &mut r,
            "raft_commit_lag",
            "Committed entries not yet applied here",
            v.commit_index.unwrap_or(0) as i64 - v.last_applied.unwrap_or(0) as i64,
        );
        let matched = Family::<ReplicaLabel, Gauge>::default();
        let behind = Family::<ReplicaLabel, Gauge>::default();
        for rep in v.replicas.iter().filter(|r| r.match_index.is_some()) {
            let l = ReplicaLabel { replica: rep.id.to_string() };
            let m = rep.match_index.unwrap_or(0);
            matched.get_or_create(&l).set(m as i64);
            behind.get_or_create(&l).set(v.last_log_index.unwrap_or(0) as i64 - m as i64);
        }
        r.register("raft_replica_match_index", "Each replica's match index (on the leader)", matched);
        r.register("raft_replica_lag_entries", "Entries each replica is behind the leader's log", behind);
    }
    let mut out = String::new();
    let _ = encode(&mut out, &r);
    out
}

/// Serves `/metrics` on `addr` until the task is dropped.
pub async fn serve(addr: SocketAddr, src: Sources) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = axum::Router::new()
        .route(
            "/metrics",
            get(|State(src): State<Sources>| async move {
                (
                    [(http::header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
                    render(&src).await,
                )
            }),
        )
        .with_state(src);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((bound, task))
}
