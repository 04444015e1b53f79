//! Signing staff in, and telling who calls: passwords checked with argon2id (bounded, off the
//! runtime), failures slowed and then locked out, random 256-bit bearer tokens of which the
//! node keeps only the SHA-256, and sessions with an idle and an absolute expiry.
//!
//! Sessions are state like any other: a county commits them to its SQLite; the city puts them
//! through raft, so every replica can check a token and a leader change signs nobody out. A
//! session's `last_seen` is replicated at most every [`Authenticator::touch_interval`]; the
//! replica a person talks to also keeps the exact time of their last call.

pub mod passwords;
pub mod throttle;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use rand::TryRngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use xuncha_domain::account::{
    ChangePassword, CloseSession, OpenSession, SessionKey, TouchSession, check_new_password, find_account, signed_in,
};
use xuncha_domain::{Caller, Command, DomainError, Envelope, Principal};

use crate::backend::{Backend, Consistency};
use crate::error::{ApiError, ApiResult};
use passwords::{HashCost, Passwords};
use throttle::{Throttle, ThrottlePolicy};

/// Sign-in and session settings (`[auth]` in a node's configuration).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// A session ends after this many minutes without a call.
    #[serde(default = "default_idle")]
    pub session_idle_minutes: u32,
    /// A session ends this many hours after sign-in, however busy.
    #[serde(default = "default_hours")]
    pub session_hours: u32,
    /// Failed sign-ins of one login name before each further attempt waits (1 s, doubling).
    #[serde(default = "default_slow_after")]
    pub slow_after_failures: u32,
    /// Failed sign-ins of one login name that lock it for `lockout_minutes`.
    #[serde(default = "default_lock_after")]
    pub lock_after_failures: u32,
    /// Failed sign-ins from one address that lock the address for `lockout_minutes`.
    #[serde(default = "default_address_limit")]
    pub address_failure_limit: u32,
    #[serde(default = "default_lockout")]
    pub lockout_minutes: u32,
    /// Password hashes computed at once (each takes one core for tens of milliseconds).
    #[serde(default = "default_hash_concurrency")]
    pub hash_concurrency: u32,
    /// argon2id memory per hash, KiB (OWASP: 19456).
    #[serde(default = "default_memory")]
    pub argon2_memory_kib: u32,
    /// argon2id passes (OWASP: 2).
    #[serde(default = "default_iterations")]
    pub argon2_iterations: u32,
    /// argon2id lanes (OWASP: 1).
    #[serde(default = "default_parallelism")]
    pub argon2_parallelism: u32,
    /// The clock sessions are judged by (not configurable: the system clock).
    #[serde(skip)]
    pub clock: SessionClock,
}

/// The clock sessions expire by: the system's, plus an offset that only a test moves, to see
/// idle and absolute expiry through the real path without waiting an hour.
#[derive(Clone, Debug, Default)]
pub struct SessionClock(Arc<AtomicI64>);

impl SessionClock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.0.load(Ordering::Relaxed))
    }

    /// Moves this clock (and every copy of it) forward by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        self.0.fetch_add(by.num_milliseconds(), Ordering::Relaxed);
    }
}

// Settings compare by what is configured; the clock is not configured.
impl PartialEq for SessionClock {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for SessionClock {}

fn default_idle() -> u32 {
    60
}
fn default_hours() -> u32 {
    12
}
fn default_slow_after() -> u32 {
    ThrottlePolicy::default().slow_after
}
fn default_lock_after() -> u32 {
    ThrottlePolicy::default().lock_after
}
fn default_address_limit() -> u32 {
    ThrottlePolicy::default().address_limit
}
fn default_lockout() -> u32 {
    (ThrottlePolicy::default().lockout.as_secs() / 60) as u32
}
fn default_hash_concurrency() -> u32 {
    1
}
fn default_memory() -> u32 {
    HashCost::default().memory_kib
}
fn default_iterations() -> u32 {
    HashCost::default().iterations
}
fn default_parallelism() -> u32 {
    HashCost::default().parallelism
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            session_idle_minutes: default_idle(),
            session_hours: default_hours(),
            slow_after_failures: default_slow_after(),
            lock_after_failures: default_lock_after(),
            address_failure_limit: default_address_limit(),
            lockout_minutes: default_lockout(),
            hash_concurrency: default_hash_concurrency(),
            argon2_memory_kib: default_memory(),
            argon2_iterations: default_iterations(),
            argon2_parallelism: default_parallelism(),
            clock: SessionClock::default(),
        }
    }
}

