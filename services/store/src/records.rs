//! Records and ledger events: writing a decision's outcome, loading the state.

use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};
use xuncha_domain::account::{Session, SessionChange, SessionKey};
use xuncha_domain::finding::seed_categories;
use xuncha_domain::{LedgerEvent, Outcome, Record, RequestMark, State};

use crate::error::{StoreResult, corrupt};
use crate::sync::LEDGER_EVENT_KIND;

/// Writes every record and event of `outcomes`, in order, each with its outbox row numbered
/// from `after + 1`, and the `meta` values, as one multi-statement query: each statement is a
/// round trip to SQLite's thread, which under load costs more than the writing itself. Call
/// inside a transaction; the caller commits. Returns the last outbox sequence used.
pub(crate) async fn write_outcomes(
    conn: &mut SqliteConnection,
    outcomes: &[Outcome],
    after: u64,
    meta: &[(&str, String)],
) -> StoreResult<u64> {
    let mut q = QueryBuilder::<Sqlite>::new("");
    let (seq, anything) = push_outcomes(&mut q, outcomes, after, meta)?;
    if anything {
        q.build().execute(&mut *conn).await?;
    }
    Ok(seq)
}

/// Like [`write_outcomes`], in a transaction of its own, sent as one query
/// (`BEGIN; ...; COMMIT`): one round trip to SQLite's thread in all.
pub(crate) async fn commit_outcomes(
    pool: &SqlitePool,
    outcomes: &[Outcome],
    after: u64,
    meta: &[(&str, String)],
) -> StoreResult<u64> {
    let mut q = QueryBuilder::<Sqlite>::new("BEGIN IMMEDIATE; ");
    let (seq, anything) = push_outcomes(&mut q, outcomes, after, meta)?;
    if !anything {
        return Ok(seq);
    }
    q.push("COMMIT;");
    let mut conn = pool.acquire().await?;
    if let Err(e) = q.build().execute(&mut *conn).await {
        // A statement failed inside the transaction: undo it before the connection is reused.
        let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
        return Err(e.into());
    }
    Ok(seq)
}

/// Appends the statements writing `outcomes` and `meta` to `q`. Returns the last outbox
/// sequence and whether there is anything to write.
fn push_outcomes(
    q: &mut QueryBuilder<Sqlite>,
    outcomes: &[Outcome],
    after: u64,
    meta: &[(&str, String)],
) -> StoreResult<(u64, bool)> {
    let mut outbox = Vec::new();
    let mut records: Vec<&Record> = Vec::new();
    let mut events: Vec<&LedgerEvent> = Vec::new();
    let mut sessions: std::collections::BTreeMap<&SessionKey, Option<&Session>> = Default::default();
    let mut seq = after;
    for outcome in outcomes {
        // Sessions are node state, not records: no outbox rows, the last change of each wins.
        for change in &outcome.sessions {
            match change {
                SessionChange::Put(s) => sessions.insert(&s.key, Some(s)),
                SessionChange::End(k) => sessions.insert(k, None),
            };
        }
        for r in &outcome.records {
            seq += 1;
            outbox.push((seq, r.audience().as_column(), r.kind().as_str().to_string(), r.id_string(), r.version()));
            records.push(r);
        }
        for e in &outcome.events {
            seq += 1;
            outbox.push((seq, e.audience.as_column(), LEDGER_EVENT_KIND.to_string(), e.id.to_string(), 1));
            events.push(e);
        }
    }
    // A record written twice in one batch keeps its last version.
    let mut latest: std::collections::HashMap<(&str, String), &Record> = std::collections::HashMap::new();
    for r in records {
        latest.insert((r.kind().as_str(), r.id_string()), r);
    }
    let records: Vec<&Record> = latest.into_values().collect();
    push_records(q, &records)?;
    push_events(q, &events)?;
    let any_sessions = !sessions.is_empty();
    push_sessions(q, &sessions)?;
    let marks: Vec<&RequestMark> = outcomes.iter().filter_map(|o| o.request.as_ref()).collect();
    push_requests(q, &marks)?;
    for chunk in outbox.chunks(CHUNK) {
        q.push("INSERT INTO outbox (seq, audience, kind, id, version) ");
        q.push_values(chunk, |mut b, (seq, audience, kind, id, version)| {
            b.push_bind(*seq as i64)
                .push_bind(audience.clone())
                .push_bind(kind.clone())
                .push_bind(id.clone())
                .push_bind(*version as i64);
        });
        q.push("; ");
    }
    // One row per key (an upsert may not touch a row twice in one statement); the last wins.
    let mut meta: std::collections::BTreeMap<&str, String> = meta.iter().cloned().collect();
    if seq != after {
        meta.insert(OUTBOX_SEQ, seq.to_string());
    }
    let anything = !meta.is_empty() || any_sessions || !marks.is_empty();
    if !meta.is_empty() {
        q.push("INSERT INTO node_meta (key, value) ");
        q.push_values(meta, |mut b, (k, v)| {
            b.push_bind(k).push_bind(v);
        });
        q.push(" ON CONFLICT (key) DO UPDATE SET value = excluded.value; ");
    }
    Ok((seq, anything))
}

