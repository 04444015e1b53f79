//! The raft log: a segmented, append-only write-ahead log with group commit (the `raft-log`
//! crate, made for openraft by its author). `append` hands the entries to the log's flush
//! thread and returns at once; one fdatasync covers every write queued meanwhile, and openraft
//! hears an entry is durable (`LogFlushed`) only after that sync. Returning early is what lets
//! the leader replicate an entry while its own fsync runs (etcd's raft thesis §10.2.1): openraft
//! counts the leader towards the commit only once the callback fires, and a follower answers
//! AppendEntries only after its own flush.
//!
//! Every record carries a checksum; a torn record at the end of the last segment (a crash in
//! the middle of a write) is detected and cut back when the log opens. The vote is durable
//! before `save_vote` returns. The newest entries are also kept decoded in memory, so the
//! leader's replication streams read what was just appended without decoding it again.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{CommittedLeaderId, EntryPayload, LeaderId, RaftLogReader, Vote};
use raft_log::api::raft_log_writer::RaftLogWriter;
use tokio::sync::oneshot;

use super::types::{LogId, ReplicaId, StorageError, TypeConfig, storage_error};

type Entry = openraft::Entry<TypeConfig>;

/// How many of the newest entries stay decoded in memory. An entry carries up to a batch of
/// commands, so this bounds the copy to a few MiB; followers further behind read the log.
const TAIL_ENTRIES: usize = 64;

/// One segment file's size before the log starts the next: purging after a snapshot removes
/// whole segments, and the open segment's payloads stay cached in memory.
const SEGMENT_BYTES: usize = 32 << 20;

/// The log's record types: a log id as ((term, leader), index), the entry's payload as JSON,
/// the vote as ((term, voted for), committed), and the replica id as the log's user data.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LogTypes;

type StoredLogId = ((u64, u64), u64);
type StoredVote = ((u64, u64), bool);

impl raft_log::Types for LogTypes {
    type LogId = StoredLogId;
    type LogPayload = Vec<u8>;
    type Vote = StoredVote;
    type Callback = Flushed;
    type UserData = String;

    fn log_index(log_id: &StoredLogId) -> u64 {
        log_id.1
    }

    fn payload_size(payload: &Vec<u8>) -> u64 {
        payload.len() as u64
    }
}

/// Whom the flush thread tells that a write is on disk.
pub enum Flushed {
    /// openraft, for appended entries.
    Raft(LogFlushed<TypeConfig>),
    /// A caller awaiting a vote, a truncation or a purge.
    Waiter(oneshot::Sender<io::Result<()>>),
}

impl raft_log::Callback for Flushed {
    fn send(self, res: io::Result<()>) {
        match self {
            Flushed::Raft(callback) => callback.log_io_completed(res),
            Flushed::Waiter(tx) => {
                let _ = tx.send(res);
            }
        }
    }
}

fn stored_id(id: &LogId) -> StoredLogId {
    ((id.leader_id.term, id.leader_id.node_id), id.index)
}

fn log_id(((term, node), index): &StoredLogId) -> LogId {
    LogId::new(CommittedLeaderId::new(*term, *node), *index)
}

fn stored_vote(v: &Vote<ReplicaId>) -> StoredVote {
    ((v.leader_id.term, v.leader_id.node_id), v.committed)
}

fn vote(((term, voted_for), committed): &StoredVote) -> Vote<ReplicaId> {
    Vote { leader_id: LeaderId { term: *term, node_id: *voted_for }, committed: *committed }
}

/// Resolves once a queued write and the sync after it are done.
struct Synced(oneshot::Receiver<io::Result<()>>);

impl Synced {
    async fn wait(self) -> io::Result<()> {
        self.0.await.map_err(|_| io::Error::other("the raft log's flush thread stopped"))?
    }
}

/// One replica's log.
#[derive(Clone)]
pub struct LogStore {
    log: Arc<Mutex<raft_log::RaftLog<LogTypes>>>,
    /// The newest entries by index, decoded: always a copy of the end of the log.
    tail: Arc<Mutex<BTreeMap<u64, Entry>>>,
}

