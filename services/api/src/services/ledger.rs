use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};
use xuncha_domain::{DomainError, NodeId, Principal};
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::ledger_service_server::LedgerService;
use xuncha_store::{LedgerCursor, LedgerFilter};

use super::{bad, ok, principal};
use crate::backend::Api;
use crate::conv::{ToPb, opt_text};
use crate::error::ApiError;
use crate::exports;
use crate::streaming::chunks_of;
use crate::tabular::{ExportError, SheetWriter};

pub struct LedgerApi(pub Api);

const DEFAULT_PAGE: u32 = 500;
/// The largest page a caller may ask for (docs/limits.md); more comes with `offset`.
pub const MAX_PAGE: u32 = 1000;

impl LedgerApi {
    async fn events(&self, filter: &LedgerFilter) -> Result<Vec<xuncha_domain::LedgerEvent>, ApiError> {
        Ok(self.0.engine().store().ledger_page(filter).await?)
    }
}

#[tonic::async_trait]
impl LedgerService for LedgerApi {
    async fn verify_ledger(
        &self,
        r: Request<pb::VerifyLedgerRequest>,
    ) -> Result<Response<pb::VerifyLedgerResponse>, Status> {
        // An operator certificate (no person) sees every chain; a person those of their counties.
        let counties = match r.extensions().get::<Principal>() {
            Some(who) => exports::ledger_counties(who, self.0.engine().node()),
            None => None,
        };
        let (reports, unchained) = self.0.engine().store().verify_ledger().await.map_err(ApiError::from)?;
        let visible = |c: &xuncha_store::ChainReport| {
            counties.as_ref().is_none_or(|cs| {
                cs.iter().any(|code| {
                    let county = format!("county/{code}");
                    c.node == county || c.audience == county
                })
            })
        };
        let chains: Vec<pb::LedgerChain> = reports
            .into_iter()
            .filter(visible)
            .map(|c| pb::LedgerChain {
                node: c.node,
                audience: c.audience,
                checked: c.checked,
                head_n: c.head.as_ref().map(|h| h.n).unwrap_or(0),
                head_hash: c.head.map(|h| h.hash).unwrap_or_default(),
                first_break: c.first_break.map(|b| pb::ChainBreak { n: b.n, event: b.event, reason: b.reason }),
            })
            .collect();
        let intact = chains.iter().all(|c| c.first_break.is_none());
        ok(pb::VerifyLedgerResponse { chains, unchained, intact })
    }

    async fn list_events(&self, r: Request<pb::ListEventsRequest>) -> Result<Response<pb::ListEventsResponse>, Status> {
        let who = principal(&r)?;
        self.0.barrier(&r).await?;
        let q = r.into_inner();
        if q.limit > MAX_PAGE {
            return Err(bad(DomainError::invalid("limit", format!("每页最多{MAX_PAGE}条,请用offset翻页"))));
        }
        let node = opt_text(&q.node).map(|n| NodeId::parse("node", &n)).transpose().map_err(bad)?;
        let filter = LedgerFilter {
            node,
            subject_kind: opt_text(&q.subject_kind),
            subject_id: opt_text(&q.subject_id),
            action_prefix: opt_text(&q.action_prefix),
            actor_account: opt_text(&q.actor),
            counties: exports::ledger_counties(&who, self.0.engine().node()),
            since: None,
            until: None,
            after: None,
            limit: if q.limit == 0 { DEFAULT_PAGE } else { q.limit },
            offset: q.offset,
        };
        let events = self.events(&filter).await?.iter().map(ToPb::to_pb).collect();
        ok(pb::ListEventsResponse { events })
    }

    type ExportStream = ExportStream;

    async fn export(&self, r: Request<pb::ExportRequest>) -> Result<Response<ExportStream>, Status> {
        let who = principal(&r)?;
        self.0.barrier(&r).await?;
        let table = match pb::ExportTable::try_from(r.get_ref().table) {
            Ok(t @ (pb::ExportTable::Ledger | pb::ExportTable::Rectification)) => t,
            _ => return Err(bad(DomainError::invalid("table", "choose the ledger or the rectification table"))),
        };
        let api = self.0.clone();
        let node = api.engine().node().to_string().replace('/', "-");
        let today = api.today();
        let (file_name, sheet_name, header) = match table {
            pb::ExportTable::Ledger => {
                (format!("台账-{node}-{today}.xlsx"), "台账", exports::LEDGER_COLUMNS.as_slice())
            }
            _ => (format!("整改台账-{node}-{today}.xlsx"), "整改台账", exports::RECTIFICATION_COLUMNS.as_slice()),
        };
        let mut sheet = SheetWriter::new(sheet_name, header).map_err(export_failed)?;
        // The workbook is written row by row to a temporary file, then streamed from it: memory
        // holds a page of rows and a piece of the file, however long the table.
        let chunks = async_stream::try_stream! {
            // The file's name first: the stream has started, well within the call's deadline.
            yield pb::ExportChunk { file_name, ..Default::default() };
            match table {
                pb::ExportTable::Ledger => {
                    let counties = exports::ledger_counties(&who, api.engine().node());
                    // One read transaction: every page sees the same ledger while writes go on.
                    let mut view = api.engine().store().read_view().await.map_err(ApiError::from)?;
                    let mut filter = LedgerFilter { counties, limit: EXPORT_PAGE, ..LedgerFilter::default() };
                    loop {
                        let page = view.ledger_page(&filter).await.map_err(ApiError::from)?;
                        for e in &page {
                            sheet.push(&exports::ledger_row(e)).map_err(export_failed)?;
                        }
                        match page.last() {
                            Some(last) if page.len() as u32 == EXPORT_PAGE => filter.after = Some(LedgerCursor::of(last)),
                            _ => break,
                        }
                    }
                }
                _ => {
                    api.engine().read(|s| exports::rectification_rows(s, &who, today, &exports::node_label, &mut sheet)).await.map_err(export_failed)?;
                }
            }
            let rows = sheet.rows();
            let file = tokio::task::spawn_blocking(move || sheet.finish())
                .await
                .map_err(|e| ApiError::Internal(format!("writing the workbook: {e}")))?
                .map_err(export_failed)?;
            let pieces = chunks_of(tokio::fs::File::from_std(file));
            tokio::pin!(pieces);
            while let Some(piece) = pieces.next().await {
                let content = piece.map_err(|e| ApiError::Internal(format!("reading the workbook back: {e}")))?;
                yield pb::ExportChunk { content, ..Default::default() };
            }
            yield pb::ExportChunk { rows, done: true, ..Default::default() };
        };
        Ok(Response::new(Box::pin(chunks.map(|c: Result<pb::ExportChunk, ApiError>| c.map_err(Status::from)))))
    }
}

type ExportStream = std::pin::Pin<Box<dyn Stream<Item = Result<pb::ExportChunk, Status>> + Send>>;

/// Ledger events read per page while exporting.
const EXPORT_PAGE: u32 = 1000;

fn export_failed(e: ExportError) -> ApiError {
    match e {
        ExportError::TooManyRows => ApiError::Domain(DomainError::precondition("table", e.to_string())),
        other => ApiError::Internal(other.to_string()),
    }
}
