//! The city raft cluster under faults, over real sockets with a proxy on every link: leader
//! loss, full restart, an isolated leader, a lagging replica, membership changes under load.

use std::collections::BTreeSet;
use std::time::Duration;

use tonic::Code;
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::cluster_service_client::ClusterServiceClient;
use xuncha_proto::v1::unit_service_client::UnitServiceClient;
use xuncha_replication::raft::RaftSettings;

use crate::city::{CityCluster, Writers, write_unit};
use crate::fixtures::{channel, eventually};

/// Every acknowledged write is held by every live replica.
/// A request for every unit that a replica answers from its own state, with no read barrier.
fn stale_list_units() -> tonic::Request<pb::ListUnitsRequest> {
    let mut request = tonic::Request::new(pb::ListUnitsRequest::default());
    request.metadata_mut().insert(xuncha_api::CONSISTENCY_METADATA, "stale".parse().unwrap());
    request
}

async fn assert_all_held(c: &CityCluster, acked: &[String]) {
    c.converged().await;
    for id in c.live() {
        let held = c.units_on(id).await;
        let missing: Vec<&String> = acked.iter().filter(|n| !held.contains(*n)).collect();
        assert!(
            missing.is_empty(),
            "replica {id} lacks {} acknowledged writes, e.g. {:?}",
            missing.len(),
            missing.first()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_leader_takes_over_and_no_acknowledged_write_is_lost() {
    let mut c = CityCluster::start(3, RaftSettings::default()).await;
    let w = Writers::start(4, c.addrs.values().copied().collect(), "failover");
    w.wait_for(30, Duration::from_secs(60)).await;
    let old = c.leader().await;
    c.kill(old).await;
    let new = c.leader().await;
    assert_ne!(new, old);
    w.wait_for(30, Duration::from_secs(60)).await;
    c.restart(old).await;
    w.wait_for(10, Duration::from_secs(60)).await;
    let acked = w.stop().await;
    assert_all_held(&c, &acked).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_every_replica_loses_no_acknowledged_write() {
    let mut c = CityCluster::start(3, RaftSettings::default()).await;
    let w = Writers::start(4, c.addrs.values().copied().collect(), "restart");
    w.wait_for(50, Duration::from_secs(60)).await;
    for id in [1, 2, 3] {
        c.kill(id).await;
    }
    let acked = w.stop().await;
    for id in [1, 2, 3] {
        c.restart(id).await;
    }
    c.leader().await;
    assert_all_held(&c, &acked).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_isolated_old_leader_acknowledges_nothing() {
    let c = CityCluster::start(3, RaftSettings::default()).await;
    let old = c.leader().await;
    // Signed in before the partition (a sign-in is a write the isolated leader cannot make).
    write_unit(c.addrs[&old], "before-the-partition").await.unwrap();
    let mut units = UnitServiceClient::new(channel(c.addrs[&old]).await);
    c.isolate(old, true);
    // The majority elects a new leader and serves writes.
    let new = eventually("a new leader among the others", Duration::from_secs(30), || async {
        for id in c.live().into_iter().filter(|i| *i != old) {
            let s = c.node(id).replica.status().await;
            if s.state == "leader" {
                return Some(id);
            }
        }
        None
    })
    .await;
    write_unit(c.addrs[&new], "majority-write").await.expect("the majority serves writes");
    // The old leader acknowledges no write, and serves no linearizable read.
    for i in 0..5 {
        let r = write_unit(c.addrs[&old], &format!("isolated-{i}")).await;
        assert!(r.is_err(), "the isolated leader acknowledged a write: {r:?}");
    }
    let mut read = tonic::Request::new(pb::ListUnitsRequest::default());
    read.set_timeout(Duration::from_secs(15));
    let r = units.list_units(read).await;
    assert!(r.is_err(), "an isolated replica served a linearizable read");
    // Stale reads are served from its own state.
    let held = units.list_units(stale_list_units()).await.expect("stale reads are served").into_inner();
    assert!(!held.units.iter().any(|u| u.name == "majority-write"));
    c.isolate(old, false);
    c.converged().await;
    assert!(c.units_on(old).await.contains("majority-write"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lagging_replica_catches_up_from_a_snapshot() {
    let settings = RaftSettings { snapshot_logs: 30, keep_logs: 5, ..RaftSettings::default() };
    let c = CityCluster::start(3, settings).await;
    let leader = c.leader().await;
    let lagging = c.live().into_iter().find(|i| *i != leader).unwrap();
    c.isolate(lagging, true);
    let mut acked = Vec::new();
    for i in 0..120 {
        let name = format!("while-away-{i}");
        write_unit(c.addrs[&leader], &name).await.expect("leader with a majority writes");
        acked.push(name);
    }
    // The leader compacted its log past what the lagging replica has.
    let leader_status = c.node(leader).replica.status().await;
    assert!(leader_status.snapshot_index.unwrap_or(0) > 30, "{leader_status:?}");
    c.isolate(lagging, false);
    assert_all_held(&c, &acked).await;
    let s = c.node(lagging).replica.status().await;
    assert!(s.snapshot_index.is_some(), "the lagging replica caught up through a snapshot: {s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn membership_changes_under_load() {
    let settings = RaftSettings { snapshot_logs: 50, keep_logs: 10, ..RaftSettings::default() };
    let mut c = CityCluster::start(3, settings).await;
    let w = Writers::start(3, c.addrs.values().copied().collect(), "membership");
    w.wait_for(20, Duration::from_secs(60)).await;
    let leader = c.leader().await;
    let mut admin = ClusterServiceClient::new(channel(c.addrs[&leader]).await);

    // A new replica joins as a learner, catches up, becomes a voter.
    let addr4 = c.add_node(4).await;
    admin.add_learner(pb::AddLearnerRequest { id: 4, addr: addr4, wait: true }).await.unwrap();
    let s = admin.promote(pb::PromoteRequest { ids: vec![4] }).await.unwrap().into_inner();
    assert!(s.replicas.iter().any(|r| r.id == 4 && r.role == "voter"));
    w.wait_for(20, Duration::from_secs(60)).await;

    // A follower leaves; its id is retired.
    let leaving = c.live().into_iter().find(|i| *i != leader && *i != 4).unwrap();
    let s = admin.remove_replica(pb::RemoveReplicaRequest { id: leaving }).await.unwrap().into_inner();
    assert!(!s.replicas.iter().any(|r| r.id == leaving));
    w.wait_for(20, Duration::from_secs(60)).await;
    c.kill(leaving).await;
    let again = admin
        .add_learner(pb::AddLearnerRequest { id: leaving, addr: "127.0.0.1:1".into(), wait: false })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{}", again.message());
    assert!(again.message().contains("used before"), "{}", again.message());

    // The wiped replica comes back under a new id and catches up from a snapshot.
    std::fs::remove_dir_all(c.dir.path().join(format!("city-{leaving}"))).unwrap();
    let addr5 = c.add_node(5).await;
    admin.add_learner(pb::AddLearnerRequest { id: 5, addr: addr5, wait: true }).await.unwrap();
    admin.promote(pb::PromoteRequest { ids: vec![5] }).await.unwrap();
    w.wait_for(20, Duration::from_secs(60)).await;
    let acked = w.stop().await;
    let members: BTreeSet<u64> = admin
        .get_cluster_status(pb::GetClusterStatusRequest {})
        .await
        .unwrap()
        .into_inner()
        .replicas
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(members, c.live().into_iter().collect::<BTreeSet<u64>>(), "the members are the replicas still running");
    assert_all_held(&c, &acked).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_on_followers_see_acknowledged_writes() {
    let c = CityCluster::start(3, RaftSettings::default()).await;
    let leader = c.leader().await;
    let followers: Vec<u64> = c.live().into_iter().filter(|i| *i != leader).collect();
    for i in 0..20 {
        let name = format!("read-your-write-{i}");
        // Written through one follower (forwarded to the leader), read at once on the other.
        write_unit(c.addrs[&followers[i % 2]], &name).await.unwrap();
        let mut units = UnitServiceClient::new(channel(c.addrs[&followers[(i + 1) % 2]]).await);
        let held = units.list_units(pb::ListUnitsRequest::default()).await.unwrap().into_inner();
        assert!(held.units.iter().any(|u| u.name == name), "a linearizable read missed an acknowledged write");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_through_a_follower_is_in_that_followers_own_state_when_acknowledged() {
    let c = CityCluster::start(3, RaftSettings::default()).await;
    let leader = c.leader().await;
    let follower = c.live().into_iter().find(|i| *i != leader).unwrap();
    let mut units = UnitServiceClient::new(channel(c.addrs[&follower]).await);
    // Without the wait the follower often, not always, learns of the commit after answering.
    for i in 0..50 {
        let name = format!("own-write-{i}");
        write_unit(c.addrs[&follower], &name).await.unwrap();
        // A stale-ok read answers from the follower's own state with no read barrier: the write
        // is there only if the follower applied it before acknowledging.
        let held = units.list_units(stale_list_units()).await.unwrap().into_inner();
        assert!(
            held.units.iter().any(|u| u.name == name),
            "write {i} acknowledged by replica {follower} before it applied it"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_during_an_election_waits_for_the_new_leader() {
    let c = CityCluster::initialised(3, RaftSettings::default(), None).await;
    // Straight after initialisation no replica knows a leader yet; each write is taken once
    // one is elected instead of being refused with UNAVAILABLE.
    for id in c.live() {
        write_unit(c.addrs[&id], &format!("while-electing-{id}")).await.unwrap();
    }
    let leader = c.leader().await;
    assert_eq!(c.units_on(leader).await.len(), 3);
}

/// The city's state database syncs less often than the raft log (a power cut may take its last
/// commits), while the log behind each snapshot is purged. Here a replica's state database is
/// put back to a copy older than its purged log, the worst such a cut could leave: at start the
/// replica takes its own snapshot first, replays the log after it, and holds every write.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_state_database_behind_the_purged_log_recovers_from_the_snapshot() {
    let settings = RaftSettings { snapshot_logs: 20, keep_logs: 2, ..RaftSettings::default() };
    let mut c = CityCluster::start(3, settings).await;
    let leader = c.leader().await;
    let follower = c.live().into_iter().find(|i| *i != leader).unwrap();
    let mut acked = Vec::new();
    for i in 0..3 {
        let name = format!("before-copy-{i}");
        write_unit(c.addrs[&leader], &name).await.expect("written");
        acked.push(name);
    }
    eventually("the follower holds the first writes", Duration::from_secs(30), || async {
        let held = c.units_on(follower).await;
        acked.iter().all(|n| held.contains(n)).then_some(())
    })
    .await;
    let copied_at = c.node(follower).replica.status().await.last_applied.unwrap_or(0);
    c.kill(follower).await;
    let state = c.dir.path().join(format!("city-{follower}"));
    let aside = tempfile::tempdir().unwrap();
    let files = ["state.db", "state.db-wal", "state.db-shm"];
    for f in files.iter().filter(|f| state.join(f).exists()) {
        std::fs::copy(state.join(f), aside.path().join(f)).unwrap();
    }
    c.restart(follower).await;

    for i in 0..60 {
        let name = format!("after-copy-{i}");
        write_unit(c.addrs[&leader], &name).await.expect("written");
        acked.push(name);
    }
    let purged = eventually("the follower purged its log past the copy", Duration::from_secs(30), || async {
        let m = c.node(follower).replica.raft.metrics().borrow().clone();
        m.purged.map(|p| p.index).filter(|p| *p > copied_at + 1)
    })
    .await;

    c.kill(follower).await;
    for f in files {
        let _ = std::fs::remove_file(state.join(f));
        if aside.path().join(f).exists() {
            std::fs::copy(aside.path().join(f), state.join(f)).unwrap();
        }
    }
    c.restart(follower).await;
    let s = c.node(follower).replica.status().await;
    assert!(s.last_applied.unwrap_or(0) >= purged, "applied {:?} behind the purged log at {purged}", s.last_applied);
    assert_all_held(&c, &acked).await;
}

/// Long reads (backups, ledger pages, sync batches) holding every reader connection of every
/// replica do not hold up writes: writes and raft apply have a connection of their own. Were
/// they to share the readers, the write below would wait out the pool's 30 s and fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_go_on_while_every_reader_connection_is_held() {
    let c = CityCluster::start(3, RaftSettings::default()).await;
    let leader = c.leader().await;
    write_unit(c.addrs[&leader], "before-the-reads").await.expect("written");
    let mut held = Vec::new();
    for id in c.live() {
        let store = c.node(id).replica.engine.store().clone();
        for _ in 0..store.reader_connections() {
            // An open read transaction, as a long export holds one.
            let mut view = store.read_view().await.unwrap();
            view.ledger_page(&xuncha_store::LedgerFilter { limit: 1, ..Default::default() }).await.unwrap();
            held.push(view);
        }
    }
    let written = tokio::time::timeout(Duration::from_secs(20), write_unit(c.addrs[&leader], "while-read")).await;
    written.expect("the write was held up by the reads").expect("written");
    for id in c.live() {
        eventually("every replica applies it", Duration::from_secs(20), || async {
            c.units_on(id).await.contains("while-read").then_some(())
        })
        .await;
    }
    drop(held);
}
