//! Idempotent writes. A client names each write with a request id; the first decision under
//! `(caller, id)` is remembered with a fingerprint of its command and the records it wrote, so a
//! retry (after a timeout, a lost reply, a leader change) returns that result instead of deciding
//! again. The marks are part of the replicated state: every city replica and a restarted node
//! answers a retry the same way. They are kept for [`REQUEST_WINDOW`], at most
//! [`MAX_REQUESTS`], and forgotten in a deterministic order, `(at, caller, id)`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::command::{Caller, Command, Envelope, Outcome};
use crate::error::{DomainError, DomainResult};
use crate::record::Kind;
use crate::state::State;

/// How long a request id is remembered: far longer than any client retries.
pub const REQUEST_WINDOW: Duration = Duration::hours(1);
/// At most this many remembered requests; the oldest are forgotten first.
pub const MAX_REQUESTS: usize = 100_000;
/// The longest request id accepted.
pub const MAX_REQUEST_ID_CHARS: usize = 100;

/// A client's name for one write, unique per caller (the CLI sends `<uuid>.<n>`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestId(String);

impl RequestId {
    /// 1 to 100 characters of `A-Z a-z 0-9 . _ : -`.
    pub fn parse(field: &str, s: &str) -> DomainResult<Self> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-');
        if s.is_empty() || s.len() > MAX_REQUEST_ID_CHARS || !s.chars().all(ok_char) {
            return Err(DomainError::invalid(
                field,
                format!("请求编号须为 1 至 {MAX_REQUEST_ID_CHARS} 个字母、数字或 . _ : - 字符"),
            ));
        }
        Ok(Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whose request: an account (whichever of its sessions sent it) or an operator certificate.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestKey {
    pub caller: String,
    pub id: RequestId,
}

/// A record a remembered request wrote, at the version it wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrittenRecord {
    pub kind: Kind,
    pub id: String,
    pub version: u64,
}

/// What is remembered of a decided request, and which older marks its decision forgets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestMark {
    pub key: RequestKey,
    /// SHA-256 of the command, hex: a reused id for another command is refused.
    pub fingerprint: String,
    pub at: DateTime<Utc>,
    pub written: Vec<WrittenRecord>,
    /// Marks older than this are forgotten when this one is taken in.
    pub forget_before: DateTime<Utc>,
    /// Marks forgotten to stay within [`MAX_REQUESTS`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forget: Vec<RequestKey>,
}

/// The remembered requests of a node, by key and by age.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Requests {
    by_key: BTreeMap<RequestKey, RequestMark>,
    by_age: BTreeSet<(DateTime<Utc>, RequestKey)>,
}

