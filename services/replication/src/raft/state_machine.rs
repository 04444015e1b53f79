//! The city's state machine: applies log entries through the store, in one SQLite transaction
//! per batch with `last_applied` and the membership written in the same transaction. Snapshots
//! are a consistent copy of the state database (`VACUUM INTO`), installed by copying its tables
//! in one transaction.

use std::collections::BTreeSet;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{EntryPayload, RaftSnapshotBuilder};
use serde::{Deserialize, Serialize};
use tracing::Instrument;
use xuncha_domain::{Decided, NodeId, decide_once};
use xuncha_store::{Engine, StoreError, meta_of_copy};

use super::types::{
    CityRequest, CityResponse, LogId, ReplicaId, SnapshotMeta, StorageError, StoredMembership, SyncApplied, TypeConfig,
    storage_error,
};

const LAST_APPLIED: &str = "raft_last_applied";
const MEMBERSHIP: &str = "raft_membership";
/// Every replica id that was ever a member: ids are never reused.
const IDS_SEEN: &str = "raft_ids_seen";

/// The state machine of one city replica.
pub struct StateMachine {
    engine: Arc<Engine>,
    snapshots: SnapshotDir,
}

impl StateMachine {
    pub fn new(engine: Arc<Engine>, snapshot_dir: PathBuf) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&snapshot_dir)?;
        Ok(Self { engine, snapshots: SnapshotDir { dir: snapshot_dir } })
    }

    /// Before raft starts: if the state database stands behind the replica's own snapshot, the
    /// state is replaced by the snapshot. The state database syncs less often than the log (a
    /// power cut may take its last commits) while the log up to the snapshot may be purged, so
    /// without this the entries it lacks could be gone. The snapshot was written and synced
    /// before any purge. Returns the index recovered to, if it did.
    pub async fn catch_up_to_snapshot(&mut self) -> Result<Option<u64>, StorageError> {
        let Some(current) = self.snapshots.current_meta().await? else { return Ok(None) };
        let (applied, _) = self.applied_state().await?;
        let (Some(at), behind) = (current.meta.last_log_id, applied) else { return Ok(None) };
        if behind.is_some_and(|b| b.index >= at.index) {
            return Ok(None);
        }
        tracing::warn!(applied = ?behind, snapshot = ?at, "the state database is behind this replica's snapshot; restoring it from the snapshot");
        self.engine.store().replace_from(&self.snapshots.dir.join(&current.file)).await.map_err(storage_error)?;
        self.engine.reload().await.map_err(storage_error)?;
        Ok(Some(at.index))
    }
}

/// A metadata value stored as JSON.
fn from_json<T: serde::de::DeserializeOwned>(value: Option<String>) -> Result<Option<T>, StorageError> {
    value.map(|v| serde_json::from_str(&v).map_err(storage_error)).transpose()
}

async fn json_meta<T: serde::de::DeserializeOwned>(engine: &Engine, key: &str) -> Result<Option<T>, StorageError> {
    from_json(engine.store().meta(key).await.map_err(storage_error)?)
}

/// The replica ids ever seen in the cluster's membership, as applied here.
pub async fn ids_seen(engine: &Engine) -> anyhow::Result<BTreeSet<ReplicaId>> {
    Ok(json_meta(engine, IDS_SEEN).await?.unwrap_or_default())
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let applied = json_meta(&self.engine, LAST_APPLIED).await?;
        let membership = json_meta(&self.engine, MEMBERSHIP).await?.unwrap_or_default();
        Ok((applied, membership))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<CityResponse>, StorageError>
    where
        I: IntoIterator<Item = openraft::Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<openraft::Entry<TypeConfig>> = entries.into_iter().collect();
        let span = tracing::info_span!("raft.apply", entries = entries.len());
        self.apply_entries(entries).instrument(span).await
    }
    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder { engine: self.engine.clone(), snapshots: self.snapshots.clone() }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let file = self.snapshots.save(meta, &snapshot.into_inner()).await?;
        self.engine.store().replace_from(&file).await.map_err(storage_error)?;
        self.engine.reload().await.map_err(storage_error)?;
        tracing::info!(snapshot = %meta.snapshot_id, last = ?meta.last_log_id, "installed snapshot");
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        self.snapshots.current().await
    }
}

