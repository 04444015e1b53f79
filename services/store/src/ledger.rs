//! Reading the ledger (台账).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use xuncha_domain::ledger::ChainLink;
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
    /// Only events after this one in ledger order (time, then id): paging that stays cheap
    /// however deep it goes, where `offset` skips rows one by one.
    pub after: Option<LedgerCursor>,
    pub limit: u32,
    pub offset: u32,
}

/// A place in the ledger's order: the time and id of the last event read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerCursor {
    pub at: DateTime<Utc>,
    pub id: String,
}

impl LedgerCursor {
    pub fn of(event: &LedgerEvent) -> Self {
        Self { at: event.at, id: event.id.to_string() }
    }
}

/// Events matching `filter`, oldest first.
pub(crate) async fn ledger_page(conn: &mut SqliteConnection, filter: &LedgerFilter) -> StoreResult<Vec<LedgerEvent>> {
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
    if let Some(c) = &filter.after {
        q.push(" AND (at, id) > (").push_bind(fmt(&c.at)).push(", ").push_bind(c.id.clone()).push(")");
    }
    q.push(" ORDER BY at, id LIMIT ")
        .push_bind(if filter.limit == 0 { -1 } else { filter.limit as i64 })
        .push(" OFFSET ")
        .push_bind(filter.offset as i64);
    let bodies: Vec<String> = q.build_query_scalar().fetch_all(conn).await?;
    bodies.iter().map(|b| serde_json::from_str(b).map_err(corrupt)).collect()
}

/// What `ledger verify` found on one chain (the events of one node for one audience).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainReport {
    pub node: String,
    pub audience: String,
    /// Events checked in order until the end or the first break.
    pub checked: u64,
    /// The last link that checked out.
    pub head: Option<ChainLink>,
    pub first_break: Option<ChainBreak>,
}

/// The first event that does not follow the one before it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainBreak {
    /// Its place in the chain, as stored.
    pub n: u64,
    pub event: String,
    pub reason: String,
}

/// Events read per query while walking a chain.
const VERIFY_PAGE: i64 = 2_000;

/// Walks every chain of the ledger from its first event, checking each link and hash; reports
/// per chain how far it checks out and the first break. Memory stays at one page.
pub(crate) async fn verify_ledger(conn: &mut SqliteConnection) -> StoreResult<(Vec<ChainReport>, u64)> {
    let chains: Vec<(String, String)> =
        sqlx::query_as("SELECT DISTINCT node, audience FROM ledger WHERE chain_n IS NOT NULL ORDER BY node, audience")
            .fetch_all(&mut *conn)
            .await?;
    let unchained: i64 =
        sqlx::query_scalar("SELECT count(*) FROM ledger WHERE chain_n IS NULL").fetch_one(&mut *conn).await?;
    let mut reports = Vec::with_capacity(chains.len());
    for (node, audience) in chains {
        let mut report = ChainReport { node, audience, checked: 0, head: None, first_break: None };
        let mut after: i64 = 0;
        'pages: loop {
            let rows: Vec<(String, i64, String)> = sqlx::query_as(
                "SELECT id, chain_n, body FROM ledger WHERE node = ? AND audience = ? AND chain_n > ? \
                 ORDER BY chain_n, id LIMIT ?",
            )
            .bind(&report.node)
            .bind(&report.audience)
            .bind(after)
            .bind(VERIFY_PAGE)
            .fetch_all(&mut *conn)
            .await?;
            let Some(last) = rows.last() else { break };
            after = last.1;
            let full = rows.len() as i64 == VERIFY_PAGE;
            for (id, n, body) in rows {
                let broken = |reason: String| ChainBreak { n: n as u64, event: id.clone(), reason };
                let problem = match serde_json::from_str::<LedgerEvent>(&body) {
                    Err(e) => Some(broken(format!("事件 {id} 无法读取:{e}"))),
                    Ok(e) if e.chain.as_ref().map(|c| c.n as i64) != Some(n) || e.id.to_string() != id => {
                        Some(broken(format!("事件 {id} 的编号或标识与所存内容不符")))
                    }
                    Ok(e) if e.node.as_str() != report.node || e.audience.as_column() != report.audience => {
                        Some(broken(format!("事件 {id} 的来源或去向与所在链不符")))
                    }
                    Ok(e) => match e.follows(report.head.as_ref()) {
                        Ok(()) => {
                            report.head = e.chain;
                            report.checked += 1;
                            None
                        }
                        Err(why) => Some(broken(why)),
                    },
                };
                if let Some(b) = problem {
                    report.first_break = Some(b);
                    break 'pages;
                }
            }
            if !full {
                break;
            }
        }
        reports.push(report);
    }
    Ok((reports, unchained as u64))
}