impl LogStore {
    /// Opens the log in folder `dir` for replica `id`, cutting back a torn last record. A log
    /// made by another replica id is refused: ids are never reused, and a replica's data never
    /// serves under another id.
    pub async fn open(dir: &Path, id: ReplicaId) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let config = raft_log::Config {
            wal: chunked_wal::Config {
                dir: dir.to_string_lossy().into_owned(),
                chunk_max_size: Some(SEGMENT_BYTES),
                // A torn record at the end is cut back on open (checksums tell it).
                truncate_incomplete_record: Some(true),
                // No added wait: writes queue up by themselves while a sync runs, so one
                // client is not slowed for a batch that may never come.
                flush_batch_wait: Some(Duration::ZERO),
                ..Default::default()
            },
            log_cache_max_items: Some(100_000),
            log_cache_capacity: Some(256 << 20),
        };
        let opened = tokio::task::spawn_blocking(move || raft_log::RaftLog::<LogTypes>::open(Arc::new(config)))
            .await?
            .map_err(|e| anyhow::anyhow!("opening the raft log in {}: {e}", dir.display()))?;
        let store = Self { log: Arc::new(Mutex::new(opened)), tail: Arc::default() };
        let owner = store.lock().log_state().user_data.clone();
        match owner {
            Some(found) if found != id.to_string() => anyhow::bail!(
                "{} belongs to replica {found}, not {id}; a replica's data never serves under another id",
                dir.display()
            ),
            Some(_) => {}
            None => {
                store.write(|log| log.save_user_data(Some(id.to_string())))?.wait().await?;
            }
        }
        Ok(store)
    }

    fn lock(&self) -> MutexGuard<'_, raft_log::RaftLog<LogTypes>> {
        self.log.lock().expect("raft log lock")
    }

    /// Queues `write` and a sync after it; the future resolves once both are on disk.
    fn write<T>(&self, write: impl FnOnce(&mut raft_log::RaftLog<LogTypes>) -> io::Result<T>) -> io::Result<Synced> {
        let (tx, rx) = oneshot::channel();
        let mut log = self.lock();
        write(&mut log)?;
        log.flush(true, Some(Flushed::Waiter(tx)))?;
        Ok(Synced(rx))
    }

    async fn write_durably<T>(
        &self,
        write: impl FnOnce(&mut raft_log::RaftLog<LogTypes>) -> io::Result<T>,
    ) -> Result<(), StorageError> {
        self.write(write).map_err(storage_error)?.wait().await.map_err(storage_error)
    }

    /// The entries of `[start, end)` if the in-memory tail holds all of them.
    fn tail_range(&self, start: u64, end: u64) -> Option<Vec<Entry>> {
        let tail = self.tail.lock().expect("log tail lock");
        let first = *tail.keys().next()?;
        let last = *tail.keys().next_back()?;
        (first <= start && end <= last + 1).then(|| tail.range(start..end).map(|(_, e)| e.clone()).collect())
    }

    /// Waits until every write queued so far is on disk (for shutdown).
    pub async fn close(&self) {
        if let Ok(synced) = self.write(|_| Ok(())) {
            let _ = synced.wait().await;
        }
    }

    /// Queues entries, and `flushed` to be told once they are on disk; they are readable at once.
    fn append_queued(&self, mut entries: Vec<Entry>, flushed: Option<Flushed>) -> Result<(), StorageError> {
        // Entries at or below the purge point are in the snapshot already: the log keeps none.
        let purged = self.lock().log_state().purged().map(|((_, _), i)| *i);
        if let Some(purged) = purged {
            entries.retain(|e| e.log_id.index > purged);
        }
        let records = entries
            .iter()
            .map(|e| Ok((stored_id(&e.log_id), serde_json::to_vec(&e.payload).map_err(storage_error)?)))
            .collect::<Result<Vec<_>, StorageError>>()?;
        {
            let mut log = self.lock();
            // An entry appended at an index the log holds replaces it and everything after.
            let first = entries.first().map(|e| e.log_id.index);
            if let (Some(first), Some(((_, _), last))) = (first, log.log_state().last())
                && first <= *last
            {
                cut_from(&mut log, first).map_err(storage_error)?;
            }
            log.append(records).map_err(storage_error)?;
            log.flush(true, flushed).map_err(storage_error)?;
        }
        self.remember(entries);
        Ok(())
    }

    /// Adds entries to the in-memory tail, keeping it bounded.
    fn remember(&self, entries: Vec<Entry>) {
        let Some(first) = entries.first().map(|e| e.log_id.index) else { return };
        let mut tail = self.tail.lock().expect("log tail lock");
        // Entries from `first` on were just replaced.
        tail.split_off(&first);
        tail.extend(entries.into_iter().map(|e| (e.log_id.index, e)));
        while tail.len() > TAIL_ENTRIES {
            tail.pop_first();
        }
    }
}