impl AuthSettings {
    /// Checks the values; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        let idle = self.session_idle_minutes as u64 * 60;
        let life = self.session_hours as u64 * 3600;
        if idle < 60 {
            return Err("auth.session_idle_minutes: at least 1".into());
        }
        if life < idle || life > xuncha_domain::account::MAX_SESSION_SECONDS as u64 {
            return Err("auth.session_hours: at least the idle time, at most 168 (a week)".into());
        }
        if self.lock_after_failures == 0 || self.address_failure_limit == 0 || self.lockout_minutes == 0 {
            return Err("auth: lockout thresholds and lockout_minutes must be at least 1".into());
        }
        if self.hash_concurrency == 0 {
            return Err("auth.hash_concurrency: at least 1".into());
        }
        if self.argon2_memory_kib < 8 * self.argon2_parallelism || self.argon2_iterations == 0 {
            return Err("auth.argon2_*: memory at least 8 KiB per lane, at least one pass".into());
        }
        Ok(())
    }

    fn throttle(&self) -> ThrottlePolicy {
        ThrottlePolicy {
            slow_after: self.slow_after_failures,
            lock_after: self.lock_after_failures,
            address_limit: self.address_failure_limit,
            lockout: std::time::Duration::from_secs(self.lockout_minutes as u64 * 60),
        }
    }

    fn cost(&self) -> HashCost {
        HashCost {
            memory_kib: self.argon2_memory_kib,
            iterations: self.argon2_iterations,
            parallelism: self.argon2_parallelism,
        }
    }
}

/// Tokens are `xct_` and 64 hex digits of randomness (256 bits).
const TOKEN_PREFIX: &str = "xct_";

/// A fresh bearer token.
pub fn new_token() -> ApiResult<String> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.try_fill_bytes(&mut bytes).map_err(|e| ApiError::Internal(format!("random token: {e}")))?;
    Ok(format!("{TOKEN_PREFIX}{}", hex::encode(bytes)))
}

/// What a token is kept as: its SHA-256.
pub fn session_key(token: &str) -> SessionKey {
    SessionKey::parse("token", &hex::encode(Sha256::digest(token.as_bytes()))).expect("a sha-256 is 64 hex digits")
}

