use tonic::{Request, Response, Status};
use xuncha_domain::ids::NoticeId;
use xuncha_domain::model::NoticeStatus;
use xuncha_domain::{Command, Permission, Record};
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::supervision_service_server::SupervisionService;

use super::{ok, principal};
use crate::backend::Api;
use crate::conv;
use crate::conv::notice::notice_pb;
use crate::error::ApiError;

pub struct SupervisionApi(pub Api);

impl SupervisionApi {
    async fn notice(&self, id: NoticeId) -> Result<pb::SupervisionNotice, Status> {
        self.0
            .engine()
            .read(|s| s.notices.get(&id).map(|n| notice_pb(n, s.notice_responses.get(&id))))
            .await
            .ok_or_else(|| ApiError::Internal(format!("notice {id} vanished")).into())
    }
}

#[tonic::async_trait]
impl SupervisionService for SupervisionApi {
    async fn issue_notice(
        &self,
        r: Request<pb::IssueNoticeRequest>,
    ) -> Result<Response<pb::SupervisionNotice>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let n = self.0.write(&who, || conv::notice::issue(&r).map(Command::IssueNotice), Record::as_notice).await?;
        ok(notice_pb(&n, None))
    }

    async fn respond_notice(
        &self,
        r: Request<pb::RespondNoticeRequest>,
    ) -> Result<Response<pb::SupervisionNotice>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let resp = self
            .0
            .write(&who, || conv::notice::respond(&r).map(Command::RespondNotice), Record::as_notice_response)
            .await?;
        ok(self.notice(resp.id).await?)
    }

    async fn close_notice(
        &self,
        r: Request<pb::CloseNoticeRequest>,
    ) -> Result<Response<pb::SupervisionNotice>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let n = self.0.write(&who, || conv::notice::close(&r).map(Command::CloseNotice), Record::as_notice).await?;
        ok(self.notice(n.id).await?)
    }

    async fn list_notices(
        &self,
        r: Request<pb::ListNoticesRequest>,
    ) -> Result<Response<pb::ListNoticesResponse>, Status> {
        let who = principal(&r)?;
        let open_only = r.get_ref().open_only;
        let notices = self
            .0
            .read(&r, |s| {
                s.notices
                    .values()
                    .filter(|x| who.may(s, Permission::RectificationRead, *x))
                    .filter(|n| !open_only || n.status == NoticeStatus::Open)
                    .map(|n| notice_pb(n, s.notice_responses.get(&n.id)))
                    .collect()
            })
            .await?;
        ok(pb::ListNoticesResponse { notices })
    }
}