impl StateMachine {
    async fn apply_entries(
        &mut self,
        entries: Vec<openraft::Entry<TypeConfig>>,
    ) -> Result<Vec<CityResponse>, StorageError> {
        let city = NodeId::city();
        let mut state = self.engine.write_state().await;
        // Commands alone commit in one round trip; pushed county batches need a transaction
        // they read in (versions held, cursors).
        let pushes = entries.iter().any(|e| matches!(e.payload, EntryPayload::Normal(CityRequest::Changes(_))));
        let mut tx = if pushes { Some(self.engine.store().begin_apply().await.map_err(storage_error)?) } else { None };
        let mut replies = Vec::new();
        let mut last_applied = None;
        let mut meta = Vec::new();
        // Every command of every entry is decided against the state as the earlier ones left
        // it; their records, the membership and `last_applied` are committed together at the end.
        let mut outcomes = Vec::new();
        let mut seen: Option<BTreeSet<ReplicaId>> = None;
        for entry in entries {
            last_applied = Some(entry.log_id);
            let reply = match entry.payload {
                EntryPayload::Blank => CityResponse::Nothing,
                EntryPayload::Normal(CityRequest::Commands(envelopes)) => {
                    let mut decided = Vec::with_capacity(envelopes.len());
                    for envelope in &envelopes {
                        // A repeat (also of an earlier command in this batch, whose mark is
                        // already in the state) answers without writing anything.
                        match decide_once(&state, &city, envelope) {
                            Ok(Decided::New(outcome)) => {
                                state.apply(&outcome);
                                outcomes.push(outcome.clone());
                                decided.push(Ok(outcome));
                            }
                            Ok(Decided::Repeat(outcome)) => decided.push(Ok(outcome)),
                            Err(refused) => decided.push(Err(refused)),
                        }
                    }
                    CityResponse::Decided(decided)
                }
                EntryPayload::Normal(CityRequest::Changes(p)) => {
                    let tx = tx.as_mut().expect("a transaction is open for pushes");
                    let span = tracing::info_span!("sync.apply", county = %p.origin, changes = p.changes.len());
                    crate::trace::set_parent(&span, &p.trace);
                    let applied =
                        tx.apply_remote(&state, &city, &p.origin, &p.changes, p.reached, p.at).instrument(span).await;
                    match applied {
                        Ok(applied) => {
                            for record in applied.records {
                                state.put_if_newer(record);
                            }
                            for event in &applied.events {
                                state.ledger_heads.advance(event);
                            }
                            tx.note_peer(&p.origin, p.at, p.pulled, p.backlog).await.map_err(storage_error)?;
                            CityResponse::Synced(Ok(SyncApplied {
                                applied_seq: applied.applied_seq,
                                new_changes: applied.applied,
                                duplicates: applied.duplicates,
                            }))
                        }
                        // Refused whole, and noted on the county's link for status and metrics.
                        Err(StoreError::Domain(refused)) => {
                            tx.note_refusal(&p.origin, p.at, Some(&refused.to_string()))
                                .await
                                .map_err(storage_error)?;
                            CityResponse::Synced(Err(refused))
                        }
                        Err(e) => return Err(storage_error(e)),
                    }
                }
                EntryPayload::Membership(m) => {
                    let mut ids = match seen.take() {
                        Some(ids) => ids,
                        None => ids_seen(&self.engine).await.map_err(storage_error)?,
                    };
                    ids.extend(m.nodes().map(|(id, _)| *id));
                    meta.push((IDS_SEEN, serde_json::to_string(&ids).map_err(storage_error)?));
                    seen = Some(ids);
                    let membership = StoredMembership::new(Some(entry.log_id), m);
                    meta.push((MEMBERSHIP, serde_json::to_string(&membership).map_err(storage_error)?));
                    CityResponse::Nothing
                }
            };
            replies.push(reply);
        }
        if let Some(applied) = &last_applied {
            meta.push((LAST_APPLIED, serde_json::to_string(applied).map_err(storage_error)?));
        }
        // A failure is fatal to the replica: openraft stops it, and a restart reloads the
        // state from what is on disk (the in-memory state above is discarded with the process).
        let before = self.engine.outbox_seq();
        let seq = match tx {
            Some(tx) => tx.commit(&outcomes, before, &meta).await.map_err(storage_error)?,
            // One round trip: `BEGIN; ...; COMMIT`.
            None => self.engine.store().commit_outcomes(&outcomes, before, &meta).await.map_err(storage_error)?,
        };
        if seq != before {
            self.engine.publish_outbox(seq);
        }
        drop(state);
        Ok(replies)
    }
}

