use tonic::{Request, Response, Status};
use xuncha_domain::Permission;
use xuncha_domain::authz::Position;
use xuncha_domain::oversight::{coverage, overdue_items, oversight};
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::oversight_service_server::OversightService;

use super::units::owner_filter;
use super::{bad, ok, principal};
use crate::backend::Api;
use crate::conv::rectification::item_pb;
use crate::conv::{self, ToPb, timestamp};

pub struct OversightApi(pub Api);

#[tonic::async_trait]
impl OversightService for OversightApi {
    async fn get_coverage(
        &self,
        r: Request<pb::GetCoverageRequest>,
    ) -> Result<Response<pb::GetCoverageResponse>, Status> {
        let who = principal(&r)?;
        let term: Option<xuncha_domain::ids::TermId> = conv::opt_id("term", &r.get_ref().term).map_err(bad)?;
        let coverage = self
            .0
            .read(&r, |s| {
                s.terms
                    .values()
                    .filter(|t| term.is_none_or(|x| t.id == x))
                    .filter(|t| who.may(s, Permission::OversightRead, *t))
                    .map(|t| coverage(s, t).to_pb())
                    .collect()
            })
            .await?;
        ok(pb::GetCoverageResponse { coverage })
    }

    async fn get_oversight(
        &self,
        r: Request<pb::GetOversightRequest>,
    ) -> Result<Response<pb::GetOversightResponse>, Status> {
        let who = principal(&r)?;
        let today = self.0.today();
        let mut nodes: Vec<pb::NodeOversight> = self
            .0
            .read(&r, |s| {
                oversight(s, today)
                    .iter()
                    .filter(|n| who.may(s, Permission::OversightRead, &Position::node(&n.node)))
                    .map(ToPb::to_pb)
                    .collect()
            })
            .await?;
        let peers = self.0.engine().store().peer_statuses().await.map_err(crate::error::ApiError::from)?;
        for n in &mut nodes {
            if let Some(p) = peers.iter().find(|p| p.node.as_str() == n.node) {
                n.last_contact = p.last_contact.map(timestamp);
                n.backlog = p.backlog;
                n.lag = p.lag;
            }
        }
        ok(pb::GetOversightResponse { nodes })
    }

    async fn list_overdue(
        &self,
        r: Request<pb::ListOverdueRequest>,
    ) -> Result<Response<pb::ListOverdueResponse>, Status> {
        let who = principal(&r)?;
        let owner = owner_filter("owner", &r.get_ref().owner).map_err(bad)?;
        let today = self.0.today();
        let items = self
            .0
            .read(&r, |s| {
                overdue_items(s, today)
                    .into_iter()
                    .filter(|o| owner.as_ref().is_none_or(|x| &o.owner == x))
                    .filter_map(|o| s.rectifications.get(&o.item))
                    .filter(|i| who.may(s, Permission::OversightRead, *i))
                    .map(|i| item_pb(i, today))
                    .collect()
            })
            .await?;
        ok(pb::ListOverdueResponse { items })
    }
}
