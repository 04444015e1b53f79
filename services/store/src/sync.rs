//! The outbox and the inbound cursors: what sync reads to send, and how received changes are
//! applied exactly once in effect.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::SqliteConnection;
use xuncha_domain::record::{check_remote, check_remote_event};
use xuncha_domain::{LedgerEvent, NodeId, Record};

use crate::error::{StoreResult, corrupt};
use crate::records::{put_events, put_records, stored_versions};

/// The outbox kind of a ledger event (records use their own kind).
pub const LEDGER_EVENT_KIND: &str = "ledger_event";

/// One change as it travels: the origin's sequence number, what it is, and the JSON body of the
/// record (at its current version) or event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub seq: u64,
    pub kind: String,
    pub id: String,
    pub version: u64,
    pub body: String,
}

/// The last sequence number this node gave a change (0 if none).
pub async fn last_outbox_seq(conn: &mut SqliteConnection) -> StoreResult<u64> {
    let v: Option<String> =
        sqlx::query_scalar("SELECT value FROM node_meta WHERE key = 'outbox_seq'").fetch_optional(conn).await?;
    v.map(|s| s.parse::<u64>().map_err(corrupt)).transpose().map(|v| v.unwrap_or(0))
}

/// The outbox audiences whose changes go to `peer`: a county gets what is addressed to it and
/// what goes to all counties; the city gets the county's own changes.
pub fn audiences_for(peer: &NodeId) -> [String; 2] {
    match peer.county_code() {
        Some(code) => [format!("county/{code}"), "all".to_string()],
        None => ["city".to_string(), "city".to_string()],
    }
}

/// Up to `limit` outbox rows after `after` that go to `peer`, with bodies. A record changed
/// several times in the batch is sent once, at its current version; the returned `u64` is the
/// cursor the batch reaches (the last row looked at).
pub async fn changes_for(
    conn: &mut SqliteConnection,
    peer: &NodeId,
    after: u64,
    limit: u32,
) -> StoreResult<(Vec<Change>, u64)> {
    let [a, b] = audiences_for(peer);
    let rows: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT seq, kind, id FROM outbox WHERE seq > ? AND audience IN (?, ?) ORDER BY seq LIMIT ?")
            .bind(after as i64)
            .bind(a)
            .bind(b)
            .bind(limit as i64)
            .fetch_all(&mut *conn)
            .await?;
    let reached = rows.last().map(|r| r.0 as u64).unwrap_or(after);
    // Keep the last row of each record in the batch.
    let mut keep = Vec::with_capacity(rows.len());
    let mut seen = std::collections::HashSet::new();
    for (seq, kind, id) in rows.into_iter().rev() {
        if seen.insert((kind.clone(), id.clone())) {
            keep.push((seq as u64, kind, id));
        }
    }
    keep.reverse();
    let mut out = Vec::with_capacity(keep.len());
    for (seq, kind, id) in keep {
        let (version, body): (i64, String) = if kind == LEDGER_EVENT_KIND {
            let body: String =
                sqlx::query_scalar("SELECT body FROM ledger WHERE id = ?").bind(&id).fetch_one(&mut *conn).await?;
            (1, body)
        } else {
            sqlx::query_as("SELECT version, body FROM records WHERE kind = ? AND id = ?")
                .bind(&kind)
                .bind(&id)
                .fetch_one(&mut *conn)
                .await?
        };
        out.push(Change { seq, kind, id, version: version as u64, body });
    }
    Ok((out, reached))
}

/// What applying a batch from a peer did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemoteApplied {
    /// Records stored (newer than what was held), for the in-memory state.
    pub records: Vec<Record>,
    /// Changes applied (records and events new to this node).
    pub applied: u64,
    /// Changes skipped: already applied (seq at or below the cursor) or not newer.
    pub duplicates: u64,
    /// The peer's cursor after the batch.
    pub applied_seq: u64,
}