/// The `node_meta` key of the last outbox sequence.
pub(crate) const OUTBOX_SEQ: &str = "outbox_seq";

/// Rows per multi-row statement (SQLite allows 32766 parameters).
const CHUNK: usize = 500;

fn push_records(q: &mut QueryBuilder<Sqlite>, records: &[&Record]) -> StoreResult<()> {
    for chunk in records.chunks(CHUNK) {
        let rows = chunk
            .iter()
            .map(|r| Ok((r, serde_json::to_string(r).map_err(corrupt)?)))
            .collect::<StoreResult<Vec<_>>>()?;
        q.push("INSERT INTO records (kind, id, owner, version, updated_at, body) ");
        q.push_values(rows, |mut b, (r, body)| {
            let meta = r.meta();
            b.push_bind(r.kind().as_str())
                .push_bind(r.id_string())
                .push_bind(meta.owner.as_str().to_string())
                .push_bind(meta.version as i64)
                .push_bind(meta.updated_at.to_rfc3339())
                .push_bind(body);
        });
        q.push(
            " ON CONFLICT (kind, id) DO UPDATE SET owner = excluded.owner, version = excluded.version, \
             updated_at = excluded.updated_at, body = excluded.body; ",
        );
    }
    Ok(())
}

/// Inserts or replaces record rows.
pub(crate) async fn put_records(conn: &mut SqliteConnection, records: &[&Record]) -> StoreResult<()> {
    if records.is_empty() {
        return Ok(());
    }
    let mut q = QueryBuilder::<Sqlite>::new("");
    push_records(&mut q, records)?;
    q.build().execute(conn).await?;
    Ok(())
}

fn push_sessions(
    q: &mut QueryBuilder<Sqlite>,
    sessions: &std::collections::BTreeMap<&SessionKey, Option<&Session>>,
) -> StoreResult<()> {
    let ended: Vec<&str> = sessions.iter().filter(|(_, s)| s.is_none()).map(|(k, _)| k.as_str()).collect();
    for chunk in ended.chunks(CHUNK) {
        q.push("DELETE FROM sessions WHERE key IN (");
        let mut list = q.separated(", ");
        for key in chunk {
            list.push_bind(key.to_string());
        }
        q.push("); ");
    }
    let put: Vec<&Session> = sessions.values().filter_map(|s| *s).collect();
    for chunk in put.chunks(CHUNK) {
        let rows = chunk
            .iter()
            .map(|s| Ok((s, serde_json::to_string(s).map_err(corrupt)?)))
            .collect::<StoreResult<Vec<_>>>()?;
        q.push("INSERT INTO sessions (key, account, body) ");
        q.push_values(rows, |mut b, (s, body)| {
            b.push_bind(s.key.as_str().to_string()).push_bind(s.account.to_string()).push_bind(body);
        });
        q.push(" ON CONFLICT (key) DO UPDATE SET account = excluded.account, body = excluded.body; ");
    }
    Ok(())
}

