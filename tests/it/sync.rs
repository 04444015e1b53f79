//! City–county sync over mTLS through a fault proxy: a county offline for a whole round,
//! streams cut mid-batch and the city leader killed mid-push, a randomized run with
//! partitions, restore from the city's copy, and who may push and pull what.

use std::time::Duration;

use tonic::Code;
use xuncha_domain::{Command, NodeId};
use xuncha_node::certs::Identity;
use xuncha_node::demo;
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::sync_service_client::SyncServiceClient;

use crate::federation::{COUNTIES, Federation};
use crate::fixtures::{Clients, admin, admin_session, eventually, tls_channel, unsigned};

/// Records `n` findings at the county's first in-progress target (a round must be running).
async fn findings(api: &xuncha_api::Api, n: usize, tag: &str) -> usize {
    let target = api
        .engine()
        .read(|s| {
            s.targets
                .values()
                .find(|t| {
                    t.feedback_on.is_none()
                        && s.rounds[&t.round].status == xuncha_domain::model::RoundStatus::InProgress
                })
                .map(|t| t.id)
        })
        .await
        .expect("a target under inspection");
    let group = admin_session(api).await;
    for i in 0..n {
        let cmd = xuncha_domain::finding::RecordFinding {
            target,
            category: "style.formalism".into(),
            tags: Default::default(),
            title: format!("{tag}-{i}"),
            description: "离线期间发现".into(),
        };
        api.execute(group.clone(), Command::RecordFinding(cmd)).await.unwrap();
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_county_offline_for_a_whole_round_converges_exactly() {
    let fed = Federation::start(&COUNTIES).await;
    let leader = fed.city.leader().await;
    fed.offline("anping", true);
    // Offline, the county runs a whole round of its own: plan, groups, findings, feedback,
    // leads, rectification; and more findings, thousands of changes in all.
    demo::seed_county_by(
        &fed.county("anping").api,
        Some(crate::fixtures::admin_session(&fed.county("anping").api).await),
        "安平县",
        11,
    )
    .await
    .unwrap();
    findings(&fed.county("anping").api, 800, "offline").await;
    let backlog = fed.county("anping").engine.outbox_seq();
    assert!(backlog > 2000, "only {backlog} changes");
    // Meanwhile the city plans its round and issues assignments to both counties.
    let counties: Vec<(&str, &str)> = vec![("anping", "安平县"), ("qinghe", "清河县")];
    demo::seed_city_by(
        &fed.city.node(leader).api,
        Some(crate::fixtures::admin_session(&fed.city.node(leader).api).await),
        &counties,
        5,
    )
    .await
    .unwrap();
    // The county that stayed online has its assignment; the offline one does not, yet.
    eventually("qinghe's assignment", Duration::from_secs(60), || async {
        fed.county("qinghe").engine.read(|s| (!s.assignments.is_empty()).then_some(())).await
    })
    .await;
    assert!(fed.county("anping").engine.read(|s| s.assignments.is_empty()).await);
    // The city saw nothing of anping's round.
    let anping = NodeId::county("anping").unwrap();
    assert_eq!(
        fed.city
            .node(leader)
            .replica
            .engine
            .read(|s| s.rounds.values().filter(|r| r.meta.owner == anping).count())
            .await,
        0
    );
    fed.offline("anping", false);
    fed.converged().await;
    // The county answers its assignment; the answer reaches the city.
    let assignment = fed.county("anping").engine.read(|s| *s.assignments.keys().next().unwrap()).await;
    let respond = xuncha_domain::linkage::RespondAssignment { assignment, accept: true, reason: None };
    let anping_admin = admin_session(&fed.county("anping").api).await;
    fed.county("anping").api.execute(anping_admin, Command::RespondAssignment(respond)).await.unwrap();
    fed.converged().await;
    let stage = fed.city.node(leader).replica.engine.read(|s| s.assignment_responses.contains_key(&assignment)).await;
    assert!(stage, "the county's answer reached the city");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cuts_mid_batch_and_a_leader_kill_lose_nothing_and_double_nothing() {
    let mut fed = Federation::start(&["anping"]).await;
    demo::seed_county_by(
        &fed.county("anping").api,
        Some(crate::fixtures::admin_session(&fed.county("anping").api).await),
        "安平县",
        12,
    )
    .await
    .unwrap();
    // Writes go on while the links are cut again and again.
    let api = fed.county("anping").api.clone();
    let writer = tokio::spawn(async move { findings(&api, 400, "cut").await });
    for _ in 0..15 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        fed.cut("anping");
    }
    // The city leader dies in the middle of it.
    let leader = fed.city.leader().await;
    fed.city.kill(leader).await;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        fed.cut("anping");
    }
    writer.await.unwrap();
    fed.city.restart(leader).await;
    fed.converged().await;
    // Exactly once in effect: the city's cursor is the county's last change for it, and it
    // holds each of the county's ledger events once.
    let anping = NodeId::county("anping").unwrap();
    let leader = fed.city.leader().await;
    let city_store = fed.city.node(leader).replica.engine.store().clone();
    let mut conn = crate::fixtures::inspect(&city_store).await.acquire().await.unwrap();
    let events_at_city: i64 = sqlx::query_scalar("SELECT count(*) FROM ledger WHERE node = 'county/anping'")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    let county_store = fed.county("anping").engine.store().clone();
    let mut cconn = crate::fixtures::inspect(&county_store).await.acquire().await.unwrap();
    let shared_events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE kind = 'ledger_event' AND audience = 'city'")
            .fetch_one(&mut *cconn)
            .await
            .unwrap();
    assert_eq!(events_at_city, shared_events);
    let applied = city_store.applied_seq(&anping).await.unwrap();
    let last_shared: i64 =
        sqlx::query_scalar("SELECT max(seq) FROM outbox WHERE audience = 'city'").fetch_one(&mut *cconn).await.unwrap();
    assert!(applied >= last_shared as u64, "city cursor {applied} short of {last_shared}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_county_that_lost_its_disk_is_rebuilt_from_the_city() {
    let mut fed = Federation::start(&["anping"]).await;
    demo::seed_county_by(
        &fed.county("anping").api,
        Some(crate::fixtures::admin_session(&fed.county("anping").api).await),
        "安平县",
        13,
    )
    .await
    .unwrap();
    fed.converged().await;
    let before: Vec<xuncha_domain::Record> = fed
        .county("anping")
        .engine
        .read(|s| {
            s.records()
                .filter(|r| {
                    r.owner() == &NodeId::county("anping").unwrap() && r.audience() == xuncha_domain::Audience::City
                })
                .collect()
        })
        .await;
    let seq = fed.county("anping").engine.outbox_seq();
    let handle = fed.counties.get_mut("anping").unwrap().handle.take().unwrap();
    handle.stop().await;
    std::fs::remove_dir_all(&fed.counties["anping"].dir).unwrap();
    let (restored, pushed) = xuncha_node::restore_county(&fed.config("anping")).await.unwrap();
    assert!(restored as usize >= before.len());
    assert_eq!(pushed, seq, "the county continues numbering after what the city holds");
    fed.start_county("anping").await;
    let after: Vec<xuncha_domain::Record> = fed
        .county("anping")
        .engine
        .read(|s| s.records().filter(|r| r.owner() == &NodeId::county("anping").unwrap()).collect())
        .await;
    assert_eq!(after.len(), before.len());
    // It works on after the rebuild, and the city takes its new changes.
    findings(&fed.county("anping").api, 5, "after-restore").await;
    fed.converged().await;
    // Restoring over a folder with records is refused.
    let err = xuncha_node::restore_county(&fed.config("anping")).await.unwrap_err();
    assert!(format!("{err:#}").contains("already holds"), "{err:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn identities_come_from_certificates_and_limit_what_flows() {
    let fed = Federation::start(&["anping"]).await;
    let leader = fed.city.leader().await;
    let addr = fed.city.addrs[&leader];

    // No certificate: refused at the handshake (or on the first call, with TLS 1.3).
    let ca = std::fs::read(fed.certs.join("ca.pem")).unwrap();
    let anonymous =
        tonic::transport::ClientTlsConfig::new().ca_certificate(tonic::transport::Certificate::from_pem(&ca));
    let ch = tonic::transport::Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(anonymous)
        .unwrap()
        .connect()
        .await;
    if let Ok(ch) = ch {
        let r = pb::node_service_client::NodeServiceClient::new(ch).get_status(pb::GetStatusRequest {}).await;
        assert!(r.is_err(), "a client without a certificate was served");
    }
    // A certificate from another CA: refused likewise.
    let other = tempfile::tempdir().unwrap();
    xuncha_node::certs::make(other.path(), &[Identity::Operator("mallory".into())], &[]).unwrap();
    let foreign = xuncha_node::certs::files(other.path(), &Identity::Operator("mallory".into()));
    let foreign = xuncha_node::TlsFiles { ca: fed.certs.join("ca.pem"), ..foreign };
    if let Ok(ch) = tls_channel(addr, Some(&foreign)).await {
        let r = pb::node_service_client::NodeServiceClient::new(ch).get_status(pb::GetStatusRequest {}).await;
        assert!(r.is_err(), "a certificate from another CA was accepted");
    }
    // An operator certificate is served node status but may not sync, nor do staff work
    // without signing in; a county may not use staff APIs.
    let raw_op = tls_channel(addr, Some(&fed.operator())).await.unwrap();
    let mut op = Clients::over(unsigned(raw_op));
    op.node.get_status(pb::GetStatusRequest {}).await.expect("operators are served");
    let no_token = op.units.list_units(pb::ListUnitsRequest::default()).await.unwrap_err();
    assert_eq!(no_token.code(), Code::Unauthenticated, "an operator certificate alone does no staff work");
    let mut as_op = SyncServiceClient::new(tls_channel(addr, Some(&fed.operator())).await.unwrap());
    assert_eq!(as_op.hello(pb::HelloRequest::default()).await.unwrap_err().code(), Code::PermissionDenied);
    let county_tls = fed.tls(Identity::County("intruder".into()));
    let mut as_county = Clients::over(unsigned(tls_channel(addr, Some(&county_tls)).await.unwrap()));
    assert_eq!(as_county.node.get_status(pb::GetStatusRequest {}).await.unwrap_err().code(), Code::PermissionDenied);

    // A county pushing a record owned by another county: refused, nothing written.
    let anping_unit = xuncha_domain::Record::Unit(xuncha_domain::model::Unit {
        id: xuncha_domain::ids::UnitId(uuid::Uuid::now_v7()),
        meta: xuncha_domain::Meta {
            owner: NodeId::county("anping").unwrap(),
            version: 1,
            updated_at: chrono::Utc::now(),
        },
        name: "冒名单位".into(),
        kind: xuncha_domain::model::UnitKind::Township,
        parent: None,
    });
    let change = pb::Change {
        seq: 1,
        kind: "unit".into(),
        id: anping_unit.id_string(),
        version: 1,
        body: serde_json::to_vec(&anping_unit).unwrap(),
    };
    let mut intruder = SyncServiceClient::new(tls_channel(addr, Some(&county_tls)).await.unwrap());
    let batch = pb::PushBatch { changes: vec![change], reached: 1, pulled: 0, backlog: 0 };
    let r = intruder.push(tokio_stream::iter(vec![batch])).await;
    let status = match r {
        Err(s) => s,
        Ok(acks) => {
            use tokio_stream::StreamExt;
            acks.into_inner().next().await.expect("an answer").expect_err("the push must be refused")
        }
    };
    assert_eq!(status.code(), Code::PermissionDenied, "{}", status.message());
    assert!(!fed.city.node(leader).replica.engine.read(|s| s.units.values().any(|u| u.name == "冒名单位")).await);

    // Pulling another county's changes: refused.
    let err =
        intruder.pull(pb::PullRequest { after: 0, wait_ms: 0, county: "anping".into(), batch: 0 }).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // Its own pull reveals nothing addressed to anping.
    let mut op_linkage = pb::supervision_service_client::SupervisionServiceClient::new(
        admin(tls_channel(addr, Some(&fed.operator())).await.unwrap()).await,
    );
    let respond_by = (chrono::Utc::now() + chrono::Duration::days(30)).date_naive().to_string();
    op_linkage
        .issue_notice(pb::IssueNoticeRequest {
            addressee_county: "anping".into(),
            level: pb::NoticeLevel::Supervision as i32,
            text: "请加快整改".into(),
            respond_by,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut stream = intruder
        .pull(pb::PullRequest { after: 0, wait_ms: 0, county: String::new(), batch: 0 })
        .await
        .unwrap()
        .into_inner();
    while let Some(b) = stream.message().await.unwrap() {
        for c in b.changes {
            assert_ne!(c.kind, "notice", "another county's notice leaked");
        }
    }
    // The notice does reach anping.
    eventually("the notice at anping", Duration::from_secs(60), || async {
        fed.county("anping").engine.read(|s| (!s.notices.is_empty()).then_some(())).await
    })
    .await;
}
