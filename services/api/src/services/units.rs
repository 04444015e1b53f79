use tonic::{Request, Response, Status};
use xuncha_domain::{Command, NodeId, Permission, Record};
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::unit_service_server::UnitService;

use super::{bad, ok, principal};
use crate::backend::Api;
use crate::conv::{self, ToPb};

pub struct UnitApi(pub Api);

/// An owner filter from a request: empty means any.
pub(crate) fn owner_filter(field: &str, text: &str) -> xuncha_domain::DomainResult<Option<NodeId>> {
    if text.trim().is_empty() { Ok(None) } else { Ok(Some(NodeId::parse(field, text)?)) }
}

#[tonic::async_trait]
impl UnitService for UnitApi {
    async fn register_unit(&self, r: Request<pb::RegisterUnitRequest>) -> Result<Response<pb::Unit>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let unit =
            self.0.write(&who, || conv::unit::register_unit(&r).map(Command::RegisterUnit), Record::as_unit).await?;
        ok(unit.to_pb())
    }

    async fn list_units(&self, r: Request<pb::ListUnitsRequest>) -> Result<Response<pb::ListUnitsResponse>, Status> {
        let who = principal(&r)?;
        let owner = owner_filter("owner", &r.get_ref().owner).map_err(bad)?;
        let mut units = self
            .0
            .read(&r, |s| {
                s.units
                    .values()
                    .filter(|u| owner.as_ref().is_none_or(|o| &u.meta.owner == o))
                    .filter(|u| who.may(s, Permission::PlanRead, *u))
                    .map(ToPb::to_pb)
                    .collect::<Vec<_>>()
            })
            .await?;
        units.sort_by(|a, b| a.name.cmp(&b.name));
        ok(pb::ListUnitsResponse { units })
    }

    async fn create_term(&self, r: Request<pb::CreateTermRequest>) -> Result<Response<pb::Term>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let term = self.0.write(&who, || conv::term::create_term(&r).map(Command::CreateTerm), Record::as_term).await?;
        ok(term.to_pb())
    }

    async fn plan_units(&self, r: Request<pb::PlanUnitsRequest>) -> Result<Response<pb::Term>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let term = self.0.write(&who, || conv::term::plan_units(&r).map(Command::PlanUnits), Record::as_term).await?;
        ok(term.to_pb())
    }

    async fn list_terms(&self, r: Request<pb::ListTermsRequest>) -> Result<Response<pb::ListTermsResponse>, Status> {
        let who = principal(&r)?;
        let terms = self
            .0
            .read(&r, |s| s.terms.values().filter(|t| who.may(s, Permission::PlanRead, *t)).map(ToPb::to_pb).collect())
            .await?;
        ok(pb::ListTermsResponse { terms })
    }
}
