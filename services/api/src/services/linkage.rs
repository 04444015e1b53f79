use tonic::{Request, Response, Status};
use xuncha_domain::ids::{AssignmentId, SecondmentId};
use xuncha_domain::{Command, Permission, Record};
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::linkage_service_server::LinkageService;

use super::{bad, ok, principal};
use crate::backend::Api;
use crate::conv::linkage::{assignment_pb, secondment_pb};
use crate::conv::{self, ToPb};
use crate::error::ApiError;

pub struct LinkageApi(pub Api);

impl LinkageApi {
    /// An assignment with the county's answer, as held here now.
    async fn assignment(&self, id: AssignmentId) -> Result<pb::LinkedAssignment, Status> {
        self.0
            .engine()
            .read(|s| s.assignments.get(&id).map(|a| assignment_pb(a, s.assignment_responses.get(&id))))
            .await
            .ok_or_else(|| ApiError::Internal(format!("assignment {id} is not held here")).into())
    }

    async fn secondment(&self, id: SecondmentId) -> Result<pb::Secondment, Status> {
        self.0
            .engine()
            .read(|s| s.secondment_requests.get(&id).map(|r| secondment_pb(r, s.secondment_decisions.get(&id))))
            .await
            .ok_or_else(|| ApiError::Internal(format!("secondment {id} is not held here")).into())
    }
}

#[tonic::async_trait]
impl LinkageService for LinkageApi {
    async fn create_plan(&self, r: Request<pb::CreateLinkagePlanRequest>) -> Result<Response<pb::LinkagePlan>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let p = self
            .0
            .write(&who, || conv::linkage::create_plan(&r).map(Command::CreateLinkagePlan), Record::as_linkage_plan)
            .await?;
        ok(p.to_pb())
    }

    async fn list_plans(
        &self,
        r: Request<pb::ListLinkagePlansRequest>,
    ) -> Result<Response<pb::ListLinkagePlansResponse>, Status> {
        let who = principal(&r)?;
        let plans = self
            .0
            .read(&r, |s| {
                s.linkage_plans.values().filter(|x| who.may(s, Permission::LinkageRead, *x)).map(ToPb::to_pb).collect()
            })
            .await?;
        ok(pb::ListLinkagePlansResponse { plans })
    }

    async fn issue_assignment(
        &self,
        r: Request<pb::IssueAssignmentRequest>,
    ) -> Result<Response<pb::LinkedAssignment>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let a = self
            .0
            .write(&who, || conv::linkage::issue(&r).map(Command::IssueAssignment), Record::as_assignment)
            .await?;
        ok(assignment_pb(&a, None))
    }

    async fn respond_assignment(
        &self,
        r: Request<pb::RespondAssignmentRequest>,
    ) -> Result<Response<pb::LinkedAssignment>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let resp = self
            .0
            .write(&who, || conv::linkage::respond(&r).map(Command::RespondAssignment), Record::as_assignment_response)
            .await?;
        ok(self.assignment(resp.id).await?)
    }

    async fn report_progress(
        &self,
        r: Request<pb::ReportAssignmentProgressRequest>,
    ) -> Result<Response<pb::LinkedAssignment>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let resp = self
            .0
            .write(
                &who,
                || conv::linkage::progress(&r).map(Command::ReportAssignmentProgress),
                Record::as_assignment_response,
            )
            .await?;
        ok(self.assignment(resp.id).await?)
    }

    async fn submit_report(
        &self,
        r: Request<pb::SubmitLinkedReportRequest>,
    ) -> Result<Response<pb::LinkedAssignment>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let resp = self
            .0
            .write(&who, || conv::linkage::submit(&r).map(Command::SubmitLinkedReport), Record::as_assignment_response)
            .await?;
        ok(self.assignment(resp.id).await?)
    }

    async fn review_report(
        &self,
        r: Request<pb::ReviewLinkedReportRequest>,
    ) -> Result<Response<pb::LinkedAssignment>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let a = self
            .0
            .write(&who, || conv::linkage::review(&r).map(Command::ReviewLinkedReport), Record::as_assignment)
            .await?;
        ok(self.assignment(a.id).await?)
    }

    async fn list_assignments(
        &self,
        r: Request<pb::ListAssignmentsRequest>,
    ) -> Result<Response<pb::ListAssignmentsResponse>, Status> {
        let who = principal(&r)?;
        let county = conv::opt_county("county", &r.get_ref().county).map_err(bad)?;
        let plan: Option<xuncha_domain::ids::LinkagePlanId> = conv::opt_id("plan", &r.get_ref().plan).map_err(bad)?;
        let assignments = self
            .0
            .read(&r, |s| {
                s.assignments
                    .values()
                    .filter(|x| who.may(s, Permission::LinkageRead, *x))
                    .filter(|a| county.as_ref().is_none_or(|c| &a.county == c))
                    .filter(|a| plan.is_none_or(|p| a.plan == p))
                    .map(|a| assignment_pb(a, s.assignment_responses.get(&a.id)))
                    .collect()
            })
            .await?;
        ok(pb::ListAssignmentsResponse { assignments })
    }

    async fn request_secondment(
        &self,
        r: Request<pb::RequestSecondmentRequest>,
    ) -> Result<Response<pb::Secondment>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let req = self
            .0
            .write(
                &who,
                || conv::linkage::request_secondment(&r).map(Command::RequestSecondment),
                Record::as_secondment_request,
            )
            .await?;
        ok(secondment_pb(&req, None))
    }

    async fn decide_secondment(
        &self,
        r: Request<pb::DecideSecondmentRequest>,
    ) -> Result<Response<pb::Secondment>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let d = self
            .0
            .write(
                &who,
                || conv::linkage::decide_secondment(&r).map(Command::DecideSecondment),
                Record::as_secondment_decision,
            )
            .await?;
        ok(self.secondment(d.id).await?)
    }

    async fn list_secondments(
        &self,
        r: Request<pb::ListSecondmentsRequest>,
    ) -> Result<Response<pb::ListSecondmentsResponse>, Status> {
        let who = principal(&r)?;
        let secondments = self
            .0
            .read(&r, |s| {
                s.secondment_requests
                    .values()
                    .filter(|x| who.may(s, Permission::LinkageRead, *x))
                    .map(|x| secondment_pb(x, s.secondment_decisions.get(&x.id)))
                    .collect()
            })
            .await?;
        ok(pb::ListSecondmentsResponse { secondments })
    }
}
