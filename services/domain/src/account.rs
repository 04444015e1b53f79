//! 账号: staff accounts, their sign-in sessions, and the rules for managing them.
//!
//! An account belongs to one node (the city, or one county) and only that node changes it; a
//! county's accounts travel to the city read-only, so the county signs its staff in while cut
//! off and the city knows who did what there. Passwords arrive here already hashed (argon2id,
//! at the edge); sessions are keyed by the SHA-256 of their token, never the token itself.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::authz::{Grant, Permission, Position, Principal, RoleCode, Scope, check_grant};
use crate::command::{Caller, Decision};
use crate::common::Meta;
use crate::error::{DomainError, DomainResult, ensure, optional_text, required_text};
use crate::ids::{AccountId, NodeId};
use crate::record::Record;
use crate::state::State;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// 正常
    Active,
    /// 已停用: signs in no more; its sessions ended.
    Disabled,
}

/// 账号: one person's sign-in, with the roles they hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    /// The owner is the account's organisation: the city office or one county.
    pub meta: Meta,
    /// Login name, lowercase, unique within the organisation. Elsewhere it is `name@county`.
    pub username: String,
    /// The person's name as the ledger shows it (Chinese).
    pub display_name: String,
    pub status: AccountStatus,
    /// PHC string of the argon2id hash.
    pub password_hash: String,
    /// Bumped when the password changes or the account is disabled: sessions opened under an
    /// earlier epoch end.
    pub epoch: u32,
    /// Set by a reset: the person must choose a new password before anything else.
    pub must_change_password: bool,
    pub grants: Vec<Grant>,
}

impl Account {
    pub fn is_active(&self) -> bool {
        self.status == AccountStatus::Active
    }

    /// The name to sign in with at node `at`: plain at its own node, `name@county` elsewhere.
    pub fn login_name(&self, at: &NodeId) -> String {
        match self.meta.owner.county_code() {
            Some(code) if &self.meta.owner != at => format!("{}@{code}", self.username),
            _ => self.username.clone(),
        }
    }
}

/// The SHA-256 of a session token, as 64 lowercase hex digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionKey(String);

impl SessionKey {
    pub fn parse(field: &str, hex: &str) -> DomainResult<Self> {
        let ok = hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ensure(ok, || DomainError::invalid(field, "a session key is 64 lowercase hex digits"))?;
        Ok(Self(hex.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SessionKey {
    type Error = DomainError;
    fn try_from(s: String) -> DomainResult<Self> {
        Self::parse("session", &s)
    }
}

impl From<SessionKey> for String {
    fn from(k: SessionKey) -> String {
        k.0
    }
}

/// A signed-in session. On the city it is replicated through raft, so any replica checks it and
/// a leader change signs nobody out; `last_seen` is refreshed at most every few minutes (the
/// replica serving a person knows the exact time of their last call).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub key: SessionKey,
    pub account: AccountId,
    /// The account's epoch when it opened.
    pub epoch: u32,
    pub opened_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Absolute expiry.
    pub expires_at: DateTime<Utc>,
    /// It ends after this long without a call.
    pub idle_timeout_s: u32,
    /// The client's address at sign-in (for the operators).
    pub client: String,
}

impl Session {
    pub fn idle_timeout(&self) -> Duration {
        Duration::seconds(self.idle_timeout_s as i64)
    }

    /// Certainly over, whatever any replica saw since: purged. Twice the idle time leaves room
    /// for a `last_seen` that lags the last call by up to the refresh interval.
    fn is_stale(&self, at: DateTime<Utc>) -> bool {
        at >= self.expires_at || at - self.last_seen > self.idle_timeout() * 2
    }
}

/// A change to the sessions table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionChange {
    Put(Session),
    End(SessionKey),
}

/// Who is signed in under `key` at `now`. `last_active` is this node's own record of the
/// session's last call; given, the idle timeout is checked against it too (the edge does,
/// the rules do not: a command decided later on another replica is not refused as idle).
pub fn signed_in(
    state: &State,
    key: &SessionKey,
    now: DateTime<Utc>,
    last_active: Option<DateTime<Utc>>,
) -> DomainResult<Principal> {
    let gone = |why: &str| DomainError::unauthenticated(why.to_string());
    let session = state.sessions.get(key).ok_or_else(|| gone("登录已失效或已退出,请重新登录"))?;
    ensure(now < session.expires_at, || gone("登录已过期,请重新登录"))?;
    if let Some(seen) = last_active {
        let last = seen.max(session.last_seen);
        ensure(now - last <= session.idle_timeout(), || gone("长时间未操作,登录已失效,请重新登录"))?;
    }
    let account = state.accounts.get(&session.account).ok_or_else(|| gone("账号不存在,请重新登录"))?;
    ensure(account.is_active(), || gone("账号已停用"))?;
    ensure(account.epoch == session.epoch, || gone("密码已更改或账号已重置,请重新登录"))?;
    Ok(Principal::of(account, Some(key.clone())))
}

/// The account a login name names on node `me`: `name` is one of this node's own accounts,
/// `name@county` one of that county's (the city holds its counties' accounts).
pub fn find_account<'s>(state: &'s State, me: &NodeId, login: &str) -> Option<&'s Account> {
    let login = login.trim().to_lowercase();
    let (name, owner) = match login.split_once('@') {
        Some((name, county)) => (name, NodeId::county(county).ok()?),
        None => (login.as_str(), me.clone()),
    };
    state.accounts.values().find(|a| a.meta.owner == owner && a.username == name)
}

