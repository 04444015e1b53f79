//! A county node restarted on its folder keeps everything; a crash loses no acknowledged write.

use std::time::Duration;

use xuncha_proto::v1 as pb;

use crate::fixtures::{Clients, county, eventually};
use crate::scenario::plan_round;

#[tokio::test]
async fn a_restarted_county_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let node = county(dir.path(), "c06").await;
    let mut c = Clients::connect(node.addr()).await;
    let plan = plan_round(&mut c).await;
    let before_round = c.rounds.get_round(pb::GetRoundRequest { id: plan.round.clone() }).await.unwrap().into_inner();
    let before = c.footprint().await;
    let pool = c.pool.list_persons(pb::ListPersonsRequest::default()).await.unwrap().into_inner();
    node.stop().await;

    let node = county(dir.path(), "c06").await;
    let mut c = Clients::connect(node.addr()).await;
    assert_eq!(c.footprint().await, before);
    assert_eq!(
        c.rounds.get_round(pb::GetRoundRequest { id: plan.round.clone() }).await.unwrap().into_inner(),
        before_round
    );
    assert_eq!(c.pool.list_persons(pb::ListPersonsRequest::default()).await.unwrap().into_inner(), pool);
    node.stop().await;
}

#[tokio::test]
async fn a_crash_under_writes_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let node = county(dir.path(), "c07").await;
    let mut c = Clients::connect(node.addr()).await;
    let plan = plan_round(&mut c).await;

    // Writers record findings until the node dies; every acknowledged id is kept.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut writers = Vec::new();
    for w in 0..4 {
        let mut findings = c.findings.clone();
        let target = plan.targets[w % plan.targets.len()].clone();
        let tx = tx.clone();
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let r = findings
                    .record_finding(pb::RecordFindingRequest {
                        target: target.clone(),
                        category: "style.formalism".into(),
                        title: format!("问题{w}-{i}"),
                        description: "d".into(),
                        tags: vec![],
                    })
                    .await;
                match r {
                    Ok(f) => {
                        let _ = tx.send(f.into_inner().id);
                    }
                    Err(_) => break,
                }
            }
        }));
    }
    drop(tx);
    // Let some writes through, then kill the node mid-stream.
    let mut acked = Vec::new();
    eventually("40 acknowledged writes", Duration::from_secs(60), || {
        while let Ok(id) = rx.try_recv() {
            acked.push(id);
        }
        std::future::ready((acked.len() >= 40).then_some(()))
    })
    .await;
    node.kill().await;
    for w in writers {
        w.await.unwrap();
    }
    while let Some(id) = rx.recv().await {
        acked.push(id);
    }

    let node = county(dir.path(), "c07").await;
    let mut c = Clients::connect(node.addr()).await;
    let held = c
        .findings
        .list_findings(pb::ListFindingsRequest { round: plan.round.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let held: std::collections::HashSet<String> = held.findings.into_iter().map(|f| f.id).collect();
    let lost: Vec<&String> = acked.iter().filter(|id| !held.contains(*id)).collect();
    assert!(lost.is_empty(), "{} acknowledged findings lost", lost.len());
    node.stop().await;
}
