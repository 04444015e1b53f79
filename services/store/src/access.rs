//! The store's typed operations. Callers never see a pool or a connection: each operation
//! takes a connection of the right kind itself (a reader for reads, the one writer for
//! writes), and the few callers that need several steps in one transaction hold an
//! [`ApplyTx`] (a batch of applied entries) or a [`ReadView`] (one consistent read).

use std::path::Path;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, Sqlite, SqliteConnection, Transaction};
use xuncha_domain::{LedgerEvent, NodeId, Outcome, State};

use crate::error::{StoreResult, corrupt};
use crate::ledger::{self, ChainReport, LedgerFilter};
use crate::sync::{self, Change, PeerStatus, RemoteApplied};
use crate::{Store, records};

/// Tables the state database holds; a raft snapshot carries all of them.
pub const STATE_TABLES: [&str; 7] = ["records", "ledger", "outbox", "peers", "node_meta", "sessions", "requests"];

impl Store {
    /// The highest sequence of `origin`'s changes applied here.
    pub async fn applied_seq(&self, origin: &NodeId) -> StoreResult<u64> {
        sync::applied_seq(&mut *self.readers.acquire().await?, origin).await
    }

    /// The last sequence this node gave a change (0 if none).
    pub async fn last_outbox_seq(&self) -> StoreResult<u64> {
        sync::last_outbox_seq(&mut *self.readers.acquire().await?).await
    }

    /// How many of this node's changes for `peer` lie after `after`.
    pub async fn pending_for(&self, peer: &NodeId, after: u64) -> StoreResult<u64> {
        sync::pending_for(&mut *self.readers.acquire().await?, peer, after).await
    }

    /// What this node knows of each peer's link.
    pub async fn peer_statuses(&self) -> StoreResult<Vec<PeerStatus>> {
        sync::peer_statuses(&mut *self.readers.acquire().await?).await
    }

    /// The next batch of this node's changes for `peer` after `after`, and the cursor it reaches.
    pub async fn changes_for(&self, peer: &NodeId, after: u64, limit: u32) -> StoreResult<(Vec<Change>, u64)> {
        sync::changes_for(&mut *self.readers.acquire().await?, peer, after, limit).await
    }

    /// A page of what this node holds of `owner` (records, then events), after the cursor `after`.
    pub async fn owned_changes(&self, owner: &NodeId, after: &str, limit: u32) -> StoreResult<Vec<(String, Change)>> {
        sync::owned_changes(&mut *self.readers.acquire().await?, owner, after, limit).await
    }

    /// The outbox row numbered `seq`: (kind, id, version).
    pub async fn outbox_row(&self, seq: u64) -> StoreResult<Option<(String, String, u64)>> {
        sync::outbox_row(&mut *self.readers.acquire().await?, seq).await
    }

    /// Ledger events matching `filter`, oldest first.
    pub async fn ledger_page(&self, filter: &LedgerFilter) -> StoreResult<Vec<LedgerEvent>> {
        ledger::ledger_page(&mut *self.readers.acquire().await?, filter).await
    }

    /// Walks every ledger chain (see [`ledger::verify_ledger`]), on a reader of its own.
    pub async fn verify_ledger(&self) -> StoreResult<(Vec<ChainReport>, u64)> {
        ledger::verify_ledger(&mut *self.readers.acquire().await?).await
    }

    /// A value from the node's metadata.
    pub async fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        crate::meta_get(&mut *self.readers.acquire().await?, key).await
    }

    /// Notes what `peer` reported when last in touch (see [`sync::note_peer`]).
    pub async fn note_peer(&self, peer: &NodeId, at: DateTime<Utc>, pulled: u64, backlog: u64) -> StoreResult<()> {
        sync::note_peer(&mut *self.writer.acquire().await?, peer, at, pulled, backlog).await
    }

    /// Notes a refused change on `peer`'s link, or (`None`) that changes go through again.
    pub async fn note_refusal(&self, peer: &NodeId, at: DateTime<Utc>, refused: Option<&str>) -> StoreResult<()> {
        sync::note_refusal(&mut *self.writer.acquire().await?, peer, at, refused).await
    }

    /// Commits `outcomes` (numbered after outbox sequence `after`) and `meta` in one
    /// transaction of their own, in one round trip. Returns the last outbox sequence used.
    /// The caller holds the state lock, so the numbering cannot race.
    pub async fn commit_outcomes(&self, outcomes: &[Outcome], after: u64, meta: &[(&str, String)]) -> StoreResult<u64> {
        records::commit_outcomes(&self.writer, outcomes, after, meta).await
    }

    /// Opens a write transaction for a batch of applied entries that reads as it goes.
    pub async fn begin_apply(&self) -> StoreResult<ApplyTx> {
        Ok(ApplyTx(self.writer.begin().await?))
    }

    /// Opens one consistent read of the database (a read transaction on a reader): every
    /// page read through it sees the same moment, while writes go on beside it.
    pub async fn read_view(&self) -> StoreResult<ReadView> {
        Ok(ReadView(self.readers.begin().await?))
    }

    /// How many read connections the store keeps (so many long reads can run at once).
    pub fn reader_connections(&self) -> u32 {
        self.readers.options().get_max_connections()
    }

    /// Replaces every state table with those of the database file `copy` (a raft snapshot),
    /// in one transaction.
    pub async fn replace_from(&self, copy: &Path) -> StoreResult<()> {
        let mut conn = self.writer.acquire().await?;
        let path = copy.to_str().ok_or_else(|| corrupt("snapshot path is not UTF-8"))?;
        // ATTACH cannot run inside a transaction; the copy itself is one transaction.
        sqlx::query("ATTACH DATABASE ? AS snapshot").bind(path).execute(&mut *conn).await?;
        let copied = async {
            let mut tx = conn.begin().await?;
            for table in STATE_TABLES {
                sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM main.{table}"))).execute(&mut *tx).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO main.{table} SELECT * FROM snapshot.{table}")))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        }
        .await;
        sqlx::query("DETACH DATABASE snapshot").execute(&mut *conn).await?;
        Ok(copied?)
    }
}

