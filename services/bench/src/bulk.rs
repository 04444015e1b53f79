//! Data written straight to a node's store in batches, for benchmarks that measure what comes
//! after (reads, exports, pages), not the writes.

use xuncha_domain::ids::EventId;
use xuncha_domain::{Actor, Audience, Kind, LedgerEvent, NodeId, Outcome, Record};
use xuncha_node::CountyHandle;

/// Stores `records` and `events` on `county` as one applied batch, as its own writes are.
pub async fn commit(county: &CountyHandle, records: Vec<Record>, events: Vec<LedgerEvent>) -> anyhow::Result<()> {
    let outcome = Outcome { records, events, ..Default::default() };
    let _state = county.engine.write_state().await;
    let seq = county.engine.store().commit_outcomes(&[outcome], county.engine.outbox_seq(), &[]).await?;
    county.engine.publish_outbox(seq);
    Ok(())
}

/// The `n`th ledger event of the benchmark's actor on `node`, `n` ms after `t0`.
pub fn event(
    node: &NodeId,
    t0: chrono::DateTime<chrono::Utc>,
    n: u64,
    action: &str,
    subject_kind: Kind,
    summary: String,
) -> LedgerEvent {
    LedgerEvent {
        id: EventId(uuid::Uuid::now_v7()),
        node: node.clone(),
        at: t0 + chrono::Duration::milliseconds(n as i64),
        actor: Actor { account: None, username: "bench".into(), display_name: "基准测试".into(), role: None },
        action: action.into(),
        subject_kind,
        subject_id: uuid::Uuid::now_v7().to_string(),
        subject_version: 1,
        summary,
        reason: None,
        audience: Audience::Local,
        chain: None,
    }
}
