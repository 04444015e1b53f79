//! Slowing and then locking out failed sign-ins, per login name (whether or not it names an
//! account, so the answer tells nothing) and per client address. Kept in memory on each node:
//! a restart forgets it, and on the city each replica counts on its own (see
//! docs/authorization.md for what that means for an attacker).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// When to slow and when to lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures of one name before each further attempt must wait (1 s, doubling, at most 60 s).
    pub slow_after: u32,
    /// Failures of one name that lock it for `lockout`.
    pub lock_after: u32,
    /// Failures from one address that lock it for `lockout`.
    pub address_limit: u32,
    /// How long a lock lasts; failures older than this are forgotten.
    pub lockout: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self { slow_after: 3, lock_after: 10, address_limit: 30, lockout: Duration::from_secs(15 * 60) }
    }
}

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last: Instant,
    /// No attempt before this.
    until: Instant,
}

/// Entries kept before old ones are swept (an attacker trying many names cannot grow it forever).
const SWEEP_AT: usize = 100_000;

struct Counter<K> {
    entries: HashMap<K, Failures>,
}

impl<K: Hash + Eq + Clone> Counter<K> {
    fn new() -> Self {
        Self { entries: HashMap::new() }
    }

    fn current(&mut self, key: &K, now: Instant, forget: Duration) -> Option<Failures> {
        let f = *self.entries.get(key)?;
        if now.saturating_duration_since(f.last) > forget && now >= f.until {
            self.entries.remove(key);
            return None;
        }
        Some(f)
    }

    fn fail(&mut self, key: K, now: Instant, forget: Duration, wait: impl Fn(u32) -> Duration) {
        let count = self.current(&key, now, forget).map_or(0, |f| f.count) + 1;
        self.entries.insert(key, Failures { count, last: now, until: now + wait(count) });
        if self.entries.len() > SWEEP_AT {
            self.entries.retain(|_, f| now.saturating_duration_since(f.last) <= forget || now < f.until);
        }
    }
}

pub struct Throttle {
    policy: ThrottlePolicy,
    names: Counter<String>,
    addresses: Counter<IpAddr>,
}

impl Throttle {
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self { policy, names: Counter::new(), addresses: Counter::new() }
    }

    /// How long an attempt for `name` from `addr` must still wait, if it must.
    pub fn wait(&mut self, name: &str, addr: Option<IpAddr>, now: Instant) -> Option<Duration> {
        let forget = self.policy.lockout;
        let by_name = self.names.current(&name.to_string(), now, forget).map(|f| f.until);
        let by_addr = addr.and_then(|a| self.addresses.current(&a, now, forget)).map(|f| f.until);
        let until = by_name.into_iter().chain(by_addr).max()?;
        (until > now).then(|| until - now)
    }

    pub fn failed(&mut self, name: &str, addr: Option<IpAddr>, now: Instant) {
        let p = self.policy;
        self.names.fail(name.to_string(), now, p.lockout, |n| {
            if n >= p.lock_after {
                p.lockout
            } else if n >= p.slow_after {
                Duration::from_secs(1 << (n - p.slow_after).min(6)).min(Duration::from_secs(60))
            } else {
                Duration::ZERO
            }
        });
        if let Some(a) = addr {
            self.addresses.fail(a, now, p.lockout, |n| if n >= p.address_limit { p.lockout } else { Duration::ZERO });
        }
    }

    /// A correct password clears the name's failures (not the address's).
    pub fn succeeded(&mut self, name: &str) {
        self.names.entries.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slows_then_locks_a_name_and_forgets_after_the_lockout() {
        let mut t = Throttle::new(ThrottlePolicy::default());
        let t0 = Instant::now();
        for _ in 0..2 {
            t.failed("zhang", None, t0);
        }
        assert_eq!(t.wait("zhang", None, t0), None, "two failures cost nothing");
        t.failed("zhang", None, t0);
        assert_eq!(t.wait("zhang", None, t0), Some(Duration::from_secs(1)));
        t.failed("zhang", None, t0);
        assert_eq!(t.wait("zhang", None, t0), Some(Duration::from_secs(2)));
        for _ in 0..6 {
            t.failed("zhang", None, t0);
        }
        assert_eq!(t.wait("zhang", None, t0), Some(Duration::from_secs(15 * 60)), "locked at ten");
        assert_eq!(t.wait("li", None, t0), None, "other names are not affected");
        let later = t0 + Duration::from_secs(15 * 60 + 1);
        assert_eq!(t.wait("zhang", None, later), None);
        t.failed("zhang", None, later);
        assert_eq!(t.wait("zhang", None, later), None, "old failures were forgotten");
    }

    #[test]
    fn one_address_trying_many_names_is_locked() {
        let mut t = Throttle::new(ThrottlePolicy::default());
        let t0 = Instant::now();
        let addr: IpAddr = "10.0.0.9".parse().unwrap();
        for i in 0..30 {
            t.failed(&format!("user{i}"), Some(addr), t0);
        }
        assert!(t.wait("fresh", Some(addr), t0).is_some());
        assert_eq!(t.wait("fresh", Some("10.0.0.10".parse().unwrap()), t0), None);
        t.succeeded("user1");
        assert!(t.wait("user1", Some(addr), t0).is_some(), "a success does not clear the address");
    }
}