/// A login name: 2-32 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit. Case is
/// not significant ('@' is kept for naming another node's accounts).
pub fn check_username(field: &str, name: &str) -> DomainResult<String> {
    let n = name.trim().to_lowercase();
    let ok = (2..=32).contains(&n.len())
        && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
        && n.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
    ensure(ok, || {
        DomainError::invalid(
            field,
            format!("'{name}' 不能作为登录名:使用2至32个小写字母、数字和 . _ -,以字母或数字开头"),
        )
    })?;
    Ok(n)
}

/// A new password: 10 to 128 characters, not containing the login name, not one repeated
/// character. Length matters more than composition (NIST SP 800-63B).
pub fn check_new_password(field: &str, username: &str, password: &str) -> DomainResult<()> {
    let n = password.chars().count();
    ensure((10..=128).contains(&n), || DomainError::invalid(field, "密码长度须为10至128个字符"))?;
    ensure(!password.to_lowercase().contains(&username.to_lowercase()), || {
        DomainError::invalid(field, "密码不能包含登录名")
    })?;
    let first = password.chars().next();
    ensure(!password.chars().all(|c| Some(c) == first), || DomainError::invalid(field, "密码不能由同一个字符组成"))?;
    Ok(())
}

fn check_password_hash(hash: &str) -> DomainResult<String> {
    ensure(hash.starts_with("$argon2id$") && hash.len() <= 512, || {
        DomainError::invalid("password", "密码须以argon2id散列后传送")
    })?;
    Ok(hash.to_string())
}

/// The first administrator of a node (巡察办主任 and 运维 over the node's own scope), made with
/// an operator certificate when the node has no account yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapAdmin {
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddAccount {
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub grants: Vec<Grant>,
}

/// Disables (ending its sessions) or enables an account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetAccountStatus {
    pub account: AccountId,
    pub active: bool,
    pub reason: Option<String>,
}

/// An administrator sets a new password; the person must change it at next sign-in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetPassword {
    pub account: AccountId,
    pub password_hash: String,
}

/// The signed-in person changes their own password; their other sessions end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangePassword {
    pub password_hash: String,
    /// The epoch under which the old password was verified at the edge.
    pub verified_epoch: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRole {
    pub account: AccountId,
    pub grant: Grant,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeRole {
    pub account: AccountId,
    pub grant: Grant,
}

/// Opens a session for the account whose password the edge verified (the caller).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenSession {
    pub key: SessionKey,
    pub idle_timeout_s: u32,
    pub lifetime_s: u32,
    pub client: String,
}

