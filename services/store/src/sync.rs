//! The outbox and the inbound cursors: what sync reads to send, and how received changes are
//! applied exactly once in effect.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::SqliteConnection;
use xuncha_domain::record::check_remote_event;
use xuncha_domain::validate::check_received;
use xuncha_domain::{ChangeKind, DomainError, Kind, LedgerEvent, NodeId, Record, State};

use crate::error::{StoreResult, corrupt};
use crate::records::{put_events, put_records, stored_versions};

/// Most changes in one sync batch, either way.
pub const MAX_CHANGES_PER_BATCH: u32 = 1000;
/// Most bytes of one change's body: a record's stored form is bounded below this
/// (`validate::MAX_RECORD_BYTES`), an event is far smaller.
pub const MAX_CHANGE_BYTES: usize = xuncha_domain::validate::MAX_RECORD_BYTES + (64 << 10);
/// A batch is cut once its bodies pass this many bytes, so it always fits a sync message.
pub const BATCH_BYTE_BUDGET: usize = 8 << 20;
/// Largest sync message (after decompression) either side accepts.
pub const MAX_SYNC_MESSAGE_BYTES: usize = BATCH_BYTE_BUDGET + 2 * MAX_CHANGE_BYTES + (1 << 20);

pub use xuncha_domain::record::LEDGER_EVENT_KIND;

/// One change as it travels: the origin's sequence number, what it is, and the JSON body of the
/// record (at its current version) or event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub seq: u64,
    pub kind: ChangeKind,
    pub id: String,
    pub version: u64,
    pub body: String,
}

