//! Reading the ledger (台账).

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
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
    /// Only what this account did.
    pub actor_account: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Only events made by these counties or addressed to them (a reader scoped to counties);
    /// `None` reads everything.
    pub counties: Option<Vec<String>>,
    pub limit: u32,
    pub offset: u32,
}

/// Events matching `filter`, oldest first.
pub async fn ledger_page(conn: &mut SqliteConnection, filter: &LedgerFilter) -> StoreResult<Vec<LedgerEvent>> {
    let fmt = |t: &DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let mut q = QueryBuilder::<Sqlite>::new("SELECT body FROM ledger WHERE 1 = 1");
    if let Some(n) = &filter.node {
        q.push(" AND node = ").push_bind(n.as_str().to_string());
    }
    if let Some(k) = &filter.subject_kind {
        q.push(" AND subject_kind = ").push_bind(k.clone());
    }
    if let Some(i) = &filter.subject_id {
        q.push(" AND subject_id = ").push_bind(i.clone());
    }
    if let Some(p) = &filter.action_prefix {
        q.push(" AND substr(action, 1, ").push_bind(p.chars().count() as i64).push(") = ").push_bind(p.clone());
    }
    if let Some(a) = &filter.actor_account {
        q.push(" AND actor_account = ").push_bind(a.clone());
    }
    if let Some(t) = &filter.since {
        q.push(" AND at >= ").push_bind(fmt(t));
    }
    if let Some(t) = &filter.until {
        q.push(" AND at <= ").push_bind(fmt(t));
    }
    if let Some(counties) = &filter.counties {
        q.push(" AND (audience = 'all'");
        for c in counties {
            let node = format!("county/{c}");
            q.push(" OR node = ").push_bind(node.clone()).push(" OR audience = ").push_bind(node);
        }
        q.push(")");
    }
    q.push(" ORDER BY at, id LIMIT ")
        .push_bind(if filter.limit == 0 { -1 } else { filter.limit as i64 })
        .push(" OFFSET ")
        .push_bind(filter.offset as i64);
    let bodies: Vec<String> = q.build_query_scalar().fetch_all(conn).await?;
    bodies.iter().map(|b| serde_json::from_str(b).map_err(corrupt)).collect()
}
