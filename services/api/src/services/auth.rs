use tonic::{Request, Response, Status};
use xuncha_domain::account::{
    AddAccount, BootstrapAdmin, GrantRole, ResetPassword, RevokeRole, SetAccountStatus, check_username, find_account,
};
use xuncha_domain::authz::ROLES;
use xuncha_domain::ids::AccountId;
use xuncha_domain::{Caller, Command, DomainError, NodeId, Permission, Record};
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::account_service_server::AccountService;
use xuncha_proto::v1::auth_server::Auth;

use super::{bad, ok, principal};
use crate::access::{ClientAddress, peer};
use crate::backend::{Api, pick};
use crate::conv::account::{account_pb, grant, grants, scope_kind_pb, who_am_i};
use crate::conv::{opt_text, timestamp};
use crate::identity::Peer;

pub struct AuthApi(pub Api);

#[tonic::async_trait]
impl Auth for AuthApi {
    async fn login(&self, r: Request<pb::LoginRequest>) -> Result<Response<pb::LoginResponse>, Status> {
        let client = r.extensions().get::<ClientAddress>().and_then(|c| c.0);
        let q = r.into_inner();
        let signed = self.0.auth().login(&q.username, &q.password, client).await?;
        let me = self.0.engine().node().clone();
        let who = self.0.engine().read(|s| who_am_i(&signed.principal, s, &me)).await;
        ok(pb::LoginResponse {
            token: signed.token,
            expires_at: Some(timestamp(signed.expires_at)),
            idle_timeout_seconds: signed.idle_timeout_s,
            who: Some(who),
        })
    }

    async fn logout(&self, r: Request<pb::LogoutRequest>) -> Result<Response<pb::Empty>, Status> {
        let who = principal(&r)?;
        self.0.auth().logout(&who).await?;
        ok(pb::Empty {})
    }

    async fn who_am_i(&self, r: Request<pb::WhoAmIRequest>) -> Result<Response<pb::WhoAmIResponse>, Status> {
        let who = principal(&r)?;
        let me = self.0.engine().node().clone();
        let mut answer = self.0.engine().read(|s| who_am_i(&who, s, &me)).await;
        answer.node_names = self.0.node_names().clone().into_iter().collect();
        ok(answer)
    }

    async fn change_password(&self, r: Request<pb::ChangePasswordRequest>) -> Result<Response<pb::Empty>, Status> {
        let who = principal(&r)?;
        let q = r.into_inner();
        self.0.auth().change_password(&who, &q.old_password, &q.new_password).await?;
        ok(pb::Empty {})
    }
}

pub struct AccountApi(pub Api);

impl AccountApi {
    /// An account of this node named by login name or id.
    async fn resolve(&self, field: &str, text: &str) -> Result<AccountId, Status> {
        let text = text.trim();
        if text.is_empty() {
            return Err(bad(DomainError::invalid(field, "填写登录名或账号编号")));
        }
        let me = self.0.engine().node().clone();
        let by_id: Option<AccountId> = uuid::Uuid::parse_str(text).ok().map(AccountId::from);
        let found = self
            .0
            .engine()
            .read(|s| match by_id {
                Some(id) => s.accounts.get(&id).map(|a| a.id),
                None => find_account(s, &me, text).map(|a| a.id),
            })
            .await;
        found.ok_or_else(|| bad(DomainError::not_found(field, format!("账号 {text}"))))
    }

    async fn answer(&self, outcome: &xuncha_domain::Outcome) -> Result<Response<pb::Account>, Status> {
        let account = pick(outcome, Record::as_account)?;
        let me = self.0.engine().node().clone();
        ok(self.0.engine().read(|s| account_pb(&account, s, &me)).await)
    }
}

#[tonic::async_trait]
impl AccountService for AccountApi {
    async fn bootstrap(&self, r: Request<pb::BootstrapAccountRequest>) -> Result<Response<pb::Account>, Status> {
        let operator = match peer(&r) {
            Peer::Operator(name) => name,
            Peer::Anonymous => "development".to_string(),
            other => return Err(Status::permission_denied(format!("{} may not make accounts", other.label()))),
        };
        let q = r.into_inner();
        let username = check_username("username", &q.username).map_err(bad)?;
        let password_hash = self.0.auth().hash_new_password("password", &username, &q.password).await?;
        let command = Command::BootstrapAdmin(BootstrapAdmin {
            username,
            display_name: q.display_name.trim().to_string(),
            password_hash,
        });
        let outcome = self.0.execute(Caller::Operator(operator), command).await?;
        self.answer(&outcome).await
    }