/// Records that the caller's session is in use (refreshes `last_seen`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TouchSession {}

/// Ends the caller's session (退出登录).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseSession {}

/// The node's own scope: the city, or its county.
fn own_scope(me: &NodeId) -> Scope {
    match me.county_of() {
        Some(c) => Scope::County(c),
        None => Scope::City,
    }
}

fn account_of<'s>(d: &Decision<'s>, id: AccountId) -> DomainResult<&'s Account> {
    let a = d.state.accounts.get(&id).ok_or_else(|| DomainError::not_found("account", format!("账号{id}")))?;
    d.require_owned("account", &a.meta)?;
    Ok(a)
}

/// The caller may manage `target`: account.manage over it, and every role it holds is one the
/// caller could grant (nobody takes over an account stronger than their own).
fn require_manage(d: &mut Decision, target: &Account) -> DomainResult<()> {
    d.authorize(Permission::AccountManage, target)?;
    let who = d.principal()?;
    if let Some(g) = target.grants.iter().find(|g| !who.may_grant(d.state, g)) {
        return Err(DomainError::denied_permission(
            Permission::AccountManage.code(),
            format!("{}持有{},超出{}可授予的范围", target.display_name, g.label_zh(d.state), who.display_name),
        ));
    }
    Ok(())
}

fn require_not_self(d: &Decision, target: &Account, what: &str) -> DomainResult<()> {
    let me = d.principal()?.account;
    ensure(me != target.id, || DomainError::precondition("account", format!("不能{what}自己的账号,请由其他管理员操作")))
}

fn grants_text(state: &State, grants: &[Grant]) -> String {
    if grants.is_empty() {
        return "无".into();
    }
    grants.iter().map(|g| g.label_zh(state)).collect::<Vec<_>>().join("、")
}

fn check_new_grants(d: &Decision, grants: &[Grant]) -> DomainResult<()> {
    let who = d.principal()?;
    for (i, g) in grants.iter().enumerate() {
        let field = format!("grants[{i}]");
        check_grant(d.state, d.me, &field, g)?;
        ensure(who.may_grant(d.state, g), || {
            DomainError::denied_permission(
                Permission::AccountManage.code(),
                format!("{}不持有{},不能授予他人(只能授予自己持有的角色和范围)", who.display_name, g.label_zh(d.state)),
            )
        })?;
    }
    Ok(())
}

fn require_unique_username(d: &Decision, username: &str) -> DomainResult<()> {
    ensure(!d.state.accounts.values().any(|a| &a.meta.owner == d.me && a.username == username), || {
        DomainError::exists("username", format!("登录名 {username}"))
    })
}

pub fn bootstrap_admin(d: &mut Decision, c: &BootstrapAdmin) -> DomainResult<()> {
    ensure(matches!(d.caller, Caller::Operator(_)), || {
        DomainError::denied("caller", "第一个管理员账号须持运维证书开设")
    })?;
    let own = d.state.accounts.values().filter(|a| &a.meta.owner == d.me).count();
    ensure(own == 0, || {
        DomainError::precondition("username", format!("{} already has {own} accounts; add more with account add", d.me))
    })?;
    let username = check_username("username", &c.username)?;
    let display_name = required_text("display_name", &c.display_name, 32)?;
    let scope = own_scope(d.me);
    let account = Account {
        id: d.fresh_id(),
        meta: d.new_meta(),
        username: username.clone(),
        display_name: display_name.clone(),
        status: AccountStatus::Active,
        password_hash: check_password_hash(&c.password_hash)?,
        epoch: 0,
        must_change_password: false,
        grants: vec![Grant::new(RoleCode::OfficeHead, scope.clone()), Grant::new(RoleCode::Operator, scope)],
    };
    let summary = format!("初始化管理员账号{username}({display_name}):巡察办主任、运维");
    d.save(Record::Account(account), "account.bootstrapped", summary, None);
    Ok(())
}

