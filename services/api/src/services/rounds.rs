use tonic::{Request, Response, Status};
use xuncha_domain::{Command, DomainError, Permission, Record};
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::round_service_server::RoundService;

use super::units::owner_filter;
use super::{bad, ok, principal};
use crate::backend::Api;
use crate::conv::target::target_pb;
use crate::conv::{self, ToPb};

pub struct RoundApi(pub Api);

impl RoundApi {
    /// A target as a message, with its round's report-due date.
    async fn target(&self, target: xuncha_domain::model::Target) -> pb::Target {
        self.0.engine().read(|s| target_pb(&target, s.rounds.get(&target.round))).await
    }
}

#[tonic::async_trait]
impl RoundService for RoundApi {
    async fn create_round(&self, r: Request<pb::CreateRoundRequest>) -> Result<Response<pb::Round>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let round =
            self.0.write(&who, || conv::round::create_round(&r).map(Command::CreateRound), Record::as_round).await?;
        ok(round.to_pb())
    }

    async fn change_round_dates(&self, r: Request<pb::ChangeRoundDatesRequest>) -> Result<Response<pb::Round>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let round = self
            .0
            .write(&who, || conv::round::change_round_dates(&r).map(Command::ChangeRoundDates), Record::as_round)
            .await?;
        ok(round.to_pb())
    }

    async fn advance_round(&self, r: Request<pb::AdvanceRoundRequest>) -> Result<Response<pb::Round>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let round =
            self.0.write(&who, || conv::round::advance_round(&r).map(Command::AdvanceRound), Record::as_round).await?;
        ok(round.to_pb())
    }

    async fn get_round(&self, r: Request<pb::GetRoundRequest>) -> Result<Response<pb::RoundPlan>, Status> {
        let who = principal(&r)?;
        let id: xuncha_domain::ids::RoundId = conv::id("id", &r.get_ref().id).map_err(bad)?;
        let plan = self
            .0
            .read(&r, |s| {
                // Outside the caller's scopes a round is as absent as one that does not exist.
                let round = s.rounds.get(&id).filter(|x| who.may(s, Permission::RoundRead, *x))?;
                Some(pb::RoundPlan {
                    round: Some(round.to_pb()),
                    groups: s
                        .groups_of_round(id)
                        .filter(|g| who.may(s, Permission::RoundRead, *g))
                        .map(ToPb::to_pb)
                        .collect(),
                    targets: s
                        .targets_of_round(id)
                        .filter(|t| who.may(s, Permission::RoundRead, *t))
                        .map(|t| target_pb(t, Some(round)))
                        .collect(),
                })
            })
            .await?
            .ok_or_else(|| bad(DomainError::not_found("id", format!("轮次{id}"))))?;
        ok(plan)
    }

    async fn list_rounds(&self, r: Request<pb::ListRoundsRequest>) -> Result<Response<pb::ListRoundsResponse>, Status> {
        let who = principal(&r)?;
        let owner = owner_filter("owner", &r.get_ref().owner).map_err(bad)?;
        let term: Option<xuncha_domain::ids::TermId> = conv::opt_id("term", &r.get_ref().term).map_err(bad)?;
        let mut rounds: Vec<pb::Round> = self
            .0
            .read(&r, |s| {
                s.rounds
                    .values()
                    .filter(|x| who.may(s, Permission::RoundRead, *x))
                    .filter(|x| owner.as_ref().is_none_or(|o| &x.meta.owner == o))
                    .filter(|x| term.is_none_or(|t| x.term == t))
                    .map(ToPb::to_pb)
                    .collect()
            })
            .await?;
        rounds.sort_by(|a, b| {
            (a.meta.as_ref().map(|m| &m.owner), a.number).cmp(&(b.meta.as_ref().map(|m| &m.owner), b.number))
        });
        ok(pb::ListRoundsResponse { rounds })
    }

    async fn form_group(&self, r: Request<pb::FormGroupRequest>) -> Result<Response<pb::Group>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let group =
            self.0.write(&who, || conv::round::form_group(&r).map(Command::FormGroup), Record::as_group).await?;
        ok(group.to_pb())
    }

    async fn change_group(&self, r: Request<pb::ChangeGroupRequest>) -> Result<Response<pb::Group>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let group =
            self.0.write(&who, || conv::round::change_group(&r).map(Command::ChangeGroup), Record::as_group).await?;
        ok(group.to_pb())
    }

    async fn add_target(&self, r: Request<pb::AddTargetRequest>) -> Result<Response<pb::Target>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let target =
            self.0.write(&who, || conv::target::add_target(&r).map(Command::AddTarget), Record::as_target).await?;
        ok(self.target(target).await)
    }

    async fn give_feedback(&self, r: Request<pb::GiveFeedbackRequest>) -> Result<Response<pb::Target>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let target = self
            .0
            .write(&who, || conv::target::give_feedback(&r).map(Command::GiveFeedback), Record::as_target)
            .await?;
        ok(self.target(target).await)
    }

    async fn submit_rectification_report(
        &self,
        r: Request<pb::SubmitRectificationReportRequest>,
    ) -> Result<Response<pb::Target>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let target = self
            .0
            .write(&who, || conv::target::submit_report(&r).map(Command::SubmitRectificationReport), Record::as_target)
            .await?;
        ok(self.target(target).await)
    }
}
