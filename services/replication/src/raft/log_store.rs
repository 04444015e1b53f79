//! The raft log in SQLite. Appends are one transaction per batch, committed with
//! `synchronous=FULL` before openraft hears they are durable; the vote is durable before
//! `save_vote` returns. The newest entries are also kept in memory, so the leader's replication
//! streams read what was just appended without a trip through SQLite and JSON.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::{Arc, Mutex};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{RaftLogReader, Vote};
use sqlx::SqlitePool;
use xuncha_store::{Durability, pool_for};

use super::types::{LogId, ReplicaId, StorageError, TypeConfig, storage_error};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/log");

type Entry = openraft::Entry<TypeConfig>;

/// How many of the newest entries stay in memory. An entry carries up to a batch of commands,
/// so this bounds the copy to a few MiB; followers further behind read from SQLite.
const TAIL_ENTRIES: usize = 64;

/// One replica's log.
#[derive(Clone)]
pub struct LogStore {
    pool: SqlitePool,
    /// The newest durable entries by index: always a copy of the end of the `log` table.
    tail: Arc<Mutex<BTreeMap<u64, Entry>>>,
}

impl LogStore {
    /// Opens the log at `path` for replica `id`. A log made by another replica id is refused:
    /// ids are never reused, and a replica's data never serves under another id.
    pub async fn open(path: &Path, id: ReplicaId) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let pool = pool_for(path, Durability::Full).await?;
        MIGRATOR.run(&pool).await?;
        let store = Self { pool, tail: Arc::default() };
        match store.get("replica_id").await? {
            Some(found) if found != id.to_string() => {
                anyhow::bail!(
                    "{} belongs to replica {found}, not {id}; a replica's data never serves under another id",
                    path.display()
                )
            }
            Some(_) => {}
            None => store.put("replica_id", &id.to_string()).await?,
        }
        Ok(store)
    }

    async fn get(&self, key: &str) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT value FROM meta WHERE key = ?").bind(key).fetch_optional(&self.pool).await
    }

    async fn put(&self, key: &str, value: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StorageError> {
        match self.get(key).await.map_err(storage_error)? {
            Some(v) => serde_json::from_str(&v).map(Some).map_err(storage_error),
            None => Ok(None),
        }
    }

    /// The entries of `[start, end)` if the in-memory tail holds all of them.
    fn tail_range(&self, start: u64, end: u64) -> Option<Vec<Entry>> {
        let tail = self.tail.lock().expect("log tail lock");
        let first = *tail.keys().next()?;
        let last = *tail.keys().next_back()?;
        (first <= start && end <= last + 1).then(|| tail.range(start..end).map(|(_, e)| e.clone()).collect())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Writes entries and returns once they are on disk (one fsynced transaction), then keeps
    /// them in the tail.
    async fn append_durably(&self, entries: Vec<Entry>) -> Result<(), StorageError> {
        let rows = entries
            .iter()
            .map(|e| Ok((e.log_id.index as i64, serde_json::to_string(e).map_err(storage_error)?)))
            .collect::<Result<Vec<_>, StorageError>>()?;
        // One statement (one implicit transaction) per call, fsynced on commit: synchronous=FULL.
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new("");
        for chunk in rows.chunks(500) {
            q.push("INSERT OR REPLACE INTO log (idx, entry) ");
            q.push_values(chunk, |mut b, (idx, json)| {
                b.push_bind(*idx).push_bind(json.clone());
            });
            q.push("; ");
        }
        if rows.len() <= 500 {
            q.build().execute(&self.pool).await.map_err(storage_error)?;
        } else {
            // Several statements must still land together.
            let mut tx = self.pool.begin().await.map_err(storage_error)?;
            q.build().execute(&mut *tx).await.map_err(storage_error)?;
            tx.commit().await.map_err(storage_error)?;
        }
        self.remember(entries);
        Ok(())
    }

    /// Adds durable entries to the in-memory tail, keeping it bounded.
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

fn bounds(range: &impl RangeBounds<u64>) -> (i64, i64) {
    let start = match range.start_bound() {
        Bound::Included(s) => *s as i64,
        Bound::Excluded(s) => *s as i64 + 1,
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(e) => *e as i64 + 1,
        Bound::Excluded(e) => *e as i64,
        Bound::Unbounded => i64::MAX,
    };
    (start, end)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let (start, end) = bounds(&range);
        if let Some(entries) = self.tail_range(start as u64, end as u64) {
            return Ok(entries);
        }
        let rows: Vec<String> = sqlx::query_scalar("SELECT entry FROM log WHERE idx >= ? AND idx < ? ORDER BY idx")
            .bind(start)
            .bind(end)
            .fetch_all(&self.pool)
            .await
            .map_err(storage_error)?;
        rows.iter().map(|r| serde_json::from_str(r).map_err(storage_error)).collect()
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged_log_id: Option<LogId> = self.get_json("last_purged").await?;
        let last: Option<String> = sqlx::query_scalar("SELECT entry FROM log ORDER BY idx DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(storage_error)?;
        let last_log_id = match last {
            Some(e) => Some(serde_json::from_str::<Entry>(&e).map_err(storage_error)?.log_id),
            None => last_purged_log_id,
        };
        Ok(LogState { last_purged_log_id, last_log_id })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<ReplicaId>) -> Result<(), StorageError> {
        // synchronous=FULL: the vote is on disk when this returns, so a restart never votes twice.
        self.put("vote", &serde_json::to_string(vote).map_err(storage_error)?).await.map_err(storage_error)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<ReplicaId>>, StorageError> {
        self.get_json("vote").await
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        self.append_durably(entries.into_iter().collect()).await?;
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.tail.lock().expect("log tail lock").split_off(&log_id.index);
        sqlx::query("DELETE FROM log WHERE idx >= ?")
            .bind(log_id.index as i64)
            .execute(&self.pool)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        {
            let mut tail = self.tail.lock().expect("log tail lock");
            *tail = tail.split_off(&(log_id.index + 1));
        }
        let mut tx = self.pool.begin().await.map_err(storage_error)?;
        sqlx::query("DELETE FROM log WHERE idx <= ?")
            .bind(log_id.index as i64)
            .execute(&mut *tx)
            .await
            .map_err(storage_error)?;
        sqlx::query("INSERT INTO meta (key, value) VALUES ('last_purged', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(serde_json::to_string(&log_id).map_err(storage_error)?)
            .execute(&mut *tx)
            .await
            .map_err(storage_error)?;
        tx.commit().await.map_err(storage_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use openraft::{CommittedLeaderId, EntryPayload};

    use super::*;

    fn entry(term: u64, index: u64) -> Entry {
        Entry { log_id: LogId::new(CommittedLeaderId::new(term, 1), index), payload: EntryPayload::Blank }
    }

    fn ids(entries: &[Entry]) -> Vec<(u64, u64)> {
        entries.iter().map(|e| (e.log_id.leader_id.term, e.log_id.index)).collect()
    }

    /// Reads `[start, end)` through `log` (its tail where it can) and through a second handle on
    /// the same file (SQLite only), and checks that both give the same entries.
    async fn read(log: &mut LogStore, path: &Path, start: u64, end: u64) -> Vec<(u64, u64)> {
        let through_tail = ids(&log.try_get_log_entries(start..end).await.unwrap());
        let mut on_disk = LogStore::open(path, 1).await.unwrap();
        assert_eq!(through_tail, ids(&on_disk.try_get_log_entries(start..end).await.unwrap()), "[{start}, {end})");
        on_disk.close().await;
        through_tail
    }

    #[tokio::test]
    async fn the_tail_in_memory_always_agrees_with_the_log_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("raft-log.db");
        let mut log = LogStore::open(&path, 1).await.unwrap();

        log.append_durably((1..=10).map(|i| entry(1, i)).collect()).await.unwrap();
        assert_eq!(read(&mut log, &path, 1, 11).await, (1..=10).map(|i| (1, i)).collect::<Vec<_>>());

        // A follower's conflicting suffix is truncated, then replaced under a newer term.
        log.truncate(entry(1, 6).log_id).await.unwrap();
        assert_eq!(read(&mut log, &path, 1, 11).await, (1..=5).map(|i| (1, i)).collect::<Vec<_>>());
        log.append_durably((6..=8).map(|i| entry(2, i)).collect()).await.unwrap();
        assert_eq!(read(&mut log, &path, 5, 9).await, vec![(1, 5), (2, 6), (2, 7), (2, 8)]);

        // Purged after a snapshot: nothing at or below the purged index is served.
        log.purge(entry(1, 3).log_id).await.unwrap();
        assert_eq!(read(&mut log, &path, 1, 9).await, vec![(1, 4), (1, 5), (2, 6), (2, 7), (2, 8)]);

        // Everything purged (a snapshot was installed), then appends after the snapshot.
        log.purge(entry(2, 8).log_id).await.unwrap();
        log.append_durably((20..=22).map(|i| entry(3, i)).collect()).await.unwrap();
        assert_eq!(read(&mut log, &path, 1, 30).await, vec![(3, 20), (3, 21), (3, 22)]);

        // More entries than the tail holds: old ones come from disk, new ones from memory.
        let last = 22 + 2 * TAIL_ENTRIES as u64;
        for i in 23..=last {
            log.append_durably(vec![entry(3, i)]).await.unwrap();
        }
        assert_eq!(log.tail.lock().unwrap().len(), TAIL_ENTRIES);
        assert_eq!(read(&mut log, &path, 20, last + 1).await.len(), (last - 19) as usize);
        assert_eq!(
            read(&mut log, &path, last - 3, last + 1).await,
            ((last - 3)..=last).map(|i| (3, i)).collect::<Vec<_>>()
        );
    }
}