/// Values from the metadata of a database copy (a backup or snapshot file), opened read-only.
pub async fn meta_of_copy<const N: usize>(copy: &Path, keys: [&str; N]) -> StoreResult<[Option<String>; N]> {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", copy.display()))?.read_only(true);
    let mut conn = SqliteConnection::connect_with(&options).await?;
    let mut out: [Option<String>; N] = std::array::from_fn(|_| None);
    for (value, key) in out.iter_mut().zip(keys) {
        *value = crate::meta_get(&mut conn, key).await?;
    }
    conn.close().await?;
    Ok(out)
}

/// A write transaction over a batch of applied entries (the raft state machine's): pushed
/// county changes are applied and noted in it, then the batch's own outcomes are written and
/// everything commits at once. Dropped without [`ApplyTx::commit`], nothing of it is kept.
pub struct ApplyTx(Transaction<'static, Sqlite>);

impl ApplyTx {
    /// Applies a batch of changes from `origin` (see [`sync::apply_remote`]).
    pub async fn apply_remote(
        &mut self,
        state: &State,
        me: &NodeId,
        origin: &NodeId,
        changes: &[Change],
        reached: u64,
        at: DateTime<Utc>,
    ) -> StoreResult<RemoteApplied> {
        sync::apply_remote(&mut self.0, state, me, origin, changes, reached, at).await
    }

    pub async fn note_peer(&mut self, peer: &NodeId, at: DateTime<Utc>, pulled: u64, backlog: u64) -> StoreResult<()> {
        sync::note_peer(&mut self.0, peer, at, pulled, backlog).await
    }

    pub async fn note_refusal(&mut self, peer: &NodeId, at: DateTime<Utc>, refused: Option<&str>) -> StoreResult<()> {
        sync::note_refusal(&mut self.0, peer, at, refused).await
    }

    /// Writes `outcomes` (numbered after `after`) and `meta`, then commits the whole batch.
    /// Returns the last outbox sequence used.
    pub async fn commit(mut self, outcomes: &[Outcome], after: u64, meta: &[(&str, String)]) -> StoreResult<u64> {
        let seq = records::write_outcomes(&mut self.0, outcomes, after, meta).await?;
        self.0.commit().await?;
        Ok(seq)
    }
}

/// One consistent read (see [`Store::read_view`]); ends when dropped.
pub struct ReadView(Transaction<'static, Sqlite>);

impl ReadView {
    /// Ledger events matching `filter`, oldest first, as of the view's moment.
    pub async fn ledger_page(&mut self, filter: &LedgerFilter) -> StoreResult<Vec<LedgerEvent>> {
        ledger::ledger_page(&mut self.0, filter).await
    }
}

#[cfg(test)]
mod tests {
    use xuncha_domain::ids::EventId;
    use xuncha_domain::{Actor, Audience, Kind};

    use super::*;
    use crate::{Durability, Engine};

    fn event(node: &NodeId, n: usize, at: DateTime<Utc>) -> LedgerEvent {
        LedgerEvent {
            id: EventId(uuid::Uuid::now_v7()),
            node: node.clone(),
            at,
            actor: Actor { account: None, username: String::new(), display_name: "测试".into(), role: None },
            action: "test.event".into(),
            subject_kind: Kind::Unit,
            subject_id: format!("u{n}"),
            subject_version: 1,
            summary: format!("第{n}件"),
            reason: None,
            audience: Audience::Local,
            chain: None,
        }
    }

    /// Paging the ledger by cursor inside one read view reads every event once, in ledger
    /// order, and none written after the view began: what a streamed export relies on.
    #[tokio::test]
    async fn ledger_pages_by_cursor_read_every_event_once_as_of_the_view() {
        let dir = tempfile::tempdir().unwrap();
        let node = NodeId::county("c01").unwrap();
        let engine = Engine::open(&dir.path().join("n.db"), &node, Durability::Normal).await.unwrap();
        // Several events share each timestamp, so the id breaks ties within a page and across.
        let t0 = Utc::now();
        for n in 0..2_345 {
            engine.commit_event(event(&node, n, t0 + chrono::Duration::milliseconds((n / 7) as i64))).await.unwrap();
        }
        let mut view = engine.store().read_view().await.unwrap();
        let mut filter = LedgerFilter { limit: 1000, ..Default::default() };
        let mut read = view.ledger_page(&filter).await.unwrap();
        // Written once the view has begun: not part of it.
        engine.commit_event(event(&node, 9_999, t0 + chrono::Duration::days(1))).await.unwrap();
        while let Some(last) = read.last().filter(|_| read.len() % 1000 == 0) {
            filter.after = Some(crate::LedgerCursor::of(last));
            let page = view.ledger_page(&filter).await.unwrap();
            if page.is_empty() {
                break;
            }
            read.extend(page);
        }
        let summaries: Vec<String> = read.iter().map(|e| e.summary.clone()).collect();
        let expected: Vec<String> = (0..2_345).map(|n| format!("第{n}件")).collect();
        assert_eq!(summaries, expected, "every event once, in order, none from after the view");
        drop(view);
        let all = engine.store().ledger_page(&LedgerFilter::default()).await.unwrap();
        assert_eq!(all.len(), 2_346);
    }
}