/// Removes the entries from `index` on. The log cuts after the entry before `index`; when it
/// holds none (the log starts at `index` without a purge before it), it removes them all.
fn cut_from(log: &mut raft_log::RaftLog<LogTypes>, index: u64) -> io::Result<raft_log::Segment> {
    let first_kept = log.log_state().purged().map_or(0, |((_, _), i)| i + 1);
    let before_held = index > first_kept && log.read(index - 1, index).next().is_some();
    log.truncate(if before_held { index } else { first_kept })
}

fn bounds(range: &impl RangeBounds<u64>) -> (u64, u64) {
    let start = match range.start_bound() {
        Bound::Included(s) => *s,
        Bound::Excluded(s) => *s + 1,
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(e) => *e + 1,
        Bound::Excluded(e) => *e,
        Bound::Unbounded => u64::MAX,
    };
    (start, end)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let (start, end) = bounds(&range);
        if let Some(entries) = self.tail_range(start, end) {
            return Ok(entries);
        }
        let log = self.lock();
        log.read(start, end)
            .map(|read| {
                let (id, payload) = read.map_err(storage_error)?;
                let payload: EntryPayload<TypeConfig> = serde_json::from_slice(&payload).map_err(storage_error)?;
                Ok(Entry { log_id: log_id(&id), payload })
            })
            .collect()
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let log = self.lock();
        let state = log.log_state();
        let last_purged_log_id = state.purged().map(log_id);
        let last_log_id = state.last().map(log_id).or(last_purged_log_id);
        Ok(LogState { last_purged_log_id, last_log_id })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, v: &Vote<ReplicaId>) -> Result<(), StorageError> {
        // On disk before this returns, so a restart never votes twice in a term.
        let v = stored_vote(v);
        self.write_durably(|log| log.save_vote(v)).await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<ReplicaId>>, StorageError> {
        Ok(self.lock().log_state().vote().map(vote))
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        self.append_queued(entries.into_iter().collect(), Some(Flushed::Raft(callback)))
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.tail.lock().expect("log tail lock").split_off(&log_id.index);
        self.write_durably(|log| cut_from(log, log_id.index)).await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        {
            let mut tail = self.tail.lock().expect("log tail lock");
            *tail = tail.split_off(&(log_id.index + 1));
        }
        // Segments wholly at or below the index are removed once the purge record is synced.
        let upto = stored_id(&log_id);
        self.write_durably(|log| log.purge(upto)).await
    }
}

/// Where a replica's log lives under its data folder.
pub fn log_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("raft-log")
}