    async fn add_account(&self, r: Request<pb::AddAccountRequest>) -> Result<Response<pb::Account>, Status> {
        let who = principal(&r)?;
        let q = r.into_inner();
        let username = check_username("username", &q.username).map_err(bad)?;
        let grants = grants("roles", &q.roles).map_err(bad)?;
        let password_hash = self.0.auth().hash_new_password("password", &username, &q.password).await?;
        let command = Command::AddAccount(AddAccount {
            username,
            display_name: q.display_name.trim().to_string(),
            password_hash,
            grants,
        });
        let outcome = self.0.execute_for(&who, command).await?;
        self.answer(&outcome).await
    }

    async fn list_accounts(
        &self,
        r: Request<pb::ListAccountsRequest>,
    ) -> Result<Response<pb::ListAccountsResponse>, Status> {
        let who = principal(&r)?;
        let organisation =
            opt_text(&r.get_ref().organisation).map(|o| NodeId::parse("organisation", &o)).transpose().map_err(bad)?;
        let me = self.0.engine().node().clone();
        let mut accounts = self
            .0
            .read(&r, |s| {
                s.accounts
                    .values()
                    .filter(|a| organisation.as_ref().is_none_or(|o| &a.meta.owner == o))
                    .filter(|a| who.may(s, Permission::AccountRead, *a))
                    .map(|a| account_pb(a, s, &me))
                    .collect::<Vec<_>>()
            })
            .await?;
        accounts.sort_by(|a, b| {
            (a.meta.as_ref().map(|m| &m.owner), &a.username).cmp(&(b.meta.as_ref().map(|m| &m.owner), &b.username))
        });
        ok(pb::ListAccountsResponse { accounts })
    }

    async fn set_status(&self, r: Request<pb::SetAccountStatusRequest>) -> Result<Response<pb::Account>, Status> {
        let who = principal(&r)?;
        let q = r.into_inner();
        let account = self.resolve("account", &q.account).await?;
        let command =
            Command::SetAccountStatus(SetAccountStatus { account, active: q.active, reason: opt_text(&q.reason) });
        let outcome = self.0.execute_for(&who, command).await?;
        self.answer(&outcome).await
    }

    async fn reset_password(&self, r: Request<pb::ResetPasswordRequest>) -> Result<Response<pb::Account>, Status> {
        let who = principal(&r)?;
        let q = r.into_inner();
        let account = self.resolve("account", &q.account).await?;
        let username = self.0.engine().read(|s| s.accounts.get(&account).map(|a| a.username.clone())).await;
        let username = username.unwrap_or_default();
        let password_hash = self.0.auth().hash_new_password("new_password", &username, &q.new_password).await?;
        let command = Command::ResetPassword(ResetPassword { account, password_hash });
        let outcome = self.0.execute_for(&who, command).await?;
        self.answer(&outcome).await
    }

    async fn grant(&self, r: Request<pb::ChangeGrantRequest>) -> Result<Response<pb::Account>, Status> {
        let who = principal(&r)?;
        let q = r.into_inner();
        let account = self.resolve("account", &q.account).await?;
        let g = q.grant.as_ref().ok_or_else(|| bad(DomainError::invalid("grant", "填写角色和授权范围")))?;
        let command = Command::GrantRole(GrantRole { account, grant: grant("grant", g).map_err(bad)? });
        let outcome = self.0.execute_for(&who, command).await?;
        self.answer(&outcome).await
    }

    async fn revoke(&self, r: Request<pb::ChangeGrantRequest>) -> Result<Response<pb::Account>, Status> {
        let who = principal(&r)?;
        let q = r.into_inner();
        let account = self.resolve("account", &q.account).await?;
        let g = q.grant.as_ref().ok_or_else(|| bad(DomainError::invalid("grant", "填写角色和授权范围")))?;
        let command = Command::RevokeRole(RevokeRole { account, grant: grant("grant", g).map_err(bad)? });
        let outcome = self.0.execute_for(&who, command).await?;
        self.answer(&outcome).await
    }

    async fn list_roles(&self, _: Request<pb::ListRolesRequest>) -> Result<Response<pb::ListRolesResponse>, Status> {
        let roles = ROLES
            .iter()
            .map(|d| pb::RoleDefinition {
                code: d.code.to_string(),
                name: d.name.to_string(),
                summary: d.summary.to_string(),
                scopes: d.scopes.iter().map(|k| scope_kind_pb(*k) as i32).collect(),
                permissions: d.permissions.iter().map(|p| p.code().to_string()).collect(),
            })
            .collect();
        ok(pb::ListRolesResponse { roles })
    }
}
