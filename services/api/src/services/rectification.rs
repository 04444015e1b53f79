use tonic::{Request, Response, Status};
use xuncha_domain::rectification::is_overdue;
use xuncha_domain::{Command, Permission, Record};
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::rectification_service_server::RectificationService;

use super::units::owner_filter;
use super::{bad, ok, principal};
use crate::backend::Api;
use crate::conv;
use crate::conv::rectification::item_pb;

pub struct RectificationApi(pub Api);

#[tonic::async_trait]
impl RectificationService for RectificationApi {
    async fn add_item(
        &self,
        r: Request<pb::AddRectificationItemRequest>,
    ) -> Result<Response<pb::RectificationItem>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let i = self
            .0
            .write(
                &who,
                || conv::rectification::add_item(&r).map(Command::AddRectificationItem),
                Record::as_rectification,
            )
            .await?;
        ok(item_pb(&i, self.0.today()))
    }

    async fn update_item(
        &self,
        r: Request<pb::UpdateRectificationRequest>,
    ) -> Result<Response<pb::RectificationItem>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let i = self
            .0
            .write(
                &who,
                || conv::rectification::update_item(&r).map(Command::UpdateRectification),
                Record::as_rectification,
            )
            .await?;
        ok(item_pb(&i, self.0.today()))
    }

    async fn sign_off(
        &self,
        r: Request<pb::SignOffRectificationRequest>,
    ) -> Result<Response<pb::RectificationItem>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let i = self
            .0
            .write(
                &who,
                || conv::rectification::sign_off(&r).map(Command::SignOffRectification),
                Record::as_rectification,
            )
            .await?;
        ok(item_pb(&i, self.0.today()))
    }

    async fn list_items(
        &self,
        r: Request<pb::ListRectificationRequest>,
    ) -> Result<Response<pb::ListRectificationResponse>, Status> {
        let who = principal(&r)?;
        let q = r.get_ref();
        let round: Option<xuncha_domain::ids::RoundId> = conv::opt_id("round", &q.round).map_err(bad)?;
        let finding: Option<xuncha_domain::ids::FindingId> = conv::opt_id("finding", &q.finding).map_err(bad)?;
        let owner = owner_filter("owner", &q.owner).map_err(bad)?;
        let overdue_only = q.overdue_only;
        let today = self.0.today();
        let items = self
            .0
            .read(&r, |s| {
                s.rectifications
                    .values()
                    .filter(|x| who.may(s, Permission::RectificationRead, *x))
                    .filter(|i| round.is_none_or(|x| i.round == x))
                    .filter(|i| finding.is_none_or(|x| i.finding == x))
                    .filter(|i| owner.as_ref().is_none_or(|o| &i.meta.owner == o))
                    .filter(|i| !overdue_only || is_overdue(i, today))
                    .map(|i| item_pb(i, today))
                    .collect()
            })
            .await?;
        ok(pb::ListRectificationResponse { items })
    }
}
