//! A node's records in SQLite plus the in-memory state decisions read. Writes are serialized:
//! decide against the state, commit the outcome, then publish it to the state.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chrono::Utc;
use tokio::sync::{RwLock, RwLockWriteGuard, watch};
use xuncha_domain::ids::CountyCode;
use xuncha_domain::{Decided, DomainError, Envelope, LedgerEvent, NodeId, Outcome, State, decide_once};

use crate::error::{StoreError, StoreResult};
use crate::records::{commit_outcomes, load_state};
use crate::sync::{Change, RemoteApplied, apply_remote, last_outbox_seq, restore_own};
use crate::{Durability, Store};

/// Why a command was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    /// The rules refused it; nothing was written.
    #[error(transparent)]
    Rejected(#[from] DomainError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The records of one node, on disk and in memory.
pub struct Engine {
    store: Store,
    state: RwLock<State>,
    /// The last outbox sequence committed; sync waits on it.
    outbox_seq: watch::Sender<u64>,
}

impl Engine {
    pub async fn open(path: &Path, node: &NodeId, durability: Durability) -> StoreResult<Arc<Self>> {
        let store = Store::open(path, node, durability).await?;
        let mut conn = store.readers.acquire().await?;
        let state = load_state(&mut conn).await?;
        let seq = last_outbox_seq(&mut conn).await?;
        drop(conn);
        Ok(Arc::new(Self { store, state: RwLock::new(state), outbox_seq: watch::channel(seq).0 }))
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn node(&self) -> &NodeId {
        self.store.node()
    }

    /// Decides and commits one command. On success the outcome is durable (per the store's
    /// durability) and visible to readers.
    pub async fn execute(&self, envelope: &Envelope) -> Result<Outcome, ExecuteError> {
        let mut state = self.state.write().await;
        let outcome = match decide_once(&state, self.node(), envelope)? {
            Decided::New(outcome) => outcome,
            // Decided before under the same request id: its result, nothing written again.
            Decided::Repeat(outcome) => return Ok(outcome),
        };
        let seq = commit_outcomes(&self.store.writer, std::slice::from_ref(&outcome), self.outbox_seq(), &[]).await?;
        state.apply(&outcome);
        // Published before the lock is released: the next writer numbers after it.
        self.outbox_seq.send_replace(seq);
        drop(state);
        Ok(outcome)
    }

    /// Commits a ledger event of this node's own making that no command made (a refused push).
    pub async fn commit_event(&self, event: LedgerEvent) -> StoreResult<()> {
        let mut state = self.state.write().await;
        let mut outcome = Outcome { events: vec![event], ..Default::default() };
        state.ledger_heads.link(&mut outcome.events);
        let seq = commit_outcomes(&self.store.writer, std::slice::from_ref(&outcome), self.outbox_seq(), &[]).await?;
        state.apply(&outcome);
        self.outbox_seq.send_replace(seq);
        Ok(())
    }

    /// Applies changes received from `origin` (see [`apply_remote`]).
    pub async fn apply_remote(&self, origin: &NodeId, changes: &[Change], reached: u64) -> StoreResult<RemoteApplied> {
        let mut state = self.state.write().await;
        let mut tx = self.store.writer.begin().await?;
        let applied = apply_remote(&mut tx, &state, self.node(), origin, changes, reached, Utc::now()).await?;
        tx.commit().await?;
        for record in &applied.records {
            state.put_if_newer(record.clone());
        }
        for event in &applied.events {
            state.ledger_heads.advance(event);
        }
        Ok(applied)
    }

    /// Rebuilds this node's own records and ledger from a copy (the city's), into a database
    /// that holds none of its own yet, and continues the outbox after `pushed`.
    pub async fn restore_own(&self, changes: &[Change], pushed: u64) -> StoreResult<u64> {
        let me = self.node().clone();
        let own = self.read(|s| s.records().filter(|r| r.owner() == &me).count()).await;
        if own > 0 {
            return Err(StoreError::Domain(DomainError::precondition(
                "node",
                format!("{me} already holds {own} records of its own; restore only into an empty data folder"),
            )));
        }
        let mut tx = self.store.writer.begin().await?;
        let restored = restore_own(&mut tx, &me, changes, pushed).await?;
        tx.commit().await?;
        self.reload().await?;
        Ok(restored)
    }

    /// Gives the counties' configured names, for labels and refusals (kept across reloads).
    pub async fn name_counties(&self, names: BTreeMap<CountyCode, String>) {
        self.state.write().await.county_names = names;
    }

    /// Reads the state.
    pub async fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&*self.state.read().await)
    }

    /// The state for writing, for callers that commit outcomes in their own transaction (the
    /// raft state machine applies many commands per transaction). Hold it across the commit and
    /// update it only with what was committed.
    pub async fn write_state(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().await
    }

    /// Tells sync waiters that changes up to `seq` are committed. Call while holding the
    /// state lock (`write_state`), so the next writer numbers after it.
    pub fn publish_outbox(&self, seq: u64) {
        self.outbox_seq.send_replace(seq);
    }

    /// The last outbox sequence committed. Writers read it while holding the state lock.
    pub fn outbox_seq(&self) -> u64 {
        *self.outbox_seq.borrow()
    }

    /// Reloads the state from SQLite (after the database was replaced wholesale).
    pub async fn reload(&self) -> StoreResult<()> {
        let mut state = self.state.write().await;
        let mut conn = self.store.readers.acquire().await?;
        let names = std::mem::take(&mut state.county_names);
        *state = load_state(&mut conn).await?;
        state.county_names = names;
        let seq = last_outbox_seq(&mut conn).await?;
        self.outbox_seq.send_replace(seq);
        drop(state);
        Ok(())
    }

    /// A receiver that sees the last committed outbox sequence.
    pub fn watch_outbox(&self) -> watch::Receiver<u64> {
        self.outbox_seq.subscribe()
    }
}