fn well_formed(token: &str) -> bool {
    token.len() == TOKEN_PREFIX.len() + 64
        && token.starts_with(TOKEN_PREFIX)
        && token[TOKEN_PREFIX.len()..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// A new session.
pub struct SignedIn {
    pub token: String,
    pub principal: Principal,
    pub expires_at: DateTime<Utc>,
    pub idle_timeout_s: u32,
}

fn wrong_credentials() -> ApiError {
    DomainError::unauthenticated("用户名或密码错误").into()
}

/// Signs people in and tells who calls.
pub struct Authenticator {
    backend: Arc<dyn Backend>,
    settings: AuthSettings,
    passwords: Passwords,
    throttle: Mutex<Throttle>,
    /// The last call of each session served here.
    seen: Mutex<HashMap<SessionKey, DateTime<Utc>>>,
    /// Sessions whose `last_seen` is being written now (one write at a time each).
    touching: Mutex<HashSet<SessionKey>>,
}

impl Authenticator {
    pub fn new(backend: Arc<dyn Backend>, settings: AuthSettings) -> ApiResult<Self> {
        settings.validate().map_err(ApiError::Internal)?;
        let passwords = Passwords::new(settings.cost(), settings.hash_concurrency as usize)?;
        Ok(Self {
            throttle: Mutex::new(Throttle::new(settings.throttle())),
            backend,
            settings,
            passwords,
            seen: Mutex::new(HashMap::new()),
            touching: Mutex::new(HashSet::new()),
        })
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    fn idle_s(&self) -> u32 {
        self.settings.session_idle_minutes * 60
    }

    /// How stale a replicated `last_seen` may get before a call refreshes it: a quarter of the
    /// idle time, at most five minutes.
    pub fn touch_interval(&self) -> chrono::Duration {
        chrono::Duration::seconds((self.idle_s() as i64 / 4).clamp(10, 300))
    }

    async fn execute(&self, caller: Caller, command: Command) -> ApiResult<xuncha_domain::Outcome> {
        // Stamped by the session clock, so a session's expiry and its checks run on one clock.
        let envelope = Envelope { at: self.settings.clock.now(), ..Envelope::new(caller, command) };
        self.backend.execute(envelope).await
    }

    /// Checks a new password against the rules and hashes it.
    pub async fn hash_new_password(&self, field: &str, username: &str, password: &str) -> ApiResult<String> {
        check_new_password(field, username, password)?;
        self.passwords.hash(password).await
    }

    /// Signs `login` in with `password`. An unknown name and a wrong password get the same
    /// answer after the same work; repeated failures are slowed and then locked out.
    pub async fn login(&self, login: &str, password: &str, client: Option<IpAddr>) -> ApiResult<SignedIn> {
        let login = login.trim().to_lowercase();
        if login.is_empty() || login.chars().count() > 64 {
            return Err(ApiError::invalid("username", "填写登录名(至多64个字符)"));
        }
        if password.is_empty() || password.chars().count() > 256 {
            return Err(ApiError::invalid("password", "填写密码(至多256个字符)"));
        }
        let wait = self.throttle.lock().expect("throttle lock").wait(&login, client, Instant::now());
        if let Some(wait) = wait {
            return Err(ApiError::Throttled { retry_after: wait });
        }
        let me = self.backend.engine().node().clone();
        let lookup = |s: &xuncha_domain::State| {
            find_account(s, &me, &login).map(|a| (a.id, a.epoch, a.password_hash.clone(), a.is_active()))
        };
        let mut account = self.backend.engine().read(lookup).await;
        if account.is_none() && self.backend.replica_id() != 0 {
            // Made through another replica a moment ago: catch up once before saying no.
            self.backend.read_barrier(Consistency::Linearizable).await?;
            account = self.backend.engine().read(lookup).await;
        }
        let matched = self.passwords.verify(password, account.as_ref().map(|a| a.2.as_str())).await?;
        let Some((id, epoch, _, active)) = account.filter(|_| matched) else {
            self.throttle.lock().expect("throttle lock").failed(&login, client, Instant::now());
            tracing::warn!(login = %login, client = ?client, "sign-in refused");
            return Err(wrong_credentials());
        };
        self.throttle.lock().expect("throttle lock").succeeded(&login);
        if !active {
            return Err(DomainError::denied("username", "账号已停用,请联系本单位管理员").into());
        }
        let token = new_token()?;
        let key = session_key(&token);
        let open = OpenSession {
            key: key.clone(),
            idle_timeout_s: self.idle_s(),
            lifetime_s: self.settings.session_hours * 3600,
            client: client.map(|c| c.to_string()).unwrap_or_default(),
        };
        self.execute(Caller::SigningIn { account: id, epoch }, Command::OpenSession(open)).await?;
        let (principal, expires_at) = self
            .backend
            .engine()
            .read(|s| {
                let session = s.sessions.get(&key)?;
                let principal = signed_in(s, &key, self.settings.clock.now(), None).ok()?;
                Some((principal, session.expires_at))
            })
            .await
            .ok_or_else(|| ApiError::Internal("the new session is not held here".into()))?;
        tracing::info!(login = %login, client = ?client, account = %id, "signed in");
        Ok(SignedIn { token, principal, expires_at, idle_timeout_s: self.idle_s() })
    }

    /// The signed-in person behind `token`, or UNAUTHENTICATED. Notes the call, and refreshes
    /// the replicated `last_seen` when it is older than the touch interval.
    pub async fn authenticate(self: &Arc<Self>, token: &str) -> ApiResult<Principal> {
        if !well_formed(token) {
            return Err(DomainError::unauthenticated("令牌格式不正确,请重新登录").into());
        }
        let key = session_key(token);
        let now = self.settings.clock.now();
        let local = self.seen.lock().expect("seen lock").get(&key).copied();
        let check = |s: &xuncha_domain::State| {
            let known = s.sessions.get(&key).map(|x| x.last_seen);
            (known, signed_in(s, &key, now, local))
        };
        let (mut replicated, mut result) = self.backend.engine().read(check).await;
        if replicated.is_none() && self.backend.replica_id() != 0 {
            // Opened through another replica a moment ago and not applied here yet: catch up
            // to the leader once before saying no.
            if self.backend.read_barrier(Consistency::Linearizable).await.is_ok() {
                (replicated, result) = self.backend.engine().read(check).await;
            }
        }
        let principal = result?;
        self.seen.lock().expect("seen lock").insert(key.clone(), now);
        if let Some(last) = replicated
            && now - last > self.touch_interval()
        {
            self.touch(key);
        }
        Ok(principal)
    }

    /// Writes the session's `last_seen` in the background, one write per session at a time.
    fn touch(self: &Arc<Self>, key: SessionKey) {
        if !self.touching.lock().expect("touching lock").insert(key.clone()) {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            let done = me.execute(Caller::Session(key.clone()), Command::TouchSession(TouchSession {})).await;
            if let Err(e) = done {
                tracing::debug!(error = %e, "session touch refused");
            }
            me.touching.lock().expect("touching lock").remove(&key);
        });
    }

    /// Ends the caller's session.
    pub async fn logout(&self, who: &Principal) -> ApiResult<()> {
        let key = who.session.clone().ok_or_else(|| ApiError::from(DomainError::unauthenticated("请先登录")))?;
        self.execute(Caller::Session(key.clone()), Command::CloseSession(CloseSession {})).await?;
        self.seen.lock().expect("seen lock").remove(&key);
        tracing::info!(account = %who.account, "signed out");
        Ok(())
    }

    /// Changes the caller's password after checking the old one; their other sessions end.
    pub async fn change_password(&self, who: &Principal, old: &str, new: &str) -> ApiResult<()> {
        let key = who.session.clone().ok_or_else(|| ApiError::from(DomainError::unauthenticated("请先登录")))?;
        let current = self
            .backend
            .engine()
            .read(|s| s.accounts.get(&who.account).map(|a| (a.password_hash.clone(), a.epoch)))
            .await;
        let (hash, epoch) = current.ok_or_else(|| ApiError::from(DomainError::unauthenticated("账号不存在")))?;
        if !self.passwords.verify(old, Some(&hash)).await? {
            return Err(ApiError::invalid("old_password", "原密码不正确"));
        }
        if old == new {
            return Err(ApiError::invalid("new_password", "新密码不能与原密码相同"));
        }
        let password_hash = self.hash_new_password("new_password", &who.username, new).await?;
        let change = ChangePassword { password_hash, verified_epoch: epoch };
        self.execute(Caller::Session(key), Command::ChangePassword(change)).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_kept_only_as_their_hash() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert!(well_formed(&a));
        assert!(!well_formed("xct_short"));
        let key = session_key(&a);
        assert_eq!(key.as_str().len(), 64);
        assert!(!key.as_str().contains(&a[4..]));
        assert_eq!(session_key(&a), key);
    }

    #[test]
    fn default_settings_are_valid_and_bad_ones_name_the_field() {
        assert_eq!(AuthSettings::default().validate(), Ok(()));
        let bad = AuthSettings { session_hours: 0, ..AuthSettings::default() };
        assert!(bad.validate().unwrap_err().contains("session_hours"));
    }
}
