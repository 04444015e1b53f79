//! Metrics an operator scrapes: raft state on city replicas, sync with each peer, RPC counts.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use xuncha_proto::v1 as pb;

use crate::federation::Federation;
use crate::fixtures::{Clients, eventually};

/// GET /metrics over plain HTTP/1.1.
pub async fn scrape(addr: std::net::SocketAddr) -> String {
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    conn.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    out
}

/// The value of the first sample of `name` whose labels contain `labels`.
fn value(text: &str, name: &str, labels: &str) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains(labels))
        .find_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse().ok()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn operators_scrape_raft_sync_and_rpc_metrics() {
    let fed = Federation::start(&["anping"]).await;
    let leader = fed.city.leader().await;
    let mut op = Clients::connect_tls(fed.city.addrs[&leader], &fed.operator()).await;
    op.node.get_status(pb::GetStatusRequest {}).await.unwrap();
    let city = fed.city.node(leader).metrics.as_ref().unwrap().0;
    let text = eventually("the county's first contact in the city's metrics", Duration::from_secs(30), || async {
        let t = scrape(city).await;
        value(&t, "xuncha_sync_peer_last_contact_age_seconds", "county/anping").map(|_| t)
    })
    .await;
    assert_eq!(value(&text, "xuncha_raft_is_leader", ""), Some(1.0));
    assert!(value(&text, "xuncha_raft_term", "").unwrap() >= 1.0);
    assert!(value(&text, "xuncha_raft_commit_index", "").unwrap() >= 1.0);
    assert!(value(&text, "xuncha_raft_replica_match_index", "replica=").is_some(), "{text}");
    // The certificate this replica presents: the one `xuncha certs` issued, good for 90 days.
    let cert = xuncha_node::certs::files(&fed.certs, &xuncha_node::certs::Identity::Replica(leader)).cert;
    let expiry = xuncha_node::certs::expiry(&cert).unwrap().timestamp();
    assert_eq!(value(&text, "xuncha_tls_certificate_expiry_timestamp_seconds", ""), Some(expiry as f64));
    let days = (expiry - chrono::Utc::now().timestamp()) / 86_400;
    assert!((80..=90).contains(&days), "{days} days left");
    assert!(
        value(&text, "xuncha_rpc_requests_total", "method=\"/xuncha.v1.NodeService/GetStatus\"").unwrap() >= 1.0,
        "{text}"
    );
    assert!(
        value(&text, "xuncha_rpc_requests_total", "method=\"/xuncha.v1.SyncService/Push\"").unwrap() >= 1.0,
        "{text}"
    );
    // The county sets its lag when a sync exchange completes, which may be after the city's first contact.
    let county = eventually("the county's lag behind the city in its metrics", Duration::from_secs(30), || async {
        let t = scrape(fed.county("anping").metrics.as_ref().unwrap().0).await;
        value(&t, "xuncha_sync_peer_lag", "peer=\"city\"").map(|_| t)
    })
    .await;
    assert!(value(&county, "xuncha_outbox_seq", "").is_some());
}