/// The remembered requests, in order: each forgets what it says to (as the state does), then is
/// stored.
fn push_requests(q: &mut QueryBuilder<Sqlite>, marks: &[&RequestMark]) -> StoreResult<()> {
    for mark in marks {
        q.push("DELETE FROM requests WHERE at_ns < ").push_bind(nanos(mark.forget_before)).push("; ");
        for key in &mark.forget {
            q.push("DELETE FROM requests WHERE caller = ")
                .push_bind(key.caller.clone())
                .push(" AND id = ")
                .push_bind(key.id.as_str().to_string())
                .push("; ");
        }
        let body = serde_json::to_string(mark).map_err(corrupt)?;
        q.push("INSERT INTO requests (caller, id, at_ns, body) VALUES (")
            .push_bind(mark.key.caller.clone())
            .push(", ")
            .push_bind(mark.key.id.as_str().to_string())
            .push(", ")
            .push_bind(nanos(mark.at))
            .push(", ")
            .push_bind(body)
            .push(") ON CONFLICT (caller, id) DO UPDATE SET at_ns = excluded.at_ns, body = excluded.body; ");
    }
    Ok(())
}

/// A time as nanoseconds since 1970, the order the state forgets requests in (saturating
/// outside 1677..2262, which no envelope reaches).
fn nanos(at: chrono::DateTime<chrono::Utc>) -> i64 {
    at.timestamp_nanos_opt().unwrap_or(if at.timestamp() < 0 { i64::MIN } else { i64::MAX })
}

