//! 台账: every change as the ledger recorded it (who, when, what, why), filtered by person,
//! record kind and period, in pages; its hash chains checked on request; XLSX export and a
//! print view (A4) of what the filters select.

use chrono::{FixedOffset, TimeZone};

use super::*;
use xuncha_api::exports;
use xuncha_api::tabular::{ExportError, PrintRows, RowSink, SheetWriter};
use xuncha_domain::LedgerEvent;
use xuncha_domain::record::Kind;
use xuncha_store::{LedgerCursor, LedgerFilter};

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/ledger", get(ledger_page))
        .route("/ledger.xlsx", get(export))
        .route("/ledger/print", get(print))
}

#[derive(Clone, Default, Deserialize)]
struct LedgerQuery {
    /// An account's id (the select shows names).
    #[serde(default)]
    person: String,
    /// A record kind's code.
    #[serde(default)]
    kind: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    page: Option<usize>,
    /// Check the hash chains too.
    #[serde(default)]
    verify: Option<String>,
}

impl LedgerQuery {
    /// The store's filter for what `who` may read on `app`'s node; `None` for a bad date.
    fn filter(&self, app: &App, who: &Principal) -> Result<LedgerFilter, DomainError> {
        // Periods are office days (Beijing time), from the first day's start to the last one's end.
        let office = FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
        let day_start = |field: &str, text: &str| -> Result<Option<chrono::DateTime<Utc>>, DomainError> {
            if text.trim().is_empty() {
                return Ok(None);
            }
            let d = parse_date(field, text)?;
            let start = office.from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight exists")).unwrap();
            Ok(Some(start.with_timezone(&Utc)))
        };
        let since = day_start("from", &self.from)?;
        let until = day_start("to", &self.to)?.map(|t| t + chrono::Duration::days(1));
        Ok(LedgerFilter {
            actor_account: Some(self.person.trim().to_string()).filter(|p| !p.is_empty()),
            subject_kind: Kind::parse_label(&self.kind).map(|k| k.code().to_string()),
            since,
            until,
            counties: exports::ledger_counties(who, &app.site.node),
            ..LedgerFilter::default()
        })
    }

