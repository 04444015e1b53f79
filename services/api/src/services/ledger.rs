use tonic::{Request, Response, Status};
use xuncha_domain::authz::{Scope, permits};
use xuncha_domain::labels::Labelled;
use xuncha_domain::rectification::is_overdue;
use xuncha_domain::{DomainError, NodeId, Permission, Principal};
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::ledger_service_server::LedgerService;
use xuncha_store::{LedgerFilter, StoreError, ledger_page, verify_ledger};

use super::{bad, ok, principal};
use crate::backend::Api;
use crate::conv::{ToPb, opt_text};
use crate::error::ApiError;
use crate::tabular::write_xlsx;

pub struct LedgerApi(pub Api);

const DEFAULT_PAGE: u32 = 500;
/// The largest page a caller may ask for (docs/limits.md); more comes with `offset`.
pub const MAX_PAGE: u32 = 1000;

/// The counties a ledger reader may see: `None` for all (a city-wide grant or the node's own
/// office on a county), else the counties their `ledger.read` grants name.
fn ledger_counties(who: &Principal, me: &NodeId) -> Option<Vec<String>> {
    let grants = || who.grants.iter().filter(|g| permits(g.role, Permission::LedgerRead));
    if grants().any(|g| g.scope == Scope::City) {
        return None;
    }
    let counties: Vec<xuncha_domain::ids::CountyCode> = grants()
        .filter_map(|g| match &g.scope {
            Scope::County(c) => Some(c.clone()),
            _ => None,
        })
        .collect();
    // On a county node its own office reads its whole ledger; everyone else only their counties.
    if me.county_code().is_some_and(|c| counties.iter().any(|x| *x == c)) {
        None
    } else {
        Some(counties.iter().map(ToString::to_string).collect())
    }
}

impl LedgerApi {
    async fn events(&self, filter: &LedgerFilter) -> Result<Vec<xuncha_domain::LedgerEvent>, ApiError> {
        let mut conn = self.0.engine().store().readers().acquire().await.map_err(StoreError::from)?;
        Ok(ledger_page(&mut conn, filter).await?)
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
            Some(who) => ledger_counties(who, self.0.engine().node()),
            None => None,
        };
        let mut conn =
            self.0.engine().store().readers().acquire().await.map_err(|e| ApiError::from(StoreError::from(e)))?;
        let (reports, unchained) = verify_ledger(&mut conn).await.map_err(ApiError::from)?;
        drop(conn);
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
            return Err(bad(DomainError::invalid(
                "limit",
                format!("at most {MAX_PAGE} events a page; page on with offset"),
            )));
        }
        let node = opt_text(&q.node).map(|n| NodeId::parse("node", &n)).transpose().map_err(bad)?;
        let filter = LedgerFilter {
            node,
            subject_kind: opt_text(&q.subject_kind),
            subject_id: opt_text(&q.subject_id),
            action_prefix: opt_text(&q.action_prefix),
            actor_account: opt_text(&q.actor),
            counties: ledger_counties(&who, self.0.engine().node()),
            since: None,
            until: None,
            limit: if q.limit == 0 { DEFAULT_PAGE } else { q.limit },
            offset: q.offset,
        };
        let events = self.events(&filter).await?.iter().map(ToPb::to_pb).collect();
        ok(pb::ListEventsResponse { events })
    }

    async fn export(&self, r: Request<pb::ExportRequest>) -> Result<Response<pb::ExportResponse>, Status> {
        let who = principal(&r)?;
        self.0.barrier(&r).await?;
        let counties = ledger_counties(&who, self.0.engine().node());
        let node = self.0.engine().node().to_string().replace('/', "-");
        let today = self.0.today();
        let (file_name, header, rows): (String, Vec<&str>, Vec<Vec<String>>) =
            match pb::ExportTable::try_from(r.get_ref().table) {
                Ok(pb::ExportTable::Ledger) => {
                    let filter = LedgerFilter { counties, ..LedgerFilter::default() };
                    let events = self.events(&filter).await?;
                    let rows = events
                        .iter()
                        .map(|e| {
                            vec![
                                e.at.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset"))
                                    .format("%Y-%m-%d %H:%M:%S")
                                    .to_string(),
                                e.node.to_string(),
                                e.actor.display_name.clone(),
                                e.actor.role.map(|r| r.label_zh().to_string()).unwrap_or_default(),
                                e.subject_kind.label_zh().to_string(),
                                e.summary.clone(),
                                e.reason.clone().unwrap_or_default(),
                                e.action.clone(),
                                e.subject_id.clone(),
                            ]
                        })
                        .collect();
                    (
                        format!("台账-{node}-{today}.xlsx"),
                        vec!["时间", "节点", "操作人", "角色", "对象", "事项", "原因", "动作", "对象编号"],
                        rows,
                    )
                }
                Ok(pb::ExportTable::Rectification) => {
                    let rows = self
                        .0
                        .engine()
                        .read(|s| {
                            let name = |u| {
                                s.units.get(&u).map(|x: &xuncha_domain::model::Unit| x.name.clone()).unwrap_or_default()
                            };
                            let mut items: Vec<_> = s
                                .rectifications
                                .values()
                                .filter(|i| who.may(s, Permission::RectificationRead, *i))
                                .collect();
                            items.sort_by_key(|i| (i.meta.owner.clone(), i.round, i.unit, i.deadline));
                            items
                                .into_iter()
                                .map(|i| {
                                    let finding = s.findings.get(&i.finding);
                                    vec![
                                        i.meta.owner.to_string(),
                                        s.rounds.get(&i.round).map(|r| r.name.clone()).unwrap_or_default(),
                                        name(i.unit),
                                        finding.map(|f| f.title.clone()).unwrap_or_default(),
                                        finding
                                            .and_then(|f| s.categories.get(&f.category))
                                            .map(|c| c.name.clone())
                                            .unwrap_or_default(),
                                        i.kind.label_zh().to_string(),
                                        i.measures.join(";"),
                                        i.responsible_unit.clone(),
                                        i.responsible_person.clone().unwrap_or_default(),
                                        i.deadline.to_string(),
                                        i.status.label_zh().to_string(),
                                        if is_overdue(i, today) {
                                            format!("逾期{}天", (today - i.deadline).num_days())
                                        } else {
                                            String::new()
                                        },
                                        i.sign_off.as_ref().map(|x| format!("{} {}", x.on, x.by)).unwrap_or_default(),
                                    ]
                                })
                                .collect()
                        })
                        .await;
                    (
                        format!("整改台账-{node}-{today}.xlsx"),
                        vec![
                            "节点",
                            "轮次",
                            "被巡察单位",
                            "问题",
                            "问题类别",
                            "类型",
                            "整改措施",
                            "责任单位",
                            "责任人",
                            "整改期限",
                            "状态",
                            "逾期",
                            "销号",
                        ],
                        rows,
                    )
                }
                _ => {
                    return Err(bad(DomainError::invalid("table", "choose the ledger or the rectification table")));
                }
            };
        let sheet = if file_name.starts_with("台账") { "台账" } else { "整改台账" };
        let content =
            write_xlsx(sheet, &header, &rows).map_err(|e| ApiError::Internal(format!("writing the workbook: {e}")))?;
        ok(pb::ExportResponse { file_name, content, rows: rows.len() as u32 })
    }
}
