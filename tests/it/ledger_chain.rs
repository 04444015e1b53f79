//! The ledger is hash-chained per node and audience: the city takes a county's events only
//! where they continue the county's chain as the city holds it, and `VerifyLedger` finds an
//! event altered on disk.

use std::net::SocketAddr;

use tokio_stream::StreamExt;
use tonic::Code;
use xuncha_domain::ledger::ChainLink;
use xuncha_domain::{LedgerEvent, NodeId};
use xuncha_node::certs::Identity;
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::ledger_service_client::LedgerServiceClient;
use xuncha_proto::v1::sync_service_client::SyncServiceClient;
use xuncha_proto::v1::unit_service_client::UnitServiceClient;

use crate::federation::Federation;
use crate::fixtures::{Conn, admin, channel, county, tls_channel};

async fn register(conn: Conn, name: &str) -> pb::Unit {
    UnitServiceClient::new(conn)
        .register_unit(pb::RegisterUnitRequest {
            name: name.into(),
            kind: pb::UnitKind::CountyDepartment as i32,
            parent: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
}

async fn verify(conn: Conn) -> pb::VerifyLedgerResponse {
    LedgerServiceClient::new(conn).verify_ledger(pb::VerifyLedgerRequest {}).await.unwrap().into_inner()
}

fn chain<'a>(r: &'a pb::VerifyLedgerResponse, node: &str, audience: &str) -> &'a pb::LedgerChain {
    r.chains
        .iter()
        .find(|c| c.node == node && c.audience == audience)
        .unwrap_or_else(|| panic!("no chain {node} {audience}: {r:?}"))
}

