use tonic::{Request, Response, Status};
use xuncha_domain::{Command, Permission, Record};
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::finding_service_server::FindingService;

use super::{bad, ok, principal};
use crate::backend::Api;
use crate::conv::{self, ToPb};

pub struct FindingApi(pub Api);

#[tonic::async_trait]
impl FindingService for FindingApi {
    async fn list_categories(
        &self,
        r: Request<pb::ListCategoriesRequest>,
    ) -> Result<Response<pb::ListCategoriesResponse>, Status> {
        let who = principal(&r)?;
        let categories = self
            .0
            .read(&r, |s| {
                s.categories.values().filter(|x| who.may(s, Permission::PlanRead, *x)).map(ToPb::to_pb).collect()
            })
            .await?;
        ok(pb::ListCategoriesResponse { categories })
    }

    async fn add_category(&self, r: Request<pb::AddCategoryRequest>) -> Result<Response<pb::Category>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let c = self
            .0
            .write(&who, || conv::finding::add_category(&r).map(Command::AddCategory), Record::as_category)
            .await?;
        ok(c.to_pb())
    }

    async fn record_finding(&self, r: Request<pb::RecordFindingRequest>) -> Result<Response<pb::Finding>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let f = self
            .0
            .write(&who, || conv::finding::record_finding(&r).map(Command::RecordFinding), Record::as_finding)
            .await?;
        ok(f.to_pb())
    }

    async fn list_findings(
        &self,
        r: Request<pb::ListFindingsRequest>,
    ) -> Result<Response<pb::ListFindingsResponse>, Status> {
        let who = principal(&r)?;
        let q = r.get_ref();
        let round: Option<xuncha_domain::ids::RoundId> = conv::opt_id("round", &q.round).map_err(bad)?;
        let target: Option<xuncha_domain::ids::TargetId> = conv::opt_id("target", &q.target).map_err(bad)?;
        let unit: Option<xuncha_domain::ids::UnitId> = conv::opt_id("unit", &q.unit).map_err(bad)?;
        let category = conv::opt_text(&q.category);
        let findings = self
            .0
            .read(&r, |s| {
                // A revisit's target also lists the findings it inherited.
                let inherited: Vec<_> =
                    target.and_then(|t| s.targets.get(&t)).map(|t| t.inherited_findings.clone()).unwrap_or_default();
                s.findings
                    .values()
                    .filter(|x| who.may(s, Permission::FindingRead, *x))
                    .filter(|f| round.is_none_or(|x| f.round == x))
                    .filter(|f| target.is_none_or(|x| f.target == x || inherited.contains(&f.id)))
                    .filter(|f| unit.is_none_or(|x| f.unit == x))
                    .filter(|f| category.as_ref().is_none_or(|c| &f.category == c))
                    .map(ToPb::to_pb)
                    .collect()
            })
            .await?;
        ok(pb::ListFindingsResponse { findings })
    }
}
