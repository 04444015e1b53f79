//! Records and ledger events: writing a decision's outcome, loading the state.

use sqlx::{SqliteConnection, SqlitePool};
use xuncha_domain::finding::seed_categories;
use xuncha_domain::{LedgerEvent, Outcome, Record, State};

use crate::error::{StoreResult, corrupt};
use crate::sync::{LEDGER_EVENT_KIND, next_seqs};

/// Writes every record and event of `outcome`, each with its outbox row. Call inside a
/// transaction; the caller commits.
pub async fn write_outcome(conn: &mut SqliteConnection, outcome: &Outcome) -> StoreResult<u64> {
    let n = (outcome.records.len() + outcome.events.len()) as u64;
    let first = next_seqs(conn, n).await?;
    let mut seq = first;
    for record in &outcome.records {
        put_record(conn, record).await?;
        outbox_row(
            conn,
            seq,
            &record.audience().as_column(),
            record.kind().as_str(),
            &record.id_string(),
            record.version(),
        )
        .await?;
        seq += 1;
    }
    for event in &outcome.events {
        put_event(conn, event).await?;
        outbox_row(conn, seq, &event.audience.as_column(), LEDGER_EVENT_KIND, &event.id.to_string(), 1).await?;
        seq += 1;
    }
    Ok(seq.saturating_sub(1))
}

async fn outbox_row(
    conn: &mut SqliteConnection,
    seq: u64,
    audience: &str,
    kind: &str,
    id: &str,
    version: u64,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO outbox (seq, audience, kind, id, version) VALUES (?, ?, ?, ?, ?)")
        .bind(seq as i64)
        .bind(audience)
        .bind(kind)
        .bind(id)
        .bind(version as i64)
        .execute(conn)
        .await?;
    Ok(())
}

/// Inserts or replaces a record row.
pub(crate) async fn put_record(conn: &mut SqliteConnection, record: &Record) -> StoreResult<()> {
    let body = serde_json::to_string(record).map_err(corrupt)?;
    let meta = record.meta();
    sqlx::query(
        "INSERT INTO records (kind, id, owner, version, updated_at, body) VALUES (?, ?, ?, ?, ?, ?) \
         ON CONFLICT (kind, id) DO UPDATE SET owner = excluded.owner, version = excluded.version, \
         updated_at = excluded.updated_at, body = excluded.body",
    )
    .bind(record.kind().as_str())
    .bind(record.id_string())
    .bind(meta.owner.as_str())
    .bind(meta.version as i64)
    .bind(meta.updated_at.to_rfc3339())
    .bind(body)
    .execute(conn)
    .await?;
    Ok(())
}

/// Inserts a ledger event unless it is already there (events are immutable).
pub(crate) async fn put_event(conn: &mut SqliteConnection, e: &LedgerEvent) -> StoreResult<bool> {
    let body = serde_json::to_string(e).map_err(corrupt)?;
    let done = sqlx::query(
        "INSERT OR IGNORE INTO ledger (id, node, at, actor_name, actor_role, action, subject_kind, subject_id, subject_version, body) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(e.id.to_string())
    .bind(e.node.as_str())
    .bind(e.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
    .bind(&e.actor.name)
    .bind(serde_json::to_value(e.actor.role).map_err(corrupt)?.as_str().unwrap_or_default().to_string())
    .bind(&e.action)
    .bind(e.subject_kind.as_str())
    .bind(&e.subject_id)
    .bind(e.subject_version as i64)
    .bind(body)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
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

/// Reads every record into a fresh [`State`].
pub async fn load_state(conn: &mut SqliteConnection) -> StoreResult<State> {
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT kind, id, body FROM records").fetch_all(conn).await?;
    let mut state = State::default();
    for (kind, id, body) in rows {
        let record: Record = serde_json::from_str(&body).map_err(|e| corrupt(format!("{kind} {id}: {e}")))?;
        state.put(record);
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
            put_record(&mut tx, &record).await?;
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
