//! Accounts, role grants and scopes. Passwords and their hashes never leave the node.

use xuncha_domain::account::{Account, AccountStatus};
use xuncha_domain::authz::{Grant, RoleCode, Scope, ScopeKind};
use xuncha_domain::{DomainError, DomainResult, Principal, State};
use xuncha_proto::v1 as pb;

use super::{ToPb, id};

pub fn scope_kind_pb(kind: ScopeKind) -> pb::ScopeKind {
    match kind {
        ScopeKind::City => pb::ScopeKind::City,
        ScopeKind::County => pb::ScopeKind::County,
        ScopeKind::Round => pb::ScopeKind::Round,
        ScopeKind::Group => pb::ScopeKind::Group,
        ScopeKind::Unit => pb::ScopeKind::Unit,
    }
}

pub fn scope_pb(scope: &Scope, state: &State) -> pb::Scope {
    pb::Scope { kind: scope_kind_pb(scope.kind()) as i32, id: scope.id_string(), label: scope.label_zh(state) }
}

pub fn grant_pb(grant: &Grant, state: &State) -> pb::RoleGrant {
    pb::RoleGrant {
        role: grant.role.code().to_string(),
        scope: Some(scope_pb(&grant.scope, state)),
        role_label: grant.role.label_zh().to_string(),
    }
}

/// A grant from a request: the role by code or Chinese name, the scope by kind and id.
pub fn grant(field: &str, g: &pb::RoleGrant) -> DomainResult<Grant> {
    let role = RoleCode::parse(g.role.trim()).ok_or_else(|| {
        let known: Vec<String> = RoleCode::ALL.iter().map(|r| format!("{}({})", r.code(), r.label_zh())).collect();
        DomainError::invalid(format!("{field}.role"), format!("'{}' 不是角色;可选:{}", g.role, known.join("、")))
    })?;
    let scope = g.scope.as_ref().ok_or_else(|| DomainError::invalid(format!("{field}.scope"), "填写授权范围"))?;
    let id_field = format!("{field}.scope.id");
    let scope = match pb::ScopeKind::try_from(scope.kind) {
        Ok(pb::ScopeKind::City) => Scope::City,
        Ok(pb::ScopeKind::County) => Scope::County(super::county(&id_field, &scope.id)?),
        Ok(pb::ScopeKind::Round) => Scope::Round(id(&id_field, &scope.id)?),
        Ok(pb::ScopeKind::Group) => Scope::Group(id(&id_field, &scope.id)?),
        Ok(pb::ScopeKind::Unit) => Scope::Unit(id(&id_field, &scope.id)?),
        _ => {
            return Err(DomainError::invalid(
                format!("{field}.scope.kind"),
                "授权范围须为全市、县(市、区)、轮次、巡察组或被巡察单位",
            ));
        }
    };
    Ok(Grant::new(role, scope))
}

pub fn grants(field: &str, gs: &[pb::RoleGrant]) -> DomainResult<Vec<Grant>> {
    gs.iter().enumerate().map(|(i, g)| grant(&format!("{field}[{i}]"), g)).collect()
}

/// An account as node `me` shows it.
pub fn account_pb(a: &Account, state: &State, me: &xuncha_domain::NodeId) -> pb::Account {
    pb::Account {
        id: a.id.to_string(),
        meta: a.meta.to_pb(),
        username: a.login_name(me),
        display_name: a.display_name.clone(),
        status: match a.status {
            AccountStatus::Active => pb::AccountStatus::Active,
            AccountStatus::Disabled => pb::AccountStatus::Disabled,
        } as i32,
        roles: a.grants.iter().map(|g| grant_pb(g, state)).collect(),
        must_change_password: a.must_change_password,
        open_sessions: state.sessions.values().filter(|s| s.account == a.id).count() as u32,
    }
}

/// Who the caller is, as they see themselves.
pub fn who_am_i(who: &Principal, state: &State, me: &xuncha_domain::NodeId) -> pb::WhoAmIResponse {
    let session = who.session.as_ref().and_then(|k| state.sessions.get(k));
    let mut permissions: Vec<&str> =
        xuncha_domain::Permission::ALL.iter().filter(|p| who.holds(**p)).map(|p| p.code()).collect();
    permissions.sort();
    let username = state.accounts.get(&who.account).map(|a| a.login_name(me)).unwrap_or_else(|| who.username.clone());
    pb::WhoAmIResponse {
        account: who.account.to_string(),
        username,
        display_name: who.display_name.clone(),
        organisation: who.organisation.to_string(),
        roles: who.grants.iter().map(|g| grant_pb(g, state)).collect(),
        permissions: permissions.into_iter().map(str::to_string).collect(),
        expires_at: session.map(|s| super::timestamp(s.expires_at)),
        idle_timeout_seconds: session.map(|s| s.idle_timeout_s).unwrap_or_default(),
        must_change_password: who.must_change_password,
        node_names: Default::default(),
    }
}