pub fn add_account(d: &mut Decision, c: &AddAccount) -> DomainResult<()> {
    d.authorize(Permission::AccountManage, &Position::node(d.me))?;
    let username = check_username("username", &c.username)?;
    require_unique_username(d, &username)?;
    let display_name = required_text("display_name", &c.display_name, 32)?;
    check_new_grants(d, &c.grants)?;
    let mut grants = c.grants.clone();
    grants.sort();
    grants.dedup();
    let summary = format!("新建账号{username}({display_name}),角色:{}", grants_text(d.state, &grants));
    let account = Account {
        id: d.fresh_id(),
        meta: d.new_meta(),
        username,
        display_name,
        status: AccountStatus::Active,
        password_hash: check_password_hash(&c.password_hash)?,
        epoch: 0,
        must_change_password: false,
        grants,
    };
    d.save(Record::Account(account), "account.added", summary, None);
    Ok(())
}

pub fn set_account_status(d: &mut Decision, c: &SetAccountStatus) -> DomainResult<()> {
    let target = account_of(d, c.account)?;
    require_manage(d, target)?;
    let reason = optional_text("reason", c.reason.as_deref().unwrap_or(""), 500)?;
    let mut next = target.clone();
    next.meta = d.next_meta(&target.meta);
    let (action, summary) = if c.active {
        ensure(!target.is_active(), || DomainError::precondition("account", "账号已是正常状态"))?;
        next.status = AccountStatus::Active;
        ("account.enabled", format!("启用账号{}({})", target.username, target.display_name))
    } else {
        require_not_self(d, target, "停用")?;
        ensure(target.is_active(), || DomainError::precondition("account", "账号已停用"))?;
        next.status = AccountStatus::Disabled;
        next.epoch = target.epoch.wrapping_add(1);
        end_sessions_of(d, target.id, None);
        ("account.disabled", format!("停用账号{}({})", target.username, target.display_name))
    };
    d.save(Record::Account(next), action, summary, reason);
    Ok(())
}

pub fn reset_password(d: &mut Decision, c: &ResetPassword) -> DomainResult<()> {
    let target = account_of(d, c.account)?;
    require_manage(d, target)?;
    let mut next = target.clone();
    next.meta = d.next_meta(&target.meta);
    next.password_hash = check_password_hash(&c.password_hash)?;
    next.epoch = target.epoch.wrapping_add(1);
    next.must_change_password = true;
    end_sessions_of(d, target.id, None);
    let summary = format!("重置{}({})的密码,须在下次登录时修改", target.username, target.display_name);
    d.save(Record::Account(next), "account.password_reset", summary, None);
    Ok(())
}

pub fn change_password(d: &mut Decision, c: &ChangePassword) -> DomainResult<()> {
    let who = d.principal()?.clone();
    let account = account_of(d, who.account)?;
    ensure(account.epoch == c.verified_epoch, || {
        DomainError::precondition("old_password", "密码刚被修改或重置,请重新登录后再试")
    })?;
    let mut next = account.clone();
    next.meta = d.next_meta(&account.meta);
    next.password_hash = check_password_hash(&c.password_hash)?;
    next.epoch = account.epoch.wrapping_add(1);
    next.must_change_password = false;
    // The session that changed it goes on under the new epoch; every other one ends.
    let mine = who.session.clone();
    end_sessions_of(d, account.id, mine.as_ref());
    if let Some(key) = mine
        && let Some(s) = d.state.sessions.get(&key)
    {
        let mut s = s.clone();
        s.epoch = next.epoch;
        s.last_seen = d.at;
        d.put_session(s);
    }
    d.save(Record::Account(next), "account.password_changed", format!("{}修改密码", account.display_name), None);
    Ok(())
}

pub fn grant_role(d: &mut Decision, c: &GrantRole) -> DomainResult<()> {
    let target = account_of(d, c.account)?;
    d.authorize(Permission::AccountManage, target)?;
    check_new_grants(d, std::slice::from_ref(&c.grant))?;
    ensure(!target.grants.contains(&c.grant), || {
        DomainError::exists("grant", format!("{}的{}", target.username, c.grant.label_zh(d.state)))
    })?;
    let mut next = target.clone();
    next.meta = d.next_meta(&target.meta);
    next.grants.push(c.grant.clone());
    next.grants.sort();
    let summary = format!("授予{}({}){}", target.username, target.display_name, c.grant.label_zh(d.state));
    d.save(Record::Account(next), "account.granted", summary, None);
    Ok(())
}

