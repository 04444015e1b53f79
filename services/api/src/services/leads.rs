use tonic::{Request, Response, Status};
use xuncha_domain::model::LeadStatus;
use xuncha_domain::{Command, Permission, Record};
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::lead_service_server::LeadService;

use super::{bad, ok, principal};
use crate::backend::Api;
use crate::conv::{self, FromPb, ToPb};

pub struct LeadApi(pub Api);

#[tonic::async_trait]
impl LeadService for LeadApi {
    async fn hand_over_lead(&self, r: Request<pb::HandOverLeadRequest>) -> Result<Response<pb::Lead>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let l = self.0.write(&who, || conv::lead::hand_over(&r).map(Command::HandOverLead), Record::as_lead).await?;
        ok(l.to_pb())
    }

    async fn acknowledge_lead(&self, r: Request<pb::AcknowledgeLeadRequest>) -> Result<Response<pb::Lead>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let l =
            self.0.write(&who, || conv::lead::acknowledge(&r).map(Command::AcknowledgeLead), Record::as_lead).await?;
        ok(l.to_pb())
    }

    async fn report_lead_result(&self, r: Request<pb::ReportLeadResultRequest>) -> Result<Response<pb::Lead>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let l = self
            .0
            .write(&who, || conv::lead::report_result(&r).map(Command::ReportLeadResult), Record::as_lead)
            .await?;
        ok(l.to_pb())
    }

    async fn release_lead(&self, r: Request<pb::ReleaseLeadRequest>) -> Result<Response<pb::Lead>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let l = self.0.write(&who, || conv::lead::release(&r).map(Command::ReleaseLead), Record::as_lead).await?;
        ok(l.to_pb())
    }

    async fn list_leads(&self, r: Request<pb::ListLeadsRequest>) -> Result<Response<pb::ListLeadsResponse>, Status> {
        let who = principal(&r)?;
        let q = r.get_ref();
        let round: Option<xuncha_domain::ids::RoundId> = conv::opt_id("round", &q.round).map_err(bad)?;
        let status = if q.status == 0 { None } else { Some(LeadStatus::from_pb("status", q.status).map_err(bad)?) };
        let leads = self
            .0
            .read(&r, |s| {
                s.leads
                    .values()
                    .filter(|x| who.may(s, Permission::LeadRead, *x))
                    .filter(|l| round.is_none_or(|x| l.round == x))
                    .filter(|l| status.is_none_or(|x| l.status == x))
                    .map(ToPb::to_pb)
                    .collect()
            })
            .await?;
        ok(pb::ListLeadsResponse { leads })
    }
}