/// Pushes one ledger event as county `code`, numbered past anything sent so far.
async fn push_event(fed: &Federation, addr: SocketAddr, code: &str, event: &LedgerEvent) -> tonic::Status {
    let tls = fed.tls(Identity::County(code.into()));
    let mut client = SyncServiceClient::new(tls_channel(addr, Some(&tls)).await.unwrap());
    let change = pb::Change {
        seq: 1_000_000,
        kind: xuncha_store::LEDGER_EVENT_KIND.into(),
        id: event.id.to_string(),
        version: 1,
        body: serde_json::to_vec(event).unwrap(),
    };
    let batch = pb::PushBatch { reached: change.seq, changes: vec![change], pulled: 0, backlog: 0 };
    match client.push(tokio_stream::iter(vec![batch])).await {
        Err(s) => s,
        Ok(acks) => match acks.into_inner().next().await.expect("an answer") {
            Err(s) => s,
            Ok(ack) => panic!("the forged event was taken: {ack:?}"),
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_city_takes_a_countys_events_only_where_they_continue_its_chain() {
    let fed = Federation::start(&["anping"]).await;
    let county = fed.county("anping");
    let office = admin(tls_channel(county.addr(), Some(&fed.operator())).await.unwrap()).await;
    register(office.clone(), "安平县审计局").await;
    fed.converged().await;

    // Both hold the county's chain for the city, intact and with the same head.
    let anping = NodeId::county("anping").unwrap();
    let at_county = verify(office.clone()).await;
    assert!(at_county.intact, "{at_county:?}");
    let leader = fed.city.leader().await;
    let operator =
        crate::fixtures::unsigned(tls_channel(fed.city.addrs[&leader], Some(&fed.operator())).await.unwrap());
    let at_city = verify(operator.clone()).await;
    assert!(at_city.intact, "{at_city:?}");
    let (mine, copy) = (chain(&at_county, anping.as_str(), "city"), chain(&at_city, anping.as_str(), "city"));
    assert!(mine.checked >= 1);
    assert_eq!((mine.head_n, &mine.head_hash), (copy.head_n, &copy.head_hash));

    // An event that does not continue the chain is refused whole, however well it hashes.
    let head = fed
        .city
        .node(leader)
        .replica
        .engine
        .read(|s| s.ledger_heads.get(&(anping.clone(), "city".into())).cloned())
        .await
        .unwrap();
    let mut conn = crate::fixtures::inspect(county.engine.store()).await.acquire().await.unwrap();
    let body: String = sqlx::query_scalar(
        "SELECT body FROM ledger WHERE node = 'county/anping' AND audience = 'city' ORDER BY chain_n DESC LIMIT 1",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    drop(conn);
    let last: LedgerEvent = serde_json::from_str(&body).unwrap();
    let forged = |n: u64, prev: &str, summary: &str, good_hash: bool| {
        let mut e = LedgerEvent {
            id: xuncha_domain::ids::EventId(uuid::Uuid::now_v7()),
            summary: summary.into(),
            chain: None,
            ..last.clone()
        };
        let hash = if good_hash { e.chain_hash(n, prev) } else { "00".repeat(32) };
        e.chain = Some(ChainLink { n, prev: prev.into(), hash });
        e
    };
    for (what, event) in [
        ("a chain started again", forged(1, "", "重写的台账", true)),
        ("a place already taken", forged(head.n, &head.prev, "替换的事件", true)),
        ("the wrong predecessor", forged(head.n + 1, &"ab".repeat(32), "插入的事件", true)),
        ("a hash that does not match", forged(head.n + 1, &head.hash, "篡改的事件", false)),
    ] {
        let refused = push_event(&fed, fed.city.addrs[&leader], "anping", &event).await;
        assert_eq!(refused.code(), Code::PermissionDenied, "{what}: {refused:?}");
        assert!(refused.message().contains("台账链"), "{what}: {}", refused.message());
    }
    let mut unchained = last.clone();
    unchained.chain = None;
    unchained.id = xuncha_domain::ids::EventId(uuid::Uuid::now_v7());
    let refused = push_event(&fed, fed.city.addrs[&leader], "anping", &unchained).await;
    assert_eq!(refused.code(), Code::PermissionDenied, "an unlinked event after the chain began: {refused:?}");

    // Nothing of it is held; the chain still verifies and syncing goes on.
    let after = verify(operator).await;
    assert!(after.intact, "{after:?}");
    assert_eq!(chain(&after, anping.as_str(), "city").head_n, head.n);
    register(office, "安平县统计局").await;
    fed.converged().await;
}

#[tokio::test]
async fn an_event_altered_on_disk_is_named_by_verify() {
    let dir = tempfile::tempdir().unwrap();
    let node = county(dir.path(), "c10").await;
    for name in ["县审计局", "县统计局", "县档案局"] {
        register(channel(node.addr()).await, name).await;
    }
    let before = verify(channel(node.addr()).await).await;
    assert!(before.intact, "{before:?}");
    assert_eq!(before.unchained, 0);
    let city_chain = chain(&before, "county/c10", "city");
    assert!(city_chain.checked >= 3, "{city_chain:?}");
    node.stop().await;

    // Someone with the file edits an event's summary in place.
    let db = dir.path().join("county.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    let (id, n): (String, i64) = sqlx::query_as(
        "SELECT id, chain_n FROM ledger WHERE node = 'county/c10' AND audience = 'city' ORDER BY chain_n LIMIT 1 OFFSET 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    sqlx::query("UPDATE ledger SET body = json_set(body, '$.summary', '改过的摘要') WHERE id = ?")
        .bind(&id)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let node = county(dir.path(), "c10").await;
    let after = verify(channel(node.addr()).await).await;
    assert!(!after.intact);
    let broken = chain(&after, "county/c10", "city");
    let first = broken.first_break.as_ref().expect("a break");
    assert_eq!((first.event.as_str(), first.n), (id.as_str(), n as u64));
    assert!(first.reason.contains("哈希"), "{}", first.reason);
    assert_eq!(broken.checked, n as u64 - 1, "the events before it check out");
    node.stop().await;
}