pub fn revoke_role(d: &mut Decision, c: &RevokeRole) -> DomainResult<()> {
    let target = account_of(d, c.account)?;
    d.authorize(Permission::AccountManage, target)?;
    require_not_self(d, target, "收回")?;
    ensure(target.grants.contains(&c.grant), || {
        DomainError::not_found("grant", format!("{}的{}", target.username, c.grant.label_zh(d.state)))
    })?;
    let who = d.principal()?;
    ensure(who.may_grant(d.state, &c.grant), || {
        DomainError::denied_permission(
            Permission::AccountManage.code(),
            format!("{}不持有{},不能收回", who.display_name, c.grant.label_zh(d.state)),
        )
    })?;
    let mut next = target.clone();
    next.meta = d.next_meta(&target.meta);
    next.grants.retain(|g| g != &c.grant);
    let summary = format!("收回{}({}){}", target.username, target.display_name, c.grant.label_zh(d.state));
    d.save(Record::Account(next), "account.revoked", summary, None);
    Ok(())
}

/// Sessions may last at most this long.
pub const MAX_SESSION_SECONDS: u32 = 7 * 24 * 3600;

pub fn open_session(d: &mut Decision, c: &OpenSession) -> DomainResult<()> {
    let Caller::SigningIn { account, epoch } = d.caller else {
        return Err(DomainError::denied("caller", "a session is opened by signing in"));
    };
    let gone = |why: &str| DomainError::unauthenticated(why.to_string());
    let a = d.state.accounts.get(account).ok_or_else(|| gone("用户名或密码错误"))?;
    ensure(a.is_active(), || gone("账号已停用"))?;
    ensure(a.epoch == *epoch, || gone("密码刚被修改,请重新登录"))?;
    ensure(!d.state.sessions.contains_key(&c.key), || DomainError::exists("key", "该会话"))?;
    ensure(c.idle_timeout_s >= 60 && c.idle_timeout_s <= c.lifetime_s && c.lifetime_s <= MAX_SESSION_SECONDS, || {
        DomainError::invalid(
            "lifetime_s",
            format!("sessions are idle at least 60 s, live no shorter than that and at most {MAX_SESSION_SECONDS} s"),
        )
    })?;
    let client = c.client.chars().take(64).collect();
    // Sessions certainly over go now, so the table holds only live ones.
    let stale: Vec<SessionKey> =
        d.state.sessions.values().filter(|s| s.is_stale(d.at)).map(|s| s.key.clone()).collect();
    for key in stale {
        d.end_session(key);
    }
    d.put_session(Session {
        key: c.key.clone(),
        account: a.id,
        epoch: a.epoch,
        opened_at: d.at,
        last_seen: d.at,
        expires_at: d.at + Duration::seconds(c.lifetime_s as i64),
        idle_timeout_s: c.idle_timeout_s,
        client,
    });
    Ok(())
}

pub fn touch_session(d: &mut Decision, _: &TouchSession) -> DomainResult<()> {
    let key = d.session_key()?;
    let mut s = d.state.sessions[&key].clone();
    if d.at > s.last_seen {
        s.last_seen = d.at;
        d.put_session(s);
    }
    Ok(())
}

pub fn close_session(d: &mut Decision, _: &CloseSession) -> DomainResult<()> {
    let key = d.session_key()?;
    d.end_session(key);
    Ok(())
}

/// Ends every session of `account` but `keep`.
fn end_sessions_of(d: &mut Decision, account: AccountId, keep: Option<&SessionKey>) {
    let keys: Vec<SessionKey> = d
        .state
        .sessions
        .values()
        .filter(|s| s.account == account && Some(&s.key) != keep)
        .map(|s| s.key.clone())
        .collect();
    for key in keys {
        d.end_session(key);
    }
}
