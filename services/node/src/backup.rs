//! Restoring a node from an online backup (`xuncha backup` streams one: a consistent copy of
//! the node's database made with `VACUUM INTO`).
//!
//! A county's backup becomes its `county.db`. A city replica's backup becomes the state of a
//! new single-replica cluster: its raft metadata is cleared, the operator initialises it
//! (`cluster init` with itself), and on that first start it snapshots and compacts its log at
//! once, so replicas added later catch up from the snapshot (which holds the restored data)
//! rather than from a log that does not.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, bail};
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

/// What the backup is restored as.
#[derive(Clone, Debug)]
pub enum RestoreAs {
    County(String),
    /// A replica id never used in the cluster the backup came from.
    Replica(u64),
}

/// The marker a restored city replica leaves until it has snapshotted its restored state.
pub const RESTORED_MARKER: &str = "RESTORED-FROM-BACKUP";

async fn open(path: &Path) -> anyhow::Result<SqliteConnection> {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?;
    Ok(SqliteConnection::connect_with(&options).await?)
}

/// Restores `file` into `data_dir` as `target`. Returns the database written.
pub async fn restore_backup(file: &Path, data_dir: &Path, target: &RestoreAs) -> anyhow::Result<PathBuf> {
    let mut conn = open(file).await.with_context(|| format!("opening {}", file.display()))?;
    let node: Option<String> = sqlx::query_scalar("SELECT value FROM node_meta WHERE key = 'node_id'")
        .fetch_optional(&mut conn)
        .await
        .context("not a xuncha database")?;
    conn.close().await?;
    let node = node.context("not a xuncha database (no node id)")?;
    std::fs::create_dir_all(data_dir)?;
    let dest = match target {
        RestoreAs::County(code) => {
            if node != format!("county/{code}") {
                bail!("the backup is of {node}, not county/{code}");
            }
            data_dir.join("county.db")
        }
        RestoreAs::Replica(_) => {
            if node != "city" {
                bail!("the backup is of {node}, not of the city");
            }
            if data_dir.join("raft-log.db").exists() || data_dir.join("raft-log").exists() {
                bail!("{} already holds a replica; restore into an empty folder", data_dir.display());
            }
            data_dir.join("state.db")
        }
    };
    if dest.exists() {
        bail!("{} exists; restore into an empty folder", dest.display());
    }
    std::fs::copy(file, &dest).with_context(|| format!("writing {}", dest.display()))?;
    if matches!(target, RestoreAs::Replica(_)) {
        // The state of a new cluster: nothing applied from a log, no membership yet. The ids
        // seen stay, so the old cluster's ids are not handed out again.
        let mut conn = open(&dest).await?;
        sqlx::query("DELETE FROM node_meta WHERE key IN ('raft_last_applied', 'raft_membership')")
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        std::fs::write(data_dir.join(RESTORED_MARKER), "snapshot and compact the log on first leadership\n")?;
    }
    Ok(dest)
}
