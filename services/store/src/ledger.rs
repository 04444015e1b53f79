//! Reading the ledger (台账).

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;
use xuncha_domain::{LedgerEvent, NodeId};

use crate::error::{StoreResult, corrupt};

/// Which events to list. Empty fields do not filter.
#[derive(Clone, Debug, Default)]
pub struct LedgerFilter {
    pub node: Option<NodeId>,
    pub subject_kind: Option<String>,
    pub subject_id: Option<String>,
    /// Actions starting with this (`round.`).
    pub action_prefix: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub limit: u32,
    pub offset: u32,
}

/// Events matching `filter`, oldest first.
pub async fn ledger_page(conn: &mut SqliteConnection, filter: &LedgerFilter) -> StoreResult<Vec<LedgerEvent>> {
    let fmt = |t: &DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let bodies: Vec<String> = sqlx::query_scalar(
        "SELECT body FROM ledger WHERE (?1 IS NULL OR node = ?1) AND (?2 IS NULL OR subject_kind = ?2) \
         AND (?3 IS NULL OR subject_id = ?3) AND (?4 IS NULL OR substr(action, 1, length(?4)) = ?4) \
         AND (?5 IS NULL OR at >= ?5) AND (?6 IS NULL OR at <= ?6) ORDER BY at, id LIMIT ?7 OFFSET ?8",
    )
    .bind(filter.node.as_ref().map(|n| n.as_str().to_string()))
    .bind(filter.subject_kind.clone())
    .bind(filter.subject_id.clone())
    .bind(filter.action_prefix.clone())
    .bind(filter.since.as_ref().map(fmt))
    .bind(filter.until.as_ref().map(fmt))
    .bind(if filter.limit == 0 { -1 } else { filter.limit as i64 })
    .bind(filter.offset as i64)
    .fetch_all(conn)
    .await?;
    bodies.iter().map(|b| serde_json::from_str(b).map_err(corrupt)).collect()
}