impl Requests {
    pub fn get(&self, key: &RequestKey) -> Option<&RequestMark> {
        self.by_key.get(key)
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Takes in a mark and forgets what it says to forget.
    pub fn take(&mut self, mark: &RequestMark) {
        let expired: Vec<RequestKey> =
            self.by_age.range(..earliest(mark.forget_before)).map(|(_, k)| k.clone()).collect();
        for key in expired.iter().chain(&mark.forget) {
            self.remove(key);
        }
        self.remove(&mark.key);
        self.by_age.insert((mark.at, mark.key.clone()));
        self.by_key.insert(mark.key.clone(), mark.clone());
    }

    /// Puts back a mark as stored (loading a node's state): nothing is forgotten.
    pub fn restore(&mut self, mark: RequestMark) {
        self.remove(&mark.key);
        self.by_age.insert((mark.at, mark.key.clone()));
        self.by_key.insert(mark.key.clone(), mark);
    }

    fn remove(&mut self, key: &RequestKey) {
        if let Some(old) = self.by_key.remove(key) {
            self.by_age.remove(&(old.at, old.key));
        }
    }

    /// The marks a new one at `at` pushes out beyond [`MAX_REQUESTS`], oldest first, after
    /// those older than `forget_before` are gone.
    fn overflow(&self, forget_before: DateTime<Utc>) -> Vec<RequestKey> {
        // Every mark taken in forgets the expired ones, so few are expired here.
        let expired = self.by_age.range(..earliest(forget_before)).count();
        let excess = (self.len() - expired + 1).saturating_sub(MAX_REQUESTS);
        self.by_age.range(earliest(forget_before)..).take(excess).map(|(_, k)| k.clone()).collect()
    }
}

/// The smallest age-index entry at `at`.
fn earliest(at: DateTime<Utc>) -> (DateTime<Utc>, RequestKey) {
    (at, RequestKey { caller: String::new(), id: RequestId(String::new()) })
}

/// The key a request of `envelope`'s caller is remembered under; none for signing in (the
/// edge makes a fresh session key per attempt) or an unknown session (the decision refuses it).
fn key_of(state: &State, envelope: &Envelope) -> Option<RequestKey> {
    let id = envelope.request.clone()?;
    let caller = match &envelope.caller {
        Caller::Session(key) => format!("account:{}", state.sessions.get(key)?.account),
        Caller::Operator(name) => format!("operator:{name}"),
        Caller::SigningIn { .. } => return None,
    };
    Some(RequestKey { caller, id })
}

/// SHA-256 of the command as JSON, without password hashes: the edge salts a password afresh on
/// every attempt, so a retry of the same request carries a different hash.
pub fn fingerprint(command: &Command) -> String {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("password_hash");
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(command).unwrap_or_default();
    strip(&mut value);
    let digest = Sha256::digest(value.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A decision, or the answer a request already had.
#[derive(Clone, Debug, PartialEq)]
pub enum Decided {
    /// Decided now: commit it.
    New(Outcome),
    /// Decided before: nothing to commit; the records as they are now.
    Repeat(Outcome),
}

impl Decided {
    pub fn outcome(&self) -> &Outcome {
        match self {
            Decided::New(o) | Decided::Repeat(o) => o,
        }
    }

    pub fn into_outcome(self) -> Outcome {
        match self {
            Decided::New(o) | Decided::Repeat(o) => o,
        }
    }
}

/// Decides `envelope` once per request id: a request already decided gets its first result
/// back (the records it wrote, as they are now); the same id for a different command is refused.
pub fn decide_once(state: &State, me: &crate::ids::NodeId, envelope: &Envelope) -> DomainResult<Decided> {
    let Some(key) = key_of(state, envelope) else {
        return crate::command::decide(state, me, envelope).map(Decided::New);
    };
    let print = fingerprint(&envelope.command);
    if let Some(mark) = state.requests.get(&key) {
        if mark.fingerprint != print {
            return Err(DomainError::invalid(
                "request_id",
                format!("请求编号 {} 已用于另一项操作,请换一个编号", key.id),
            ));
        }
        let records = mark.written.iter().filter_map(|w| state.get(w.kind, &w.id)).collect();
        return Ok(Decided::Repeat(Outcome { records, ..Default::default() }));
    }
    let mut outcome = crate::command::decide(state, me, envelope)?;
    let forget_before = envelope.at - REQUEST_WINDOW;
    outcome.request = Some(RequestMark {
        forget: state.requests.overflow(forget_before),
        key,
        fingerprint: print,
        at: envelope.at,
        written: outcome
            .records
            .iter()
            .map(|r| WrittenRecord { kind: r.kind(), id: r.id_string(), version: r.version() })
            .collect(),
        forget_before,
    });
    Ok(Decided::New(outcome))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::BootstrapAdmin;
    use crate::ids::NodeId;

    fn bootstrap(request: &str, name: &str, hash: &str, at: DateTime<Utc>) -> Envelope {
        let command = Command::BootstrapAdmin(BootstrapAdmin {
            username: "admin".into(),
            display_name: name.into(),
            password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1${hash}"),
        });
        Envelope { at, ..Envelope::new(Caller::Operator("ops".into()), command) }
            .with_request(Some(RequestId::parse("request_id", request).unwrap()))
    }

    fn new(state: &mut State, envelope: &Envelope) -> Outcome {
        match decide_once(state, &NodeId::city(), envelope).unwrap() {
            Decided::New(outcome) => {
                state.apply(&outcome);
                outcome
            }
            Decided::Repeat(_) => panic!("decided before"),
        }
    }

    #[test]
    fn a_repeat_gets_the_first_records_and_a_reused_id_is_refused() {
        let mut state = State::default();
        let at = Utc::now();
        let first = new(&mut state, &bootstrap("r-1", "赵主任", "hash-a", at));
        // Salted afresh on the retry: the password hash is not part of the fingerprint.
        let again = decide_once(&state, &NodeId::city(), &bootstrap("r-1", "赵主任", "hash-b", at)).unwrap();
        assert_eq!(again, Decided::Repeat(Outcome { records: first.records.clone(), ..Default::default() }));
        let reused = decide_once(&state, &NodeId::city(), &bootstrap("r-1", "钱主任", "hash-a", at)).unwrap_err();
        assert_eq!(reused.field, "request_id");
        // Without an id, or under another, it is decided again (and refused: there is an admin).
        assert!(decide_once(&state, &NodeId::city(), &bootstrap("r-2", "赵主任", "hash-a", at)).is_err());
    }

    #[test]
    fn marks_are_forgotten_after_the_window_and_beyond_the_cap_oldest_first() {
        let at = Utc::now();
        let mut state = State::default();
        new(&mut state, &bootstrap("old", "赵主任", "h", at));
        let mut later = State { accounts: Default::default(), ..state.clone() };
        new(&mut later, &bootstrap("new", "赵主任", "h", at + REQUEST_WINDOW + Duration::seconds(1)));
        assert_eq!(later.requests.len(), 1, "the hour-old mark is forgotten");

        let mut full = State::default();
        for i in 0..MAX_REQUESTS {
            let at = at + Duration::milliseconds(i as i64);
            let key = RequestKey { caller: "operator:ops".into(), id: RequestId(format!("m{i}")) };
            full.requests.restore(RequestMark {
                key,
                fingerprint: String::new(),
                at,
                written: vec![],
                forget_before: at - REQUEST_WINDOW,
                forget: vec![],
            });
        }
        let outcome = new(&mut full, &bootstrap("one-more", "赵主任", "h", at + Duration::minutes(5)));
        let mark = outcome.request.unwrap();
        assert_eq!(mark.forget.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(), ["m0"]);
        assert_eq!(full.requests.len(), MAX_REQUESTS);
        assert!(full.requests.get(&mark.key).is_some());
    }

    #[test]
    fn request_ids_are_short_and_plain() {
        assert!(RequestId::parse("f", "cli-0193.12").is_ok());
        for bad in ["", "two words", "换行", &"x".repeat(MAX_REQUEST_ID_CHARS + 1)] {
            assert_eq!(RequestId::parse("f", bad).unwrap_err().field, "f", "{bad:?}");
        }
    }
}