/// The last sequence number this node gave a change (0 if none).
pub(crate) async fn last_outbox_seq(conn: &mut SqliteConnection) -> StoreResult<u64> {
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

/// An outbox row with its body: (seq, kind, id, version, body).
type OutboxRow = (i64, String, String, Option<i64>, Option<String>);

/// Up to `limit` outbox rows after `after` that go to `peer`, with bodies, cut once the bodies
/// pass `BATCH_BYTE_BUDGET`. A record changed several times in the batch is sent once, at its
/// current version; the returned `u64` is the cursor the batch reaches (the last row kept).
pub(crate) async fn changes_for(
    conn: &mut SqliteConnection,
    peer: &NodeId,
    after: u64,
    limit: u32,
) -> StoreResult<(Vec<Change>, u64)> {
    let [a, b] = audiences_for(peer);
    // One query: the batch's outbox rows with the current body of each record or event.
    let rows: Vec<OutboxRow> = sqlx::query_as(
        "WITH batch AS (SELECT seq, kind, id FROM outbox WHERE seq > ?1 AND audience IN (?2, ?3) ORDER BY seq LIMIT ?4) \
         SELECT batch.seq, batch.kind, batch.id, \
                CASE WHEN batch.kind = 'ledger_event' THEN 1 ELSE records.version END, \
                CASE WHEN batch.kind = 'ledger_event' THEN ledger.body ELSE records.body END \
         FROM batch \
         LEFT JOIN records ON batch.kind <> 'ledger_event' AND records.kind = batch.kind AND records.id = batch.id \
         LEFT JOIN ledger ON batch.kind = 'ledger_event' AND ledger.id = batch.id \
         ORDER BY batch.seq",
    )
    .bind(after as i64)
    .bind(a)
    .bind(b)
    .bind(limit.min(MAX_CHANGES_PER_BATCH) as i64)
    .fetch_all(&mut *conn)
    .await?;
    let mut rows = rows;
    cut_to_budget(&mut rows, |r| r.4.as_ref().map_or(0, String::len));
    let reached = rows.last().map(|r| r.0 as u64).unwrap_or(after);
    // A record changed several times in the batch is sent once, with its last row's sequence.
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(rows.len());
    for (seq, kind, id, version, body) in rows.into_iter().rev() {
        if !seen.insert((kind.clone(), id.clone())) {
            continue;
        }
        let (Some(version), Some(body)) = (version, body) else {
            return Err(corrupt(format!("outbox row {seq} names {kind} {id}, which is not stored")));
        };
        let kind = stored_kind(&kind)?;
        out.push(Change { seq: seq as u64, kind, id, version: version as u64, body });
    }
    out.reverse();
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
    /// The ledger events taken in, for the chain heads of the in-memory state.
    pub events: Vec<LedgerEvent>,
}

/// Applies a batch of changes from `origin`, in sequence order, skipping what was already
/// applied. Every change is checked first against `state` (what this node holds): the sender
/// owns it here too, an answer answers what was addressed to it, the record keeps the domain's
/// bounds ([`check_received`]). One bad change refuses the whole batch and nothing is written.
/// Call inside a transaction; the caller commits.
pub(crate) async fn apply_remote(
    conn: &mut SqliteConnection,
    state: &State,
    me: &NodeId,
    origin: &NodeId,
    changes: &[Change],
    reached: u64,
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
        parsed.push((c.seq, parse_change(c)?));
    }
    let batch: std::collections::HashSet<(Kind, String)> = parsed
        .iter()
        .filter_map(|(_, p)| match p {
            Received::Record(r) => Some((r.kind(), r.id_string())),
            Received::Event(_) => None,
        })
        .collect();
    let in_batch = |kind: Kind, id: &str| batch.contains(&(kind, id.to_string()));
    for (seq, p) in &parsed {
        let checked = match p {
            Received::Record(r) => check_received(state, origin, me, r, &in_batch),
            Received::Event(e) => check_remote_event(origin, me, e),
        };
        checked.map_err(|mut e| {
            e.reason = format!("change {seq}: {}", e.reason);
            e
        })?;
    }
    // Every event continues its chain from what is held here (the sender's own chains).
    let received: Vec<(&u64, &LedgerEvent)> = parsed
        .iter()
        .filter_map(|(seq, p)| match p {
            Received::Event(e) => Some((seq, e)),
            Received::Record(_) => None,
        })
        .collect();
    let events_in_order: Vec<&LedgerEvent> = received.iter().map(|(_, e)| *e).collect();
    if let Err((id, why)) = state.ledger_heads.check(&events_in_order) {
        let seq = received.iter().find(|(_, e)| e.id == id).map(|(s, _)| **s).unwrap_or_default();
        return Err(DomainError::denied("changes", format!("change {seq}: 台账链断开:{why}")).into());
    }
    // The sender's cursor may pass its last change (rows for others in between).
    let last = last.max(reached);
    let mut out = RemoteApplied { duplicates, applied_seq: last, ..Default::default() };
    let (mut records, mut events) = (Vec::new(), Vec::new());
    for (_, p) in parsed {
        match p {
            Received::Record(r) => records.push(r),
            Received::Event(e) => events.push(e),
        }
    }
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
    out.events = events;
    sqlx::query(
        "INSERT INTO peers (node, applied_seq, last_contact) VALUES (?, ?, ?) \
         ON CONFLICT (node) DO UPDATE SET applied_seq = excluded.applied_seq, last_contact = excluded.last_contact, \
         refused = NULL, refused_at = NULL",
    )
    .bind(origin.as_str())
    .bind(last as i64)
    .bind(now.to_rfc3339())
    .execute(conn)
    .await?;
    Ok(out)
}

/// A kind read back from the outbox or the records table: this node wrote it, so an unknown
/// one is corruption.
fn stored_kind(kind: &str) -> StoreResult<ChangeKind> {
    ChangeKind::parse(kind).ok_or_else(|| corrupt(format!("unknown kind {kind:?} in the database")))
}

/// What a change holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received {
    Record(Record),
    Event(LedgerEvent),
}

/// A change's body: a record (labelled as what it holds) or a ledger event.
pub fn parse_change(c: &Change) -> StoreResult<Received> {
    let kind = match c.kind {
        ChangeKind::LedgerEvent => {
            let e: LedgerEvent = serde_json::from_str(&c.body).map_err(|e| corrupt(format!("event {}: {e}", c.id)))?;
            return Ok(Received::Event(e));
        }
        ChangeKind::Record(kind) => kind,
    };
    let r: Record = serde_json::from_str(&c.body).map_err(|e| corrupt(format!("{} {}: {e}", c.kind, c.id)))?;
    if r.kind() != kind || r.id_string() != c.id {
        return Err(corrupt(format!(
            "change {} says {} {} but holds {} {}",
            c.seq,
            c.kind,
            c.id,
            r.kind(),
            r.id_string()
        )));
    }
    Ok(Received::Record(r))
}

