//! SQLite storage through sqlx: records (the JSON of their domain type), the ledger, the outbox
//! that sync reads, and per-peer cursors. Every mutation writes its records, its ledger events
//! and its outbox rows in one transaction. [`Engine`] pairs a store with the in-memory
//! [`State`](xuncha_domain::State) the decisions read.

mod access;
mod engine;
mod error;
mod ledger;
mod records;
mod sync;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use xuncha_domain::NodeId;

pub use access::{ApplyTx, ReadView, STATE_TABLES, meta_of_copy};
pub use engine::{Engine, ExecuteError};
pub use error::{StoreError, StoreResult};
pub use ledger::{ChainBreak, ChainReport, LedgerCursor, LedgerFilter};
pub use sync::{
    BATCH_BYTE_BUDGET, Change, LEDGER_EVENT_KIND, MAX_CHANGE_BYTES, MAX_CHANGES_PER_BATCH, MAX_SYNC_MESSAGE_BYTES,
    PeerStatus, Received, RemoteApplied, audiences_for, parse_change,
};

/// How hard a commit waits for the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// fsync on every commit: an acknowledged write survives power loss. County nodes, raft log.
    Full,
    /// fsync at checkpoints: a raft state machine that can re-apply from the log.
    Normal,
}

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// One SQLite database file with the node's records, through two pools: one connection that
/// every write takes in turn, and readers beside it (WAL lets them read while it writes). A
/// long read (a backup, a ledger page, a sync batch) so never holds up a write, and a write
/// waits only for the writes before it.
#[derive(Clone, Debug)]
pub struct Store {
    readers: SqlitePool,
    writer: SqlitePool,
    node: NodeId,
    path: PathBuf,
}

/// How long a write waits for the writes queued before it. Writes are short (one transaction
/// of one batch), so this is not reached unless the disk stalls.
pub const WRITE_WAIT: Duration = Duration::from_secs(600);

impl Store {
    /// Opens (or creates) the database at `path` for node `node`, runs migrations, seeds the
    /// standard categories, and refuses a file that belongs to another node.
    pub async fn open(path: &Path, node: &NodeId, durability: Durability) -> StoreResult<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let writer = pool_of(path, durability, 1, WRITE_WAIT).await?;
        MIGRATOR.run(&writer).await?;
        let readers = pool_for(path, durability).await?;
        let store = Self { readers, writer, node: node.clone(), path: path.to_path_buf() };
        store.claim(node).await?;
        records::seed(&store.writer).await?;
        Ok(store)
    }

    pub fn node(&self) -> &NodeId {
        &self.node
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes a consistent copy of the whole database to `dest` (an online backup).
    pub async fn backup_to(&self, dest: &Path) -> StoreResult<()> {
        if dest.exists() {
            std::fs::remove_file(dest)?;
        }
        let dest = dest.to_str().ok_or_else(|| error::corrupt("backup path is not UTF-8"))?;
        // A read transaction on a reader: writes go on meanwhile.
        sqlx::query("VACUUM INTO ?").bind(dest).execute(&self.readers).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.readers.close().await;
        self.writer.close().await;
    }

    async fn claim(&self, node: &NodeId) -> StoreResult<()> {
        let found: Option<String> = sqlx::query_scalar("SELECT value FROM node_meta WHERE key = 'node_id'")
            .fetch_optional(&self.writer)
            .await?;
        match found {
            Some(f) if f != node.as_str() => Err(StoreError::WrongNode { expected: node.to_string(), found: f }),
            Some(_) => Ok(()),
            None => {
                sqlx::query("INSERT INTO node_meta (key, value) VALUES ('node_id', ?)")
                    .bind(node.as_str())
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }
        }
    }
}

/// A value from `node_meta`.
pub(crate) async fn meta_get(conn: &mut sqlx::SqliteConnection, key: &str) -> StoreResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT value FROM node_meta WHERE key = ?").bind(key).fetch_optional(conn).await?)
}

/// Sets a value in `node_meta`.
pub(crate) async fn meta_set(conn: &mut sqlx::SqliteConnection, key: &str, value: &str) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO node_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .execute(conn)
    .await?;
    Ok(())
}

/// A connection pool on one SQLite file in WAL mode.
pub async fn pool_for(path: &Path, durability: Durability) -> StoreResult<SqlitePool> {
    pool_of(path, durability, 4, Duration::from_secs(30)).await
}

async fn pool_of(path: &Path, durability: Durability, connections: u32, wait: Duration) -> StoreResult<SqlitePool> {
    let url = format!("sqlite://{}", path.display());
    let options = SqliteConnectOptions::from_str(&url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(match durability {
            Durability::Full => SqliteSynchronous::Full,
            Durability::Normal => SqliteSynchronous::Normal,
        })
        .busy_timeout(Duration::from_secs(30))
        .foreign_keys(true);
    // No ping before each acquire: a local file does not go away, and the ping is a round trip.
    Ok(SqlitePoolOptions::new()
        .max_connections(connections)
        .min_connections(1)
        .acquire_timeout(wait)
        .test_before_acquire(false)
        .connect_with(options)
        .await?)
}