/// Moves the log of an earlier release (one SQLite file, `raft-log.db`) into the new log, once:
/// the vote, the purge point and every entry, synced, before the old file is renamed
/// `raft-log.db.imported` (kept, not deleted). Returns how many entries it moved.
pub async fn import_sqlite_log(data_dir: &Path, log: &mut LogStore) -> anyhow::Result<Option<usize>> {
    let old = data_dir.join("raft-log.db");
    if !old.exists() {
        return Ok(None);
    }
    {
        let state = log.lock().log_state().clone();
        anyhow::ensure!(
            state.last().is_none() && state.vote().is_none(),
            "{} and {} both hold a raft log; move one away",
            old.display(),
            log_dir(data_dir).display()
        );
    }
    let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(&old).read_only(true);
    let pool = sqlx::SqlitePool::connect_with(opts).await?;
    let meta = async |key: &str| -> anyhow::Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = ?").bind(key).fetch_optional(&pool).await?)
    };
    if let Some(v) = meta("vote").await? {
        log.save_vote(&serde_json::from_str(&v)?).await?;
    }
    if let Some(p) = meta("last_purged").await? {
        log.purge(serde_json::from_str(&p)?).await?;
    }
    let rows: Vec<String> = sqlx::query_scalar("SELECT entry FROM log ORDER BY idx").fetch_all(&pool).await?;
    pool.close().await;
    let entries = rows.iter().map(|r| serde_json::from_str::<Entry>(r)).collect::<Result<Vec<_>, _>>()?;
    let moved = entries.len();
    for chunk in entries.chunks(1000) {
        log.append_queued(chunk.to_vec(), None)?;
    }
    log.close().await;
    std::fs::rename(&old, data_dir.join("raft-log.db.imported"))?;
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(data_dir.join(format!("raft-log.db{suffix}")));
    }
    tracing::info!(entries = moved, "moved the raft log from raft-log.db into the segmented log");
    Ok(Some(moved))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(term: u64, index: u64) -> Entry {
        Entry { log_id: LogId::new(CommittedLeaderId::new(term, 1), index), payload: EntryPayload::Blank }
    }

    fn ids(entries: &[Entry]) -> Vec<(u64, u64)> {
        entries.iter().map(|e| (e.log_id.leader_id.term, e.log_id.index)).collect()
    }

    async fn append(log: &LogStore, entries: Vec<Entry>) {
        let (tx, rx) = oneshot::channel();
        log.append_queued(entries, Some(Flushed::Waiter(tx))).unwrap();
        rx.await.unwrap().unwrap();
    }

    /// Reads `[start, end)` through `log` (its tail where it can) and through the segmented log
    /// alone, and checks that both give the same entries.
    async fn read(log: &mut LogStore, start: u64, end: u64) -> Vec<(u64, u64)> {
        let through_tail = ids(&log.try_get_log_entries(start..end).await.unwrap());
        let on_disk = {
            let guard = log.lock();
            guard
                .read(start, end)
                .map(|r| {
                    let ((term, _), index) = r.unwrap().0;
                    (term, index)
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(through_tail, on_disk, "[{start}, {end})");
        through_tail
    }

    #[tokio::test]
    async fn the_tail_in_memory_always_agrees_with_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = LogStore::open(dir.path(), 1).await.unwrap();

        append(&log, (1..=10).map(|i| entry(1, i)).collect()).await;
        assert_eq!(read(&mut log, 1, 11).await, (1..=10).map(|i| (1, i)).collect::<Vec<_>>());

        // A follower's conflicting suffix is truncated, then replaced under a newer term.
        log.truncate(entry(1, 6).log_id).await.unwrap();
        assert_eq!(read(&mut log, 1, 11).await, (1..=5).map(|i| (1, i)).collect::<Vec<_>>());
        append(&log, (6..=8).map(|i| entry(2, i)).collect()).await;
        assert_eq!(read(&mut log, 5, 9).await, vec![(1, 5), (2, 6), (2, 7), (2, 8)]);

        // Purged after a snapshot: nothing at or below the purged index is served.
        log.purge(entry(1, 3).log_id).await.unwrap();
        assert_eq!(read(&mut log, 1, 9).await, vec![(1, 4), (1, 5), (2, 6), (2, 7), (2, 8)]);

        // Everything purged (a snapshot was installed), then appends after the snapshot.
        log.purge(entry(2, 8).log_id).await.unwrap();
        let state = log.get_log_state().await.unwrap();
        assert_eq!(state.last_log_id.map(|l| l.index), Some(8));
        append(&log, (9..=11).map(|i| entry(3, i)).collect()).await;
        assert_eq!(read(&mut log, 1, 30).await, vec![(3, 9), (3, 10), (3, 11)]);

        // More entries than the tail holds: old ones come from the log, new ones from memory.
        let last = 11 + 2 * TAIL_ENTRIES as u64;
        for i in 12..=last {
            append(&log, vec![entry(3, i)]).await;
        }
        assert_eq!(log.tail.lock().unwrap().len(), TAIL_ENTRIES);
        assert_eq!(read(&mut log, 9, last + 1).await.len(), (last - 8) as usize);

        // Everything survives a reopen, and the vote with it.
        let v = Vote::new(3, 2);
        log.save_vote(&v).await.unwrap();
        log.close().await;
        drop(log);
        let mut reopened = LogStore::open(dir.path(), 1).await.unwrap();
        assert_eq!(reopened.read_vote().await.unwrap(), Some(v));
        assert_eq!(ids(&reopened.try_get_log_entries(9..last + 1).await.unwrap()).len(), (last - 8) as usize);
        let state = reopened.get_log_state().await.unwrap();
        assert_eq!(
            (state.last_purged_log_id.map(|l| l.index), state.last_log_id.map(|l| l.index)),
            (Some(8), Some(last))
        );
    }

    #[tokio::test]
    async fn another_replicas_log_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let log = LogStore::open(dir.path(), 1).await.unwrap();
        log.close().await;
        drop(log);
        let refused = LogStore::open(dir.path(), 2).await.err().expect("refused").to_string();
        assert!(refused.contains("belongs to replica 1, not 2"), "{refused}");
    }

    /// A crash in the middle of a write leaves part of the last record: the log opens with the
    /// entries before it, the vote intact, and takes new appends after them.
    #[tokio::test]
    async fn a_torn_last_record_is_cut_back_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = LogStore::open(dir.path(), 1).await.unwrap();
        log.save_vote(&Vote::new(1, 1)).await.unwrap();
        append(&log, (1..=20).map(|i| entry(1, i)).collect()).await;
        log.close().await;
        drop(log);

        // The newest segment loses its last 5 bytes, as after a torn write.
        let newest = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file() && std::fs::metadata(p).unwrap().len() > 0)
            .max()
            .expect("a segment file");
        let len = std::fs::metadata(&newest).unwrap().len();
        std::fs::OpenOptions::new().write(true).open(&newest).unwrap().set_len(len - 5).unwrap();

        let mut log = LogStore::open(dir.path(), 1).await.unwrap();
        let kept = ids(&log.try_get_log_entries(1..100).await.unwrap());
        assert_eq!(kept, (1..=19).map(|i| (1, i)).collect::<Vec<_>>(), "only the torn entry is gone");
        assert_eq!(log.read_vote().await.unwrap(), Some(Vote::new(1, 1)));
        append(&log, vec![entry(1, 20), entry(1, 21)]).await;
        log.close().await;
        drop(log);
        let mut log = LogStore::open(dir.path(), 1).await.unwrap();
        assert_eq!(log.get_log_state().await.unwrap().last_log_id.map(|l| l.index), Some(21));
        assert_eq!(log.try_get_log_entries(1..100).await.unwrap().len(), 21);
    }

    /// A replica of an earlier release kept its log in `raft-log.db`: its vote, purge point and
    /// entries move into the segmented log once, and the old file is kept under a new name.
    #[tokio::test]
    async fn the_sqlite_log_of_an_earlier_release_is_moved_in() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("raft-log.db");
        let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(&old).create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
        sqlx::raw_sql(
            "CREATE TABLE log (idx INTEGER PRIMARY KEY, entry TEXT NOT NULL);
             CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
        )
        .execute(&pool)
        .await
        .unwrap();
        let meta = [
            ("vote", serde_json::to_string(&Vote::new(4, 2)).unwrap()),
            ("last_purged", serde_json::to_string(&entry(2, 5).log_id).unwrap()),
            ("replica_id", "1".into()),
        ];
        for (k, v) in meta {
            sqlx::query("INSERT INTO meta VALUES (?, ?)").bind(k).bind(v).execute(&pool).await.unwrap();
        }
        for i in 6..=9 {
            let e = serde_json::to_string(&entry(3, i)).unwrap();
            sqlx::query("INSERT INTO log VALUES (?, ?)").bind(i as i64).bind(e).execute(&pool).await.unwrap();
        }
        pool.close().await;

        let mut log = LogStore::open(&log_dir(dir.path()), 1).await.unwrap();
        assert_eq!(import_sqlite_log(dir.path(), &mut log).await.unwrap(), Some(4));
        assert!(!old.exists() && dir.path().join("raft-log.db.imported").exists());
        log.close().await;
        drop(log);

        let mut log = LogStore::open(&log_dir(dir.path()), 1).await.unwrap();
        assert_eq!(import_sqlite_log(dir.path(), &mut log).await.unwrap(), None, "moved once");
        assert_eq!(log.read_vote().await.unwrap(), Some(Vote::new(4, 2)));
        let state = log.get_log_state().await.unwrap();
        assert_eq!((state.last_purged_log_id.map(|l| l.index), state.last_log_id.map(|l| l.index)), (Some(5), Some(9)));
        assert_eq!(ids(&log.try_get_log_entries(0..100).await.unwrap()), (6..=9).map(|i| (3, i)).collect::<Vec<_>>());
    }
}