/// The highest sequence of `origin`'s changes applied here.
pub(crate) async fn applied_seq(conn: &mut SqliteConnection, origin: &NodeId) -> StoreResult<u64> {
    let v: Option<i64> = sqlx::query_scalar("SELECT applied_seq FROM peers WHERE node = ?")
        .bind(origin.as_str())
        .fetch_optional(conn)
        .await?;
    Ok(v.unwrap_or(0) as u64)
}

/// Records what `peer` reported when it was last in touch: the highest of this node's changes
/// it has applied, and how many of its own changes it still has to send.
pub(crate) async fn note_peer(
    conn: &mut SqliteConnection,
    peer: &NodeId,
    at: DateTime<Utc>,
    pulled: u64,
    backlog: u64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO peers (node, last_contact, pulled_seq, backlog) VALUES (?, ?, ?, ?) \
         ON CONFLICT (node) DO UPDATE SET last_contact = excluded.last_contact, \
         pulled_seq = max(peers.pulled_seq, excluded.pulled_seq), backlog = excluded.backlog",
    )
    .bind(peer.as_str())
    .bind(at.to_rfc3339())
    .bind(pulled as i64)
    .bind(backlog as i64)
    .execute(conn)
    .await?;
    Ok(())
}

/// Notes a refused change on `peer`'s link (`Some(why)`), or that changes go through again
/// (`None`).
pub(crate) async fn note_refusal(
    conn: &mut SqliteConnection,
    peer: &NodeId,
    at: DateTime<Utc>,
    refused: Option<&str>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO peers (node, refused, refused_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (node) DO UPDATE SET refused = ?2, refused_at = ?3",
    )
    .bind(peer.as_str())
    .bind(refused)
    .bind(refused.map(|_| at.to_rfc3339()))
    .execute(conn)
    .await?;
    Ok(())
}

/// The outbox row numbered `seq`: (kind, id, version).
pub(crate) async fn outbox_row(conn: &mut SqliteConnection, seq: u64) -> StoreResult<Option<(String, String, u64)>> {
    let row: Option<(String, String, i64)> = sqlx::query_as("SELECT kind, id, version FROM outbox WHERE seq = ?")
        .bind(seq as i64)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|(k, i, v)| (k, i, v as u64)))
}

/// How many of this node's changes for `peer` lie after `after` (its lag).
pub(crate) async fn pending_for(conn: &mut SqliteConnection, peer: &NodeId, after: u64) -> StoreResult<u64> {
    let [a, b] = audiences_for(peer);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE seq > ? AND audience IN (?, ?)")
        .bind(after as i64)
        .bind(a)
        .bind(b)
        .fetch_one(conn)
        .await?;
    Ok(n as u64)
}

/// What this node knows of a peer's link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerStatus {
    pub node: NodeId,
    /// Highest sequence of the peer's changes applied here.
    pub applied_seq: u64,
    pub last_contact: Option<DateTime<Utc>>,
    /// The peer's changes not yet sent here, as it last reported.
    pub backlog: u64,
    /// Highest sequence of this node's changes the peer applied, as it last reported.
    pub pulled_seq: u64,
    /// This node's changes for the peer after `pulled_seq`.
    pub lag: u64,
    /// The last change refused on this link and why, with when; cleared when changes go
    /// through again.
    pub refused: Option<(String, DateTime<Utc>)>,
}

pub(crate) async fn peer_statuses(conn: &mut SqliteConnection) -> StoreResult<Vec<PeerStatus>> {
    type Row = (String, i64, Option<String>, i64, i64, Option<String>, Option<String>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT node, applied_seq, last_contact, backlog, pulled_seq, refused, refused_at FROM peers ORDER BY node",
    )
    .fetch_all(&mut *conn)
    .await?;
    let time = |t: String| DateTime::parse_from_rfc3339(&t).map(|d| d.with_timezone(&Utc)).map_err(corrupt);
    let mut out = Vec::with_capacity(rows.len());
    for (node, seq, contact, backlog, pulled, refused, refused_at) in rows {
        let node = NodeId::parse("node", &node)?;
        let lag = pending_for(conn, &node, pulled as u64).await?;
        let refused = match (refused, refused_at) {
            (Some(why), Some(at)) => Some((why, time(at)?)),
            _ => None,
        };
        out.push(PeerStatus {
            node,
            applied_seq: seq as u64,
            last_contact: contact.map(time).transpose()?,
            backlog: backlog as u64,
            pulled_seq: pulled as u64,
            lag,
            refused,
        });
    }
    Ok(out)
}

