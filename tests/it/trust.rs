//! The city trusts nothing in a county's push that it can check: who owns the record already,
//! whom an answer answers, what roles a county account carries, the record's bounds. A refused
//! push changes nothing at the city, and the county shows the refusal instead of retrying.

use std::time::Duration;

use tokio_stream::StreamExt;
use tonic::Code;
use xuncha_domain::account::{Account, AccountStatus};
use xuncha_domain::authz::{Grant, RoleCode, Scope};
use xuncha_domain::ids::{AccountId, NoticeId, RoundId, TermId, UnitId};
use xuncha_domain::model::{GroupSize, NoticeResponse, Round, RoundDates, RoundStatus};
use xuncha_domain::{Meta, NodeId, Outcome, Record};
use xuncha_node::certs::Identity;
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::supervision_service_client::SupervisionServiceClient;
use xuncha_proto::v1::sync_service_client::SyncServiceClient;
use xuncha_proto::v1::unit_service_client::UnitServiceClient;

use crate::federation::Federation;
use crate::fixtures::{admin, eventually, tls_channel};

fn meta(owner: &NodeId, version: u64) -> Meta {
    Meta { owner: owner.clone(), version, updated_at: chrono::Utc::now() }
}

/// Pushes `records` as one batch with the certificate of county `code`; the city's answer.
async fn push_as(fed: &Federation, addr: std::net::SocketAddr, code: &str, records: &[Record]) -> tonic::Status {
    let tls = fed.tls(Identity::County(code.into()));
    let mut client = SyncServiceClient::new(tls_channel(addr, Some(&tls)).await.unwrap());
    let changes: Vec<pb::Change> = records
        .iter()
        .enumerate()
        .map(|(i, r)| pb::Change {
            seq: i as u64 + 1,
            kind: r.kind().as_str().into(),
            id: r.id_string(),
            version: r.version(),
            body: serde_json::to_vec(r).unwrap(),
        })
        .collect();
    let batch = pb::PushBatch { reached: changes.len() as u64, changes, pulled: 0, backlog: 0 };
    match client.push(tokio_stream::iter(vec![batch])).await {
        Err(s) => s,
        Ok(acks) => match acks.into_inner().next().await.expect("an answer") {
            Err(s) => s,
            Ok(ack) => panic!("the push was applied: {ack:?}"),
        },
    }
}