/// Builds snapshots concurrently with `apply`: `VACUUM INTO` reads one consistent view, and
/// the snapshot's metadata is read back from the copy itself, so data and metadata agree.
pub struct SnapshotBuilder {
    engine: Arc<Engine>,
    snapshots: SnapshotDir,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let id = uuid::Uuid::now_v7();
        let tmp = self.snapshots.dir.join(format!("building-{id}.db"));
        self.engine.store().backup_to(&tmp).await.map_err(storage_error)?;
        let [applied, membership] = meta_of_copy(&tmp, [LAST_APPLIED, MEMBERSHIP]).await.map_err(storage_error)?;
        let last_log_id: Option<LogId> = from_json(applied)?;
        let last_membership: StoredMembership = from_json(membership)?.unwrap_or_default();
        let index = last_log_id.map(|l| l.index).unwrap_or(0);
        let meta = SnapshotMeta { last_log_id, last_membership, snapshot_id: format!("{index}-{id}") };
        let bytes = tokio::fs::read(&tmp).await.map_err(storage_error)?;
        self.snapshots.save(&meta, &bytes).await?;
        let _ = tokio::fs::remove_file(&tmp).await;
        tracing::info!(snapshot = %meta.snapshot_id, bytes = bytes.len(), "built snapshot");
        Ok(Snapshot { meta, snapshot: Box::new(Cursor::new(bytes)) })
    }
}

/// The current snapshot on disk: `snapshot-<id>.db` and `current.json` naming it. The JSON is
/// replaced atomically (write then rename), so a crash leaves either the old or the new one.
#[derive(Clone)]
struct SnapshotDir {
    dir: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Current {
    meta: SnapshotMeta,
    file: String,
}

impl SnapshotDir {
    async fn save(&self, meta: &SnapshotMeta, bytes: &[u8]) -> Result<PathBuf, StorageError> {
        let name = format!("snapshot-{}.db", meta.snapshot_id);
        let file = self.dir.join(&name);
        write_durably(&file, bytes).await?;
        let current = serde_json::to_vec(&Current { meta: meta.clone(), file: name.clone() }).map_err(storage_error)?;
        let tmp = self.dir.join("current.json.tmp");
        write_durably(&tmp, &current).await?;
        tokio::fs::rename(&tmp, self.dir.join("current.json")).await.map_err(storage_error)?;
        // The rename itself is durable only once the folder is synced: before it, a log purge
        // after this snapshot could outlive the snapshot's name.
        tokio::fs::File::open(&self.dir).await.map_err(storage_error)?.sync_all().await.map_err(storage_error)?;
        // Older snapshot files are no longer needed.
        let mut entries = tokio::fs::read_dir(&self.dir).await.map_err(storage_error)?;
        while let Some(e) = entries.next_entry().await.map_err(storage_error)? {
            let n = e.file_name().to_string_lossy().to_string();
            if n.starts_with("snapshot-") && n != name {
                let _ = tokio::fs::remove_file(e.path()).await;
            }
        }
        Ok(file)
    }

    async fn current_meta(&self) -> Result<Option<Current>, StorageError> {
        let path = self.dir.join("current.json");
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(storage_error(e)),
        };
        serde_json::from_slice(&bytes).map(Some).map_err(storage_error)
    }

    async fn current(&self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let Some(current) = self.current_meta().await? else { return Ok(None) };
        let data = tokio::fs::read(self.dir.join(&current.file)).await.map_err(storage_error)?;
        Ok(Some(Snapshot { meta: current.meta, snapshot: Box::new(Cursor::new(data)) }))
    }
}

async fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    use tokio::io::AsyncWriteExt;
    let mut f = tokio::fs::File::create(path).await.map_err(storage_error)?;
    f.write_all(bytes).await.map_err(storage_error)?;
    f.sync_all().await.map_err(storage_error)?;
    Ok(())
}