/// A page of what this node holds of `owner`: its records, then the ledger events made there,
/// in a stable order after `after` (a (kind, id) cursor; "~" + id for events).
pub(crate) async fn owned_changes(
    conn: &mut SqliteConnection,
    owner: &NodeId,
    after: &str,
    limit: u32,
) -> StoreResult<Vec<(String, Change)>> {
    let mut out = Vec::new();
    if !after.starts_with('~') {
        let rows: Vec<(String, String, i64, String)> = sqlx::query_as(
            "SELECT kind, id, version, body FROM records WHERE owner = ? AND (kind || '/' || id) > ? ORDER BY kind || '/' || id LIMIT ?",
        )
        .bind(owner.as_str())
        .bind(after)
        .bind(limit as i64)
        .fetch_all(&mut *conn)
        .await?;
        for (kind, id, version, body) in rows {
            let cursor = format!("{kind}/{id}");
            out.push((cursor, Change { seq: 0, kind: stored_kind(&kind)?, id, version: version as u64, body }));
        }
        if out.len() as u32 == limit {
            return Ok(within_budget(out));
        }
    }
    let after_event = after.strip_prefix('~').unwrap_or("");
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT id, body FROM ledger WHERE node = ? AND id > ? ORDER BY id LIMIT ?")
            .bind(owner.as_str())
            .bind(after_event)
            .bind((limit as usize - out.len()) as i64)
            .fetch_all(&mut *conn)
            .await?;
    for (id, body) in rows {
        out.push((format!("~{id}"), Change { seq: 0, kind: ChangeKind::LedgerEvent, id, version: 1, body }));
    }
    Ok(within_budget(out))
}

/// The first changes of a page whose bodies stay within `BATCH_BYTE_BUDGET` (at least one).
fn within_budget(mut page: Vec<(String, Change)>) -> Vec<(String, Change)> {
    cut_to_budget(&mut page, |(_, c)| c.body.len());
    page
}

/// Keeps the first rows whose sizes add up to at most `BATCH_BYTE_BUDGET` (at least one).
fn cut_to_budget<T>(rows: &mut Vec<T>, size: impl Fn(&T) -> usize) {
    let mut bytes = 0usize;
    if let Some(cut) = rows.iter().position(|r| {
        bytes += size(r);
        bytes > BATCH_BYTE_BUDGET
    }) {
        rows.truncate(cut.max(1));
    }
}

/// Writes a county's own records and events recovered from the city into an empty database,
/// and continues its outbox numbering after `pushed` (what the city already has). Nothing is
/// put in the outbox: the city holds all of it.
pub(crate) async fn restore_own(
    conn: &mut SqliteConnection,
    me: &NodeId,
    changes: &[Change],
    pushed: u64,
) -> StoreResult<u64> {
    let mut records = Vec::new();
    let mut events = Vec::new();
    for c in changes {
        if c.kind == ChangeKind::LedgerEvent {
            let e: LedgerEvent = serde_json::from_str(&c.body).map_err(|e| corrupt(format!("event {}: {e}", c.id)))?;
            if &e.node != me {
                return Err(corrupt(format!("event {} was made on {}, not {me}", e.id, e.node)));
            }
            events.push(e);
        } else {
            let r: Record = serde_json::from_str(&c.body).map_err(|e| corrupt(format!("{} {}: {e}", c.kind, c.id)))?;
            if r.owner() != me {
                return Err(corrupt(format!("{} {} is owned by {}, not {me}", c.kind, c.id, r.owner())));
            }
            records.push(r);
        }
    }
    put_records(conn, &records.iter().collect::<Vec<_>>()).await?;
    put_events(conn, &events.iter().collect::<Vec<_>>()).await?;
    crate::meta_set(conn, crate::records::OUTBOX_SEQ, &pushed.to_string()).await?;
    Ok((records.len() + events.len()) as u64)
}
