//! Online backups taken under writes restore to nodes that serve the same data.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio_stream::StreamExt;
use xuncha_node::backup::{RestoreAs, restore_backup};
use xuncha_node::{CityConfig, start_city};
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::node_service_client::NodeServiceClient;
use xuncha_replication::raft::{RaftSettings, ReplicaNode};

use crate::city::{CityCluster, Writers, write_unit};
use crate::fixtures::{Clients, all_events, channel, county, eventually};
use crate::scenario::plan_round;

/// Streams a backup of the node at `addr` into `path`.
async fn backup(addr: std::net::SocketAddr, path: &std::path::Path) {
    let mut stream =
        NodeServiceClient::new(channel(addr).await).backup(pb::BackupRequest {}).await.unwrap().into_inner();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend(chunk.unwrap().data);
    }
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_county_backup_taken_under_writes_restores_to_a_node_with_the_same_data() {
    let dir = tempfile::tempdir().unwrap();
    let node = county(&dir.path().join("live"), "c20").await;
    let mut c = Clients::connect(node.addr()).await;
    let plan = plan_round(&mut c).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (mut findings, target, stop) = (c.findings.clone(), plan.targets[0].clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let r = findings
                    .record_finding(pb::RecordFindingRequest {
                        target: target.clone(),
                        category: "style.formalism".into(),
                        title: format!("备份中-{i}"),
                        description: "d".into(),
                        tags: vec![],
                    })
                    .await
                    .unwrap();
                let _ = tx.send(r.into_inner().id);
                i += 1;
            }
        })
    };
    let mut before = Vec::new();
    eventually("writes under way", Duration::from_secs(30), || {
        while let Ok(id) = rx.try_recv() {
            before.push(id);
        }
        std::future::ready((before.len() >= 20).then_some(()))
    })
    .await;
    let file = dir.path().join("c20.backup");
    backup(node.addr(), &file).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.await.unwrap();
    let mut all = before.clone();
    while let Ok(id) = rx.try_recv() {
        all.push(id);
    }

    restore_backup(&file, &dir.path().join("restored"), &RestoreAs::County("c20".into())).await.unwrap();
    let restored = county(&dir.path().join("restored"), "c20").await;
    let mut r = Clients::connect(restored.addr()).await;
    let held: BTreeSet<String> = r
        .findings
        .list_findings(pb::ListFindingsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .findings
        .into_iter()
        .map(|f| f.id)
        .collect();
    // Everything acknowledged before the backup began is there, and nothing that was never written.
    assert!(before.iter().all(|id| held.contains(id)), "a finding acknowledged before the backup is missing");
    assert!(held.iter().all(|id| all.contains(id)));
    // Consistent: every finding in the copy has its ledger event.
    let events =
        all_events(&mut r.ledger, pb::ListEventsRequest { subject_kind: "finding".into(), ..Default::default() }).await;
    let with_events: BTreeSet<String> = events.into_iter().map(|e| e.subject_id).collect();
    assert!(held.iter().all(|id| with_events.contains(id)));
    // A restored county is the same node: the backup of another county is refused.
    let err = restore_backup(&file, &dir.path().join("other"), &RestoreAs::County("c21".into())).await.unwrap_err();
    assert!(err.to_string().contains("not county/c21"), "{err}");
    node.stop().await;
    restored.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_city_backup_restores_as_a_new_cluster_that_new_replicas_join() {
    let c = CityCluster::start(3, RaftSettings::default()).await;
    let w = Writers::start(3, c.addrs.values().copied().collect(), "before-backup");
    w.wait_for(30, Duration::from_secs(60)).await;
    let follower = c.live().into_iter().find(|i| *i != 1).unwrap();
    // A follower's copy may trail the acknowledged writes by a heartbeat: back it up once it holds 30.
    eventually("the follower to hold 30 units", Duration::from_secs(60), || async {
        (c.units_on(follower).await.len() >= 30).then_some(())
    })
    .await;
    let file = c.dir.path().join("city.backup");
    backup(c.addrs[&follower], &file).await;
    let acked = w.stop().await;

    // The backup becomes replica 7 of a new cluster, initialised with itself.
    let dir = tempfile::tempdir().unwrap();
    restore_backup(&file, &dir.path().join("city-7"), &RestoreAs::Replica(7)).await.unwrap();
    let seven =
        start_city(CityConfig::new(7, &dir.path().join("city-7"), "127.0.0.1:0".parse().unwrap())).await.unwrap();
    seven.replica.initialize(BTreeMap::from([(7, ReplicaNode { addr: seven.advertised() })])).await.unwrap();
    let held = |h: &xuncha_node::CityHandle| {
        let engine = h.replica.engine.clone();
        async move { engine.read(|s| s.units.values().map(|u| u.name.clone()).collect::<BTreeSet<_>>()).await }
    };
    let restored = held(&seven).await;
    // What the backup holds is a prefix of the acknowledged writes (taken under writes).
    assert!(restored.len() >= 30 && restored.iter().all(|n| acked.contains(n)), "{} units restored", restored.len());
    // It serves writes, and a new replica joins and holds the restored data too.
    write_unit(seven.addr(), "after-restore").await.unwrap();
    eventually("the restored state to be snapshotted", Duration::from_secs(60), || async {
        (!dir.path().join("city-7").join(xuncha_node::backup::RESTORED_MARKER).exists()).then_some(())
    })
    .await;
    let eight =
        start_city(CityConfig::new(8, &dir.path().join("city-8"), "127.0.0.1:0".parse().unwrap())).await.unwrap();
    seven.replica.add_learner(8, eight.advertised(), true).await.unwrap();
    seven.replica.promote([8].into()).await.unwrap();
    let want: BTreeSet<String> = held(&seven).await;
    eventually("the new replica to hold the restored data", Duration::from_secs(60), || async {
        (held(&eight).await == want).then_some(())
    })
    .await;
    seven.stop().await;
    eight.stop().await;
}