    fn query_string(&self) -> String {
        let enc =
            |v: &str| percent_encoding::utf8_percent_encode(v.trim(), percent_encoding::NON_ALPHANUMERIC).to_string();
        [("person", &self.person), ("kind", &self.kind), ("from", &self.from), ("to", &self.to)]
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| format!("{k}={}", enc(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

struct EventRow {
    at: String,
    node: String,
    actor: String,
    kind: &'static str,
    summary: String,
    reason: String,
}

struct Choice {
    value: String,
    label: String,
}

#[derive(Template)]
#[template(path = "ledger.html")]
struct LedgerPage {
    frame: Frame,
    filter: LedgerQuery,
    query: String,
    people: Vec<Choice>,
    kinds: Vec<&'static str>,
    rows: Vec<EventRow>,
    page: usize,
    more: bool,
    /// The chains' state, when asked: one line per chain.
    chains: Vec<(String, bool)>,
    error: Option<String>,
}

fn row_of(app: &App, e: &LedgerEvent) -> EventRow {
    EventRow {
        at: zh::moment(e.at),
        node: app.site.node_name(&e.node),
        actor: e.actor.label_zh(),
        kind: e.subject_kind.label_zh(),
        summary: e.summary.clone(),
        reason: e.reason.clone().unwrap_or_default(),
    }
}

/// A chain's owner or audience as an office reads it.
fn place_name(app: &App, text: &str) -> String {
    match text {
        "local" => "本节点".into(),
        "city" => "市委巡察办".into(),
        "all" => "各县".into(),
        other => xuncha_domain::NodeId::parse("node", other).map(|n| app.site.node_name(&n)).unwrap_or(other.into()),
    }
}

async fn ledger_page(State(app): State<App>, signed: Signed, Query(q): Query<LedgerQuery>) -> Response {
    if !signed.who.holds(Permission::LedgerRead) {
        return forbidden("您没有查看台账的权限。");
    }
    let frame = Frame::of(&app, &signed, "/ledger").await;
    let page_no = q.page.unwrap_or(1).max(1);
    let store = app.api.engine().store();
    let (rows, more, error) = match q.filter(&app, &signed.who) {
        Ok(mut filter) => {
            filter.limit = PAGE_ROWS as u32 + 1;
            filter.offset = ((page_no - 1) * PAGE_ROWS) as u32;
            match store.ledger_page(&filter).await {
                Ok(mut events) => {
                    let more = events.len() > PAGE_ROWS;
                    events.truncate(PAGE_ROWS);
                    (events.iter().map(|e| row_of(&app, e)).collect(), more, None)
                }
                Err(e) => {
                    tracing::error!(error = %e, "reading the ledger failed");
                    (Vec::new(), false, Some("读取台账出错,请联系运维人员。".to_string()))
                }
            }
        }
        Err(e) => (Vec::new(), false, Some(refusal(&ApiError::Domain(e)))),
    };
    let mut chains = Vec::new();
    if q.verify.is_some() {
        match store.verify_ledger().await {
            Ok((reports, _)) => {
                let counties = exports::ledger_counties(&signed.who, &app.site.node);
                for c in reports {
                    let visible = counties.as_ref().is_none_or(|cs| {
                        cs.iter()
                            .any(|code| c.node == format!("county/{code}") || c.audience == format!("county/{code}"))
                    });
                    if !visible {
                        continue;
                    }
                    let name = format!("{}→{}", place_name(&app, &c.node), place_name(&app, &c.audience));
                    chains.push(match c.first_break {
                        None => (format!("{name}:已核对{}条,链条完整", c.checked), true),
                        Some(b) => (format!("{name}:第{}条断裂({}),其后未核对", b.n, b.reason), false),
                    });
                }
                if chains.is_empty() {
                    chains.push(("还没有可核对的台账记录".into(), true));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "verifying the ledger failed");
                chains.push(("核对台账出错,请联系运维人员。".into(), false));
            }
        }
    }
    let node = app.site.node.clone();
    let people = app
        .api
        .engine()
        .read(move |s| {
            let mut list: Vec<_> = s
                .accounts
                .values()
                .filter(|a| a.meta.owner == node)
                .map(|a| Choice { value: a.id.to_string(), label: format!("{}({})", a.display_name, a.username) })
                .collect();
            list.sort_by(|a, b| a.label.cmp(&b.label));
            list
        })
        .await;
    let kinds = Kind::VARIANTS.iter().map(|(_, zh, _)| *zh).collect();
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let body = page(LedgerPage {
        frame,
        query: q.query_string(),
        filter: q,
        people,
        kinds,
        rows,
        page: page_no,
        more,
        chains,
        error,
    });
    (status, body).into_response()
}

/// Events read per page while exporting.
const EXPORT_PAGE: u32 = 1000;

/// What the filters select, as an XLSX workbook (one read view: every page sees the same
/// ledger while writes go on).
async fn export(State(app): State<App>, signed: Signed, Query(q): Query<LedgerQuery>) -> Response {
    if !signed.who.holds(Permission::LedgerRead) {
        return forbidden("您没有查看台账的权限。");
    }
    let filter = match q.filter(&app, &signed.who) {
        Ok(f) => f,
        Err(e) => return bad_request(&refusal(&ApiError::Domain(e))),
    };
    let written = async {
        // Without the action codes and record ids: people read names and summaries.
        let mut sheet = SheetWriter::new("台账", &exports::LEDGER_COLUMNS[..7])?;
        ledger_rows(&app, filter, &mut sheet).await?;
        Ok::<_, ExportError>(sheet)
    }
    .await;
    workbook_download(&app, "台账", written).await
}

/// Writes the events `filter` selects, read in pages from one read view (every page sees the
/// same ledger while writes go on), in the export's first seven columns.
async fn ledger_rows(app: &App, mut filter: LedgerFilter, sink: &mut (dyn RowSink + Send)) -> Result<(), ExportError> {
    filter.limit = EXPORT_PAGE;
    let store_failed = |e: xuncha_store::StoreError| ExportError::Io(std::io::Error::other(e));
    let mut view = app.api.engine().store().read_view().await.map_err(store_failed)?;
    loop {
        let page = view.ledger_page(&filter).await.map_err(store_failed)?;
        for e in &page {
            let mut row = exports::ledger_row(e);
            row[1] = app.site.node_name(&e.node);
            row.truncate(7);
            sink.push_row(&row)?;
        }
        match page.last() {
            Some(last) if page.len() as u32 == EXPORT_PAGE => filter.after = Some(LedgerCursor::of(last)),
            _ => return Ok(()),
        }
    }
}

/// What the filters select as an A4 page to print.
async fn print(State(app): State<App>, signed: Signed, Query(q): Query<LedgerQuery>) -> Response {
    if !signed.who.holds(Permission::LedgerRead) {
        return forbidden("您没有查看台账的权限。");
    }
    let filter = match q.filter(&app, &signed.who) {
        Ok(f) => f,
        Err(e) => return bad_request(&refusal(&ApiError::Domain(e))),
    };
    let mut rows = PrintRows::new(PRINT_ROWS);
    let written = ledger_rows(&app, filter, &mut rows).await.map(|_| rows);
    let person = q.person.trim().to_string();
    let person = if person.is_empty() {
        None
    } else {
        app.api
            .engine()
            .read(move |s| s.accounts.values().find(|a| a.id.to_string() == person).map(|a| a.display_name.clone()))
            .await
    };
    let mut scope = Vec::new();
    if let Some(p) = person {
        scope.push(format!("操作人:{p}"));
    }
    if let Some(k) = Kind::parse_label(&q.kind) {
        scope.push(format!("对象:{}", k.label_zh()));
    }
    for (label, text) in [("从", &q.from), ("到", &q.to)] {
        if let Ok(d) = parse_date(label, text) {
            scope.push(format!("{label}{}", zh::date(d)));
        }
    }
    let back = format!("/ledger?{}", q.query_string());
    print_view(&app, &signed, "台账", &scope.join(";"), &exports::LEDGER_COLUMNS[..7], written, &back)
}
