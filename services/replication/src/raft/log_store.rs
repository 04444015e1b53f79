//! The raft log in SQLite. Appends are one transaction per batch, committed with
//! `synchronous=FULL` before openraft hears they are durable; the vote is durable before
//! `save_vote` returns.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{RaftLogReader, Vote};
use sqlx::SqlitePool;
use xuncha_store::{Durability, pool_for};

use super::types::{LogId, ReplicaId, StorageError, TypeConfig, storage_error};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/log");

type Entry = openraft::Entry<TypeConfig>;

/// One replica's log.
#[derive(Clone)]
pub struct LogStore {
    pool: SqlitePool,
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
        let store = Self { pool };
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

    pub async fn close(&self) {
        self.pool.close().await;
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
        let rows = entries
            .into_iter()
            .map(|e| Ok((e.log_id.index as i64, serde_json::to_string(&e).map_err(storage_error)?)))
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
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        sqlx::query("DELETE FROM log WHERE idx >= ?")
            .bind(log_id.index as i64)
            .execute(&self.pool)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
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