fn push_events(q: &mut QueryBuilder<Sqlite>, events: &[&LedgerEvent]) -> StoreResult<()> {
    for chunk in events.chunks(CHUNK) {
        let rows = chunk
            .iter()
            .map(|e| {
                let role = e.actor.role.map(|r| r.code()).unwrap_or_default();
                Ok((e, role, serde_json::to_string(e).map_err(corrupt)?))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        q.push("INSERT OR IGNORE INTO ledger (id, node, at, actor_name, actor_role, actor_account, audience, action, subject_kind, subject_id, subject_version, body, chain_n) ");
        q.push_values(rows, |mut b, (e, role, body)| {
            b.push_bind(e.id.to_string())
                .push_bind(e.node.as_str().to_string())
                .push_bind(e.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
                .push_bind(e.actor.display_name.clone())
                .push_bind(role)
                .push_bind(e.actor.account.map(|a| a.to_string()))
                .push_bind(e.audience.as_column())
                .push_bind(e.action.clone())
                .push_bind(e.subject_kind.as_str())
                .push_bind(e.subject_id.clone())
                .push_bind(e.subject_version as i64)
                .push_bind(body)
                .push_bind(e.chain.as_ref().map(|c| c.n as i64));
        });
        q.push("; ");
    }
    Ok(())
}

/// Inserts ledger events that are not there yet (events are immutable). Returns how many
/// were new.
pub(crate) async fn put_events(conn: &mut SqliteConnection, events: &[&LedgerEvent]) -> StoreResult<u64> {
    if events.is_empty() {
        return Ok(0);
    }
    let mut q = QueryBuilder::<Sqlite>::new("");
    push_events(&mut q, events)?;
    Ok(q.build().execute(conn).await?.rows_affected())
}

/// The version of a stored record, if any.
pub(crate) async fn stored_version(conn: &mut SqliteConnection, kind: &str, id: &str) -> StoreResult<Option<u64>> {
    let v: Option<i64> = sqlx::query_scalar("SELECT version FROM records WHERE kind = ? AND id = ?")
        .bind(kind)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(v.map(|v| v as u64))
}

/// The stored versions of the records `keys` (kind, id) that exist.
pub(crate) async fn stored_versions(
    conn: &mut SqliteConnection,
    keys: &[(String, String)],
) -> StoreResult<std::collections::HashMap<(String, String), u64>> {
    let mut out = std::collections::HashMap::new();
    for chunk in keys.chunks(CHUNK) {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT kind, id, version FROM records WHERE (kind, id) IN (VALUES ");
        let mut list = q.separated(", ");
        for (kind, id) in chunk {
            list.push("(")
                .push_bind_unseparated(kind.clone())
                .push_unseparated(", ")
                .push_bind_unseparated(id.clone())
                .push_unseparated(")");
        }
        q.push(")");
        let rows: Vec<(String, String, i64)> = q.build_query_as().fetch_all(&mut *conn).await?;
        for (kind, id, version) in rows {
            out.insert((kind, id), version as u64);
        }
    }
    Ok(out)
}

/// Reads every record and session into a fresh [`State`].
pub(crate) async fn load_state(conn: &mut SqliteConnection) -> StoreResult<State> {
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT kind, id, body FROM records").fetch_all(&mut *conn).await?;
    let mut state = State::default();
    for (kind, id, body) in rows {
        let record: Record = serde_json::from_str(&body).map_err(|e| corrupt(format!("{kind} {id}: {e}")))?;
        state.put(record);
    }
    let sessions: Vec<String> = sqlx::query_scalar("SELECT body FROM sessions").fetch_all(&mut *conn).await?;
    for body in sessions {
        let session: Session = serde_json::from_str(&body).map_err(|e| corrupt(format!("session: {e}")))?;
        state.sessions.insert(session.key.clone(), session);
    }
    let requests: Vec<String> = sqlx::query_scalar("SELECT body FROM requests").fetch_all(&mut *conn).await?;
    for body in requests {
        let mark: RequestMark = serde_json::from_str(&body).map_err(|e| corrupt(format!("request: {e}")))?;
        state.requests.restore(mark);
    }
    // The last event of every chain.
    let heads: Vec<String> = sqlx::query_scalar(
        "SELECT l.body FROM ledger l JOIN (SELECT node, audience, max(chain_n) AS n FROM ledger \
         WHERE chain_n IS NOT NULL GROUP BY node, audience) h \
         ON l.node = h.node AND l.audience = h.audience AND l.chain_n = h.n",
    )
    .fetch_all(&mut *conn)
    .await?;
    for body in heads {
        let event: LedgerEvent = serde_json::from_str(&body).map_err(|e| corrupt(format!("ledger head: {e}")))?;
        state.ledger_heads.advance(&event);
    }
    Ok(state)
}

/// Makes sure the standard categories exist. They are identical on every node, so they are
/// not sent anywhere.
pub(crate) async fn seed(pool: &SqlitePool) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    for category in seed_categories() {
        let record = Record::Category(category);
        if stored_version(&mut tx, "category", &record.id_string()).await?.is_none() {
            put_records(&mut tx, &[&record]).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use xuncha_domain::common::Meta;
    use xuncha_domain::ids::*;
    use xuncha_domain::model::*;

    /// Every record kind survives the trip through its stored JSON (a field named like the
    /// enum's tag once broke targets).
    #[test]
    fn records_round_trip_through_json() {
        let meta = Meta { owner: NodeId::county("c01").unwrap(), version: 3, updated_at: chrono::Utc::now() };
        let target = Record::Target(Target {
            id: TargetId(uuid::Uuid::now_v7()),
            meta: meta.clone(),
            round: RoundId(uuid::Uuid::now_v7()),
            group: GroupId(uuid::Uuid::now_v7()),
            unit: UnitId(uuid::Uuid::now_v7()),
            kind: TargetKind::Revisit,
            scope: None,
            assignment: None,
            inherited_findings: vec![],
            feedback_on: None,
            report_submitted_on: None,
            lead_count: 2,
        });
        let unit = Record::Unit(Unit {
            id: UnitId(uuid::Uuid::now_v7()),
            meta,
            name: "县财政局".into(),
            kind: UnitKind::CountyDepartment,
            parent: None,
        });
        for r in [target, unit] {
            let back: Record = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
            assert_eq!(back, r);
        }
    }
}
