//! Idempotent writes: a write retried under its request id (after a lost reply, through another
//! city replica, after restarts) is applied once and answered with the first result; the id
//! reused for another write is refused and changes nothing.

use std::net::SocketAddr;
use std::time::Duration;

use tonic::Code;
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::unit_service_client::UnitServiceClient;
use xuncha_replication::raft::RaftSettings;

use crate::city::CityCluster;
use crate::fixtures::{bad_field, channel, county, eventually};

/// Registers a unit through `addr` as the administrator (a fresh session each time), under
/// `request_id`, optionally with a client deadline.
async fn register(
    addr: SocketAddr,
    kind: pb::UnitKind,
    request_id: &str,
    name: &str,
    deadline: Option<Duration>,
) -> Result<pb::Unit, tonic::Status> {
    let mut units = UnitServiceClient::new(channel(addr).await);
    let mut req =
        tonic::Request::new(pb::RegisterUnitRequest { name: name.into(), kind: kind as i32, parent: String::new() });
    req.metadata_mut().insert(xuncha_wire::REQUEST_ID, request_id.parse().unwrap());
    if let Some(d) = deadline {
        req.set_timeout(d);
    }
    units.register_unit(req).await.map(|r| r.into_inner())
}

const CITY: pb::UnitKind = pb::UnitKind::CityDepartment;
const COUNTY: pb::UnitKind = pb::UnitKind::CountyDepartment;

async fn named(addr: SocketAddr, name: &str) -> Vec<pb::Unit> {
    let mut units = UnitServiceClient::new(channel(addr).await);
    let all = units.list_units(pb::ListUnitsRequest::default()).await.unwrap().into_inner().units;
    all.into_iter().filter(|u| u.name == name).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_retried_through_any_replica_is_applied_once() {
    let mut c = CityCluster::start(3, RaftSettings::default()).await;
    let leader = c.leader().await;
    let follower = c.live().into_iter().find(|i| *i != leader).unwrap();
    let other = c.live().into_iter().find(|i| *i != leader && *i != follower).unwrap();

    // The first try gives up at once: the reply is lost whether or not the write committed.
    let lost = register(c.addrs[&follower], CITY, "retry-1", "重试局", Some(Duration::from_millis(1))).await;
    let first = register(c.addrs[&follower], CITY, "retry-1", "重试局", None).await.expect("the retry is answered");
    if let Ok(lost) = lost {
        assert_eq!(lost.id, first.id);
    }
    for id in [leader, other, follower] {
        let again =
            register(c.addrs[&id], CITY, "retry-1", "重试局", None).await.expect("a retry elsewhere is answered");
        assert_eq!(again.id, first.id, "replica {id} answered another unit");
        assert_eq!(again.meta.as_ref().unwrap().version, 1);
    }

    // The same id for another write is refused and writes nothing.
    let reused = register(c.addrs[&leader], CITY, "retry-1", "另一个局", None).await.unwrap_err();
    assert_eq!(reused.code(), Code::InvalidArgument, "{reused:?}");
    assert_eq!(bad_field(&reused), "request_id");
    assert!(reused.message().contains("retry-1"), "{}", reused.message());
    // An id a header cannot be is refused at the edge.
    let bad = register(c.addrs[&leader], CITY, "two words", "别的局", None).await;
    assert!(bad.is_err(), "{bad:?}");

    // Every replica restarted: the remembered request still answers a retry.
    for id in [1, 2, 3] {
        c.kill(id).await;
    }
    for id in [1, 2, 3] {
        c.restart(id).await;
    }
    c.leader().await;
    let after = eventually("a retry after the restart to be answered", Duration::from_secs(60), || async {
        register(c.addrs[&follower], CITY, "retry-1", "重试局", None).await.ok()
    })
    .await;
    assert_eq!(after.id, first.id);

    c.converged().await;
    for id in c.live() {
        let units = named(c.addrs[&id], "重试局").await;
        assert_eq!(units.len(), 1, "replica {id} holds {} units named 重试局", units.len());
        assert!(named(c.addrs[&id], "另一个局").await.is_empty());
        let held = c.node(id).replica.engine.read(|s| s.requests.len()).await;
        assert_eq!(held, 1, "replica {id} remembers {held} requests");
    }
}

#[tokio::test]
async fn a_county_answers_a_retry_with_the_first_result_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let node = county(dir.path(), "c09").await;
    let first = register(node.addr(), COUNTY, "cli-abc.1", "县重试局", None).await.unwrap();
    let again = register(node.addr(), COUNTY, "cli-abc.1", "县重试局", None).await.unwrap();
    assert_eq!(again.id, first.id);
    // Another id is another write.
    let second = register(node.addr(), COUNTY, "cli-abc.2", "县重试二局", None).await.unwrap();
    assert_ne!(second.id, first.id);
    node.stop().await;

    // The marks are on disk: a restarted county still recognises both.
    let node = county(dir.path(), "c09").await;
    assert_eq!(register(node.addr(), COUNTY, "cli-abc.1", "县重试局", None).await.unwrap().id, first.id);
    assert_eq!(register(node.addr(), COUNTY, "cli-abc.2", "县重试二局", None).await.unwrap().id, second.id);
    let reused = register(node.addr(), COUNTY, "cli-abc.2", "另一个县局", None).await.unwrap_err();
    assert_eq!(reused.code(), Code::InvalidArgument);
    assert_eq!(named(node.addr(), "县重试局").await.len(), 1);
    assert_eq!(named(node.addr(), "县重试二局").await.len(), 1);
    assert!(named(node.addr(), "另一个县局").await.is_empty());
    node.stop().await;
}