/// Applies a batch of changes from `origin`, in sequence order, skipping what was already
/// applied. Every change is checked first (owner, kind, audience); one bad change refuses the
/// whole batch and nothing is written. Call inside a transaction; the caller commits.
pub async fn apply_remote(
    conn: &mut SqliteConnection,
    me: &NodeId,
    origin: &NodeId,
    changes: &[Change],
    now: DateTime<Utc>,
) -> StoreResult<RemoteApplied> {
    let cursor = applied_seq(conn, origin).await?;
    let mut parsed = Vec::new();
    let mut last = cursor;
    let mut duplicates = 0;
    for c in changes {
        if c.seq <= last {
            duplicates += 1;
            continue;
        }
        last = c.seq;
        if c.kind == LEDGER_EVENT_KIND {
            let e: LedgerEvent = serde_json::from_str(&c.body).map_err(|e| corrupt(format!("event {}: {e}", c.id)))?;
            check_remote_event(origin, me, &e)?;
            parsed.push(Err(e));
        } else {
            let r: Record = serde_json::from_str(&c.body).map_err(|e| corrupt(format!("{} {}: {e}", c.kind, c.id)))?;
            if r.kind().as_str() != c.kind || r.id_string() != c.id {
                return Err(corrupt(format!(
                    "change {} says {} {} but holds {} {}",
                    c.seq,
                    c.kind,
                    c.id,
                    r.kind(),
                    r.id_string()
                )));
            }
            check_remote(origin, me, &r)?;
            parsed.push(Ok(r));
        }
    }
    let mut out = RemoteApplied { duplicates, applied_seq: last, ..Default::default() };
    let (records, events): (Vec<_>, Vec<_>) = parsed.into_iter().partition(|p| p.is_ok());
    let records: Vec<Record> = records.into_iter().filter_map(Result::ok).collect();
    let events: Vec<LedgerEvent> = events.into_iter().filter_map(Result::err).collect();
    // Keep the highest version of each record in the batch, and only if newer than what is held.
    let mut newest: std::collections::HashMap<(String, String), Record> = std::collections::HashMap::new();
    for r in records {
        let key = (r.kind().as_str().to_string(), r.id_string());
        match newest.get(&key) {
            Some(held) if held.version() >= r.version() => out.duplicates += 1,
            _ => {
                if newest.insert(key, r).is_some() {
                    out.duplicates += 1;
                }
            }
        }
    }
    let keys: Vec<(String, String)> = newest.keys().cloned().collect();
    let held = stored_versions(conn, &keys).await?;
    for (key, r) in newest {
        if held.get(&key).is_none_or(|v| *v < r.version()) {
            out.records.push(r);
        } else {
            out.duplicates += 1;
        }
    }
    put_records(conn, &out.records.iter().collect::<Vec<_>>()).await?;
    out.applied += out.records.len() as u64;
    let new_events = put_events(conn, &events.iter().collect::<Vec<_>>()).await?;
    out.applied += new_events;
    out.duplicates += events.len() as u64 - new_events;
    sqlx::query(
        "INSERT INTO peers (node, applied_seq, last_contact) VALUES (?, ?, ?) \
         ON CONFLICT (node) DO UPDATE SET applied_seq = excluded.applied_seq, last_contact = excluded.last_contact",
    )
    .bind(origin.as_str())
    .bind(last as i64)
    .bind(now.to_rfc3339())
    .execute(conn)
    .await?;
    Ok(out)
}

/// The highest sequence of `origin`'s changes applied here.
pub async fn applied_seq(conn: &mut SqliteConnection, origin: &NodeId) -> StoreResult<u64> {
    let v: Option<i64> = sqlx::query_scalar("SELECT applied_seq FROM peers WHERE node = ?")
        .bind(origin.as_str())
        .fetch_optional(conn)
        .await?;
    Ok(v.unwrap_or(0) as u64)
}

/// Records that `peer` was in touch, with how many of its changes it still has to send.
pub async fn record_contact(
    conn: &mut SqliteConnection,
    peer: &NodeId,
    now: DateTime<Utc>,
    backlog: u64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO peers (node, last_contact, backlog) VALUES (?, ?, ?) \
         ON CONFLICT (node) DO UPDATE SET last_contact = excluded.last_contact, backlog = excluded.backlog",
    )
    .bind(peer.as_str())
    .bind(now.to_rfc3339())
    .bind(backlog as i64)
    .execute(conn)
    .await?;
    Ok(())
}

/// What this node knows of a peer's link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerStatus {
    pub node: NodeId,
    pub applied_seq: u64,
    pub last_contact: Option<DateTime<Utc>>,
    pub backlog: u64,
}

pub async fn peer_statuses(conn: &mut SqliteConnection) -> StoreResult<Vec<PeerStatus>> {
    let rows: Vec<(String, i64, Option<String>, i64)> =
        sqlx::query_as("SELECT node, applied_seq, last_contact, backlog FROM peers ORDER BY node")
            .fetch_all(conn)
            .await?;
    rows.into_iter()
        .map(|(node, seq, contact, backlog)| {
            Ok(PeerStatus {
                node: NodeId::parse("node", &node)?,
                applied_seq: seq as u64,
                last_contact: contact
                    .map(|c| DateTime::parse_from_rfc3339(&c).map(|d| d.with_timezone(&Utc)).map_err(corrupt))
                    .transpose()?,
                backlog: backlog as u64,
            })
        })
        .collect()
}