fn round(owner: &NodeId, id: RoundId, report_due_months: u32) -> Record {
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    Record::Round(Round {
        id,
        meta: meta(owner, 1),
        term: TermId(uuid::Uuid::now_v7()),
        number: 3,
        name: "伪造的轮次".into(),
        dates: RoundDates { enter_on: day("2026-03-01"), leave_on: day("2026-04-30"), feedback_on: day("2026-05-20") },
        report_due_months,
        group_size: GroupSize::default(),
        status: RoundStatus::Draft,
        amendments: vec![],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_county_may_push_only_its_own_records_and_answers_to_what_was_addressed_to_it() {
    let fed = Federation::start(&["anping"]).await;
    let leader = fed.city.leader().await;
    let addr = fed.city.addrs[&leader];
    let city = fed.city.node(leader).replica.engine.clone();
    let intruder = NodeId::county("intruder").unwrap();
    let office = admin(tls_channel(addr, Some(&fed.operator())).await.unwrap()).await;
    let unit = UnitServiceClient::new(office.clone())
        .register_unit(pb::RegisterUnitRequest {
            name: "市财政局".into(),
            kind: pb::UnitKind::CityDepartment as i32,
            parent: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let notice = SupervisionServiceClient::new(office.clone())
        .issue_notice(pb::IssueNoticeRequest {
            addressee_county: "anping".into(),
            level: pb::NoticeLevel::Supervision as i32,
            text: "请加快整改".into(),
            respond_by: (chrono::Utc::now() + chrono::Duration::days(30)).date_naive().to_string(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let unit_id = UnitId::parse("unit", &unit.id).unwrap();
    let before = city.read(|s| s.units[&unit_id].clone()).await;

    // Taking over the city's unit: the stored owner decides, not the one written in the push.
    let mut taken = before.clone();
    taken.meta = meta(&intruder, 99);
    taken.name = "被篡改的单位".into();
    let refused = push_as(&fed, addr, "intruder", &[Record::Unit(taken)]).await;
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert!(refused.message().contains(&unit.id) && refused.message().contains("city"), "{}", refused.message());

    // Answering another county's notice.
    let answer = Record::NoticeResponse(NoticeResponse {
        id: NoticeId::parse("notice", &notice.id).unwrap(),
        meta: meta(&intruder, 1),
        text: "已整改".into(),
        responded_on: chrono::Utc::now().date_naive(),
    });
    let refused = push_as(&fed, addr, "intruder", &[answer]).await;
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert!(refused.message().contains("county/anping"), "{}", refused.message());

    // A county account carrying a city-wide role.
    let account = Record::Account(Account {
        id: AccountId(uuid::Uuid::now_v7()),
        meta: meta(&intruder, 1),
        username: "boss".into(),
        display_name: "假主任".into(),
        status: AccountStatus::Active,
        password_hash: String::new(),
        epoch: 1,
        must_change_password: false,
        grants: vec![Grant::new(RoleCode::OfficeHead, Scope::City)],
    });
    let refused = push_as(&fed, addr, "intruder", &[account]).await;
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert!(refused.message().contains("授予"), "{}", refused.message());

    // A county round whose report is due in four billion months: refused before anything
    // runs on it, and the city goes on writing.
    let refused = push_as(&fed, addr, "intruder", &[round(&intruder, RoundId(uuid::Uuid::now_v7()), u32::MAX)]).await;
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(refused.message().contains("report_due_months"), "{}", refused.message());
    let t0 = std::time::Instant::now();
    UnitServiceClient::new(office)
        .register_unit(pb::RegisterUnitRequest {
            name: "市审计局".into(),
            kind: pb::UnitKind::CityDepartment as i32,
            parent: String::new(),
        })
        .await
        .unwrap();
    assert!(t0.elapsed() < Duration::from_secs(30), "city writes go on");

    // A good batch with one bad change is refused whole.
    let own = round(&intruder, RoundId(uuid::Uuid::now_v7()), 2);
    let mut taken = before.clone();
    taken.meta = meta(&intruder, 100);
    let refused = push_as(&fed, addr, "intruder", &[own.clone(), Record::Unit(taken)]).await;
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");

    // Nothing of any of it is held, and the unit is as the city made it.
    assert_eq!(city.read(|s| s.units[&unit_id].clone()).await, before);
    assert!(city.read(|s| s.records().all(|r| r.owner() != &intruder)).await);
    // Its own round alone goes through.
    let tls = fed.tls(Identity::County("intruder".into()));
    let mut client = SyncServiceClient::new(tls_channel(addr, Some(&tls)).await.unwrap());
    let change = pb::Change {
        seq: 1,
        kind: "round".into(),
        id: own.id_string(),
        version: 1,
        body: serde_json::to_vec(&own).unwrap(),
    };
    let batch = pb::PushBatch { changes: vec![change], reached: 1, pulled: 0, backlog: 0 };
    let ack = client.push(tokio_stream::iter(vec![batch])).await.unwrap().into_inner().next().await.unwrap().unwrap();
    assert_eq!(ack.new_changes, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_county_shows_a_refused_push_and_keeps_pulling_instead_of_retrying() {
    let fed = Federation::start(&["anping"]).await;
    let leader = fed.city.leader().await;
    let addr = fed.city.addrs[&leader];
    let office = admin(tls_channel(addr, Some(&fed.operator())).await.unwrap()).await;
    let unit = UnitServiceClient::new(office.clone())
        .register_unit(pb::RegisterUnitRequest {
            name: "市教育局".into(),
            kind: pb::UnitKind::CityDepartment as i32,
            parent: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let unit_id = UnitId::parse("unit", &unit.id).unwrap();
    let county = fed.county("anping");
    let anping = NodeId::county("anping").unwrap();

    // A defect (or a tampered database) puts a record into the county's outbox under the id of
    // a city record: committed the way the county commits its own writes.
    let held = fed.city.node(leader).replica.engine.read(|s| s.units[&unit_id].clone()).await;
    let mut bad = held;
    bad.meta = meta(&anping, 5);
    let outcome = Outcome { records: vec![Record::Unit(bad)], ..Default::default() };
    {
        let _state = county.engine.write_state().await;
        let seq = county
            .engine
            .store()
            .commit_outcomes(std::slice::from_ref(&outcome), county.engine.outbox_seq(), &[])
            .await
            .unwrap();
        county.engine.publish_outbox(seq);
    }

    // The county shows it: sync state, the city link's status, the metrics, its ledger.
    let sync = county.sync.as_ref().unwrap();
    let why = eventually("the refusal to show", Duration::from_secs(60), || async {
        sync.state.borrow().push_refused.clone()
    })
    .await;
    assert!(why.contains(&unit.id), "{why}");
    let local = admin(tls_channel(county.addr(), Some(&fed.operator())).await.unwrap()).await;
    let status = pb::node_service_client::NodeServiceClient::new(local.clone())
        .get_status(pb::GetStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    let link = status.peers.iter().find(|p| p.node == "city").expect("the city link");
    assert!(link.refused.contains(&unit.id) && link.refused_at.is_some(), "{link:?}");
    let text = crate::metrics::scrape(county.metrics.as_ref().expect("metrics served").0).await;
    assert!(text.contains("xuncha_sync_peer_refused{peer=\"city\"} 1"), "{text}");
    let filter = xuncha_store::LedgerFilter { action_prefix: Some("sync.refused".into()), ..Default::default() };
    let logged = county.engine.store().ledger_page(&filter).await.unwrap();
    assert_eq!(logged.len(), 1, "one ledger event for the refusal");

    // The city holds none of it, and shows the refusal on the county's link too.
    let city = fed.city.node(leader).replica.engine.clone();
    assert_eq!(city.read(|s| s.units[&unit_id].meta.owner.clone()).await, NodeId::city());
    let links = city.store().peer_statuses().await.unwrap();
    let at_city = links.iter().find(|p| p.node == anping).and_then(|p| p.refused.clone()).expect("noted at the city");
    assert!(at_city.0.contains(&unit.id), "{at_city:?}");

    // Pulling goes on: what the city addresses to the county still arrives.
    let notice = SupervisionServiceClient::new(office)
        .issue_notice(pb::IssueNoticeRequest {
            addressee_county: "anping".into(),
            level: pb::NoticeLevel::Supervision as i32,
            text: "推送被拒后仍应收到".into(),
            respond_by: (chrono::Utc::now() + chrono::Duration::days(30)).date_naive().to_string(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let notice_id = NoticeId::parse("notice", &notice.id).unwrap();
    eventually("the notice to reach the county", Duration::from_secs(60), || async {
        county.engine.read(|s| s.notices.contains_key(&notice_id)).await.then_some(())
    })
    .await;
    assert!(sync.state.borrow().push_refused.is_some(), "pushing still waits");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_check_whom_they_reached_and_who_sent_a_raft_message() {
    let fed = Federation::start(&["anping"]).await;
    let leader = fed.city.leader().await;
    let as_county = fed.tls(Identity::County("anping".into())).node_tls(Default::default()).unwrap();

    // A county reaches the city ...
    let city = fed.city.addrs[&leader].to_string();
    let mut sync = xuncha_replication::sync::client(&city, &as_county).unwrap();
    sync.hello(pb::HelloRequest::default()).await.expect("the city is the city");
    // ... and refuses any other certificate of the same CA posing as it (here a county node).
    let other = fed.county("anping").addr().to_string();
    let mut posing = xuncha_replication::sync::client(&other, &as_county).unwrap();
    let refused = posing.hello(pb::HelloRequest::default()).await.unwrap_err();
    let why = format!("{refused:?}");
    assert!(why.contains("NotValidForName") || why.contains("certificate"), "{why}");

    // A replica's certificate sending a raft message in another replica's name.
    let follower = *fed.city.addrs.keys().find(|id| **id != leader).unwrap();
    let other_follower = *fed.city.addrs.keys().find(|id| **id != leader && **id != follower).unwrap();
    let tls = fed.tls(Identity::Replica(follower));
    let mut raft = xuncha_proto::v1::raft_service_client::RaftServiceClient::new(
        tls_channel(fed.city.addrs[&other_follower], Some(&tls)).await.unwrap(),
    );
    let vote = openraft::raft::VoteRequest::<u64> { vote: openraft::Vote::new(1_000, leader), last_log_id: None };
    let refused = raft.vote(xuncha_replication::raft::encode(&vote).unwrap()).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert!(refused.message().contains(&format!("replica {leader}")), "{}", refused.message());
    // The cluster's term is untouched by it.
    let term = fed.city.node(other_follower).replica.status().await.term;
    assert!(term < 1_000, "term {term}");
}

/// Sizes at the edge: too many changes in a batch, one change too big, an unknown kind, a
/// message too big.
/// Each is refused before anything is parsed or applied, and the city holds nothing of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oversized_pushes_are_refused_and_change_nothing() {
    let fed = Federation::start(&[]).await;
    let leader = fed.city.leader().await;
    let addr = fed.city.addrs[&leader];
    let city = fed.city.node(leader).replica.engine.clone();
    let intruder = NodeId::county("intruder").unwrap();
    let records_before = city.read(|s| s.records().count()).await;

    let many: Vec<Record> =
        (0..=xuncha_store::MAX_CHANGES_PER_BATCH).map(|_| round(&intruder, RoundId(uuid::Uuid::now_v7()), 2)).collect();
    let refused = push_as(&fed, addr, "intruder", &many).await;
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(refused.message().contains("more than 1000"), "{refused:?}");

    let raw = |seq: u64, bytes: usize| pb::Change {
        seq,
        kind: "round".into(),
        id: uuid::Uuid::now_v7().to_string(),
        version: 1,
        body: vec![b' '; bytes],
    };
    let send = |changes: Vec<pb::Change>| {
        let tls = fed.tls(Identity::County("intruder".into()));
        async move {
            let mut client = SyncServiceClient::new(tls_channel(addr, Some(&tls)).await.unwrap())
                .max_encoding_message_size(usize::MAX);
            let batch = pb::PushBatch { reached: changes.len() as u64, changes, pulled: 0, backlog: 0 };
            match client.push(tokio_stream::iter(vec![batch])).await {
                Err(s) => s,
                Ok(acks) => acks.into_inner().next().await.expect("an answer").expect_err("refused"),
            }
        }
    };
    let refused = send(vec![raw(1, xuncha_store::MAX_CHANGE_BYTES + 1)]).await;
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(refused.message().contains("change 1: round"), "{refused:?}");

    // A kind the city does not know is refused before its body is read.
    let mut unknown = raw(1, 2);
    unknown.kind = "secret_table".into();
    let refused = send(vec![unknown]).await;
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(refused.message().contains(r#"change 1: kind "secret_table""#), "{refused:?}");

    // Each change within its bound, the message over its own.
    let n = xuncha_store::MAX_SYNC_MESSAGE_BYTES / xuncha_store::MAX_CHANGE_BYTES + 1;
    let refused = send((1..=n as u64).map(|seq| raw(seq, xuncha_store::MAX_CHANGE_BYTES)).collect()).await;
    assert!(matches!(refused.code(), Code::OutOfRange | Code::ResourceExhausted), "{refused:?}");

    assert_eq!(city.read(|s| s.records().count()).await, records_before);
    assert!(city.read(|s| s.records().all(|r| r.owner() != &intruder)).await);
}

/// A revoked certificate is refused by running nodes within seconds, on a connection opened
/// before the revocation too, and accepted again once it is taken off the list; no restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoked_certificate_is_refused_without_a_restart() {
    let fed = Federation::start(&["anping"]).await;
    let leader = fed.city.leader().await;
    let tls = fed.tls(Identity::County("anping".into()));
    let mut sync = SyncServiceClient::new(tls_channel(fed.city.addrs[&leader], Some(&tls)).await.unwrap());
    sync.hello(pb::HelloRequest::default()).await.expect("the county is admitted");

    let list = fed.certs.join(xuncha_node::certs::REVOKED_FILE);
    let revoked = xuncha_node::certs::revoke(&list, std::slice::from_ref(&tls.cert)).unwrap();
    assert_eq!(revoked.len(), 1);
    assert!(revoked[0].1.contains("anping"), "{revoked:?}");
    let refused = eventually("the open connection is refused", Duration::from_secs(20), || {
        let mut sync = sync.clone();
        async move { sync.hello(pb::HelloRequest::default()).await.err().filter(|s| s.code() == Code::PermissionDenied) }
    })
    .await;
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert!(
        refused.message().contains("revoked") && refused.message().contains(&revoked[0].0),
        "{}",
        refused.message()
    );
    // Every replica reads the list: a new connection to a follower is refused as well (where it
    // would otherwise be pointed to the leader).
    let other = *fed.city.addrs.keys().find(|id| **id != leader).unwrap();
    let fresh = SyncServiceClient::new(tls_channel(fed.city.addrs[&other], Some(&tls)).await.unwrap());
    let refused =
        eventually("the other replica refuses too", Duration::from_secs(20), || {
            let mut fresh = fresh.clone();
            async move {
                fresh.hello(pb::HelloRequest::default()).await.err().filter(|s| s.code() == Code::PermissionDenied)
            }
        })
        .await;
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    // Other certificates are untouched.
    let ops = fed.tls(Identity::Operator("test".into()));
    let mut other_cert = SyncServiceClient::new(tls_channel(fed.city.addrs[&leader], Some(&ops)).await.unwrap());
    if let Err(s) = other_cert.hello(pb::HelloRequest::default()).await {
        assert!(!s.message().contains("revoked"), "{s:?}");
    }

    // Taken off the list (a comment and a blank line left), it is admitted again.
    std::fs::write(&list, "# emptied\n\n").unwrap();
    eventually("admitted again", Duration::from_secs(20), || {
        let mut fresh = fresh.clone();
        async move {
            match fresh.hello(pb::HelloRequest::default()).await {
                Err(s) if s.code() == Code::PermissionDenied => None,
                _ => Some(()),
            }
        }
    })
    .await;
    sync.hello(pb::HelloRequest::default()).await.expect("the first connection too");
}

/// A county refuses a city replica whose certificate was revoked (a stolen replica key posing
/// as the city) from its next connection on, without a restart; the other replicas still reach
/// it. The check is the county's own, as a client: the impostor would not refuse itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_county_refuses_a_city_replica_whose_certificate_was_revoked() {
    let fed = Federation::start(&["anping"]).await;
    let leader = fed.city.leader().await;
    let list = fed.certs.join(xuncha_node::certs::REVOKED_FILE);
    let county = fed
        .tls(Identity::County("anping".into()))
        .node_tls(xuncha_replication::revocation::Revoked::watch(list.clone()))
        .unwrap();
    let at = |id: u64| fed.city.addrs[&id].to_string();
    let mut before = xuncha_replication::sync::client(&at(leader), &county).unwrap();
    before.hello(pb::HelloRequest::default()).await.expect("the city is reached before the revocation");

    let revoked = xuncha_node::certs::revoke(&list, &[fed.tls(Identity::Replica(leader)).cert]).unwrap();
    let why = eventually("the county to refuse the revoked replica", Duration::from_secs(20), || async {
        let mut fresh = xuncha_replication::sync::client(&at(leader), &county).unwrap();
        let why = format!("{:?}", fresh.hello(pb::HelloRequest::default()).await.err()?);
        why.contains("revoked").then_some(why)
    })
    .await;
    assert!(why.contains(&revoked[0].0), "the refusal names the fingerprint: {why}");
    // Another replica's certificate is still taken (it answers, or points to the leader).
    let other = *fed.city.addrs.keys().find(|id| **id != leader).unwrap();
    let mut fine = xuncha_replication::sync::client(&at(other), &county).unwrap();
    if let Err(s) = fine.hello(pb::HelloRequest::default()).await {
        assert!(!format!("{s:?}").contains("revoked"), "{s:?}");
    }
}

/// Certificates renewed in place are picked up without a restart: the leader presents its new
/// certificate from the next handshake on, and a county whose certificate was revoked (a leaked
/// key) is shut out until its renewed one is in place, then syncs again with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn renewed_certificates_are_picked_up_without_a_restart() {
    let fed = Federation::start(&["anping"]).await;
    let leader = fed.city.leader().await;
    let county_id = Identity::County("anping".into());
    let keep = tempfile::tempdir().unwrap();
    let old_leader = keep.path().join("leader.pem");
    std::fs::copy(fed.tls(Identity::Replica(leader)).cert, &old_leader).unwrap();

    // A client of our own that takes the leader's old certificate for revoked: it connects only
    // once the leader presents another.
    let mine = keep.path().join("mine.txt");
    xuncha_node::certs::revoke(&mine, std::slice::from_ref(&old_leader)).unwrap();
    let probe = fed
        .tls(Identity::Operator("test".into()))
        .node_tls(xuncha_replication::revocation::Revoked::watch(mine))
        .unwrap();
    let hello = || async {
        let mut c = xuncha_replication::sync::client(&fed.city.addrs[&leader].to_string(), &probe).unwrap();
        format!("{:?}", c.hello(pb::HelloRequest::default()).await.err())
    };
    assert!(hello().await.contains("revoked"), "the old certificate is presented before renewal");

    // The county's certificate is revoked everywhere: its sync is shut out (and retries).
    let list = fed.certs.join(xuncha_node::certs::REVOKED_FILE);
    xuncha_node::certs::revoke(&list, &[fed.tls(county_id.clone()).cert]).unwrap();
    let sync = fed.county("anping").sync.as_ref().unwrap();
    eventually("the county to be shut out", Duration::from_secs(30), || async {
        sync.state.borrow().last_error.as_ref().filter(|e| e.contains("revoked")).map(|_| ())
    })
    .await;
    let county = admin(tls_channel(fed.county("anping").addr(), Some(&fed.operator())).await.unwrap()).await;
    let unit = UnitServiceClient::new(county)
        .register_unit(pb::RegisterUnitRequest {
            name: "续期后登记的单位".into(),
            kind: pb::UnitKind::Township as i32,
            parent: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let unit_id = UnitId::parse("unit", &unit.id).unwrap();

    // Both renewed in place, with new keys.
    xuncha_node::certs::make_at(
        &fed.certs,
        &[Identity::Replica(leader), county_id.clone()],
        &[],
        xuncha_node::certs::Renew::Now,
        chrono::Utc::now(),
    )
    .unwrap();
    eventually("the leader to present its renewed certificate", Duration::from_secs(20), || async {
        (!hello().await.contains("revoked")).then_some(())
    })
    .await;
    eventually("the county's change to reach the city with its new certificate", Duration::from_secs(60), || async {
        let city = fed.city.node(fed.city.leader().await).replica.engine.clone();
        city.read(|s| s.units.contains_key(&unit_id)).await.then_some(())
    })
    .await;
    assert!(sync.state.borrow().push_refused.is_none(), "a revoked certificate is not a refused change");
}

/// A follower whose key leaked is renewed in place and its old certificate revoked: the calls
/// it forwards to the leader, refused on the connection opened with the old certificate, go
/// through again once it dials anew with the renewed one; no restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_renewed_and_revoked_goes_on_without_a_restart() {
    let fed = Federation::start(&[]).await;
    let leader = fed.city.leader().await;
    let follower = *fed.city.addrs.keys().find(|id| **id != leader).unwrap();
    let office = admin(tls_channel(fed.city.addrs[&follower], Some(&fed.operator())).await.unwrap()).await;
    let register = |name: &'static str| {
        let mut units = UnitServiceClient::new(office.clone());
        async move {
            units
                .register_unit(pb::RegisterUnitRequest {
                    name: name.into(),
                    kind: pb::UnitKind::CityDepartment as i32,
                    parent: String::new(),
                })
                .await
        }
    };
    // Forwarded to the leader over a connection opened with the follower's first certificate.
    register("续期前的单位").await.expect("forwarded before the renewal");

    // Its certificate revoked: what it forwards is refused (and it keeps dialling anew) ...
    let list = fed.certs.join(xuncha_node::certs::REVOKED_FILE);
    xuncha_node::certs::revoke(&list, &[fed.tls(Identity::Replica(follower)).cert]).unwrap();
    eventually("the follower's forwarded write to be refused", Duration::from_secs(30), || async {
        register("吊销期间的单位").await.err().filter(|s| s.message().contains("revoked"))
    })
    .await;
    // ... until its renewed certificate is in place.
    xuncha_node::certs::make_at(
        &fed.certs,
        &[Identity::Replica(follower)],
        &[],
        xuncha_node::certs::Renew::Now,
        chrono::Utc::now(),
    )
    .unwrap();
    eventually("a write forwarded by the renewed follower", Duration::from_secs(30), || async {
        register("续期后的单位").await.ok()
    })
    .await;
}
