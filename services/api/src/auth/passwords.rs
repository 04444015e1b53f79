//! Password hashing with argon2id, off the async runtime and bounded: at most `concurrency`
//! hashes run at once on the blocking pool, so a burst of sign-ins takes at most that many
//! cores from raft and sync, and waiting callers give up after a while instead of piling up.

use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::TryRngCore;
use tokio::sync::Semaphore;

use crate::error::{ApiError, ApiResult};

/// How long a sign-in waits for a free hashing slot before it is told to try again.
const QUEUE_WAIT: Duration = Duration::from_secs(10);

/// argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashCost {
    /// OWASP's first recommendation for argon2id: 19 MiB, 2 iterations, 1 lane.
    fn default() -> Self {
        Self { memory_kib: 19 * 1024, iterations: 2, parallelism: 1 }
    }
}

pub struct Passwords {
    params: Params,
    slots: Arc<Semaphore>,
    /// A hash of a random password with the same cost: an unknown account is checked against
    /// it, so the answer takes as long as for a known one.
    dummy: String,
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(format!("password hashing: {e}"))
}

fn hasher(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

fn hash_with(params: &Params, password: &str) -> ApiResult<String> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.try_fill_bytes(&mut salt).map_err(internal)?;
    let salt = SaltString::encode_b64(&salt).map_err(internal)?;
    Ok(hasher(params).hash_password(password.as_bytes(), &salt).map_err(internal)?.to_string())
}

impl Passwords {
    pub fn new(cost: HashCost, concurrency: usize) -> ApiResult<Self> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None).map_err(internal)?;
        let mut random = [0u8; 24];
        rand::rngs::OsRng.try_fill_bytes(&mut random).map_err(internal)?;
        let dummy = hash_with(&params, &hex::encode(random))?;
        Ok(Self { params, slots: Arc::new(Semaphore::new(concurrency.max(1))), dummy })
    }

    /// Runs `f` on the blocking pool once a hashing slot is free.
    async fn bounded<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
        let slot = tokio::time::timeout(QUEUE_WAIT, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| ApiError::Unavailable { reason: "登录繁忙,请稍后再试".into(), leader: None })?
            .map_err(internal)?;
        let out = tokio::task::spawn_blocking(move || {
            let out = f();
            drop(slot);
            out
        })
        .await
        .map_err(internal)?;
        Ok(out)
    }

    /// The PHC string of a new hash of `password`.
    pub async fn hash(&self, password: &str) -> ApiResult<String> {
        let params = self.params.clone();
        let password = password.to_string();
        self.bounded(move || hash_with(&params, &password)).await?
    }

    /// Whether `password` matches `hash`; with no hash (no such account) it checks against the
    /// dummy and answers no, taking the same time.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> ApiResult<bool> {
        let known = hash.is_some();
        let hash = hash.unwrap_or(&self.dummy).to_string();
        let dummy = self.dummy.clone();
        let password = password.to_string();
        let matched = self
            .bounded(move || {
                // A stored hash that does not parse matches nothing, after the same work.
                let usable = PasswordHash::new(&hash).is_ok();
                let target = if usable { hash } else { dummy };
                let matched = PasswordHash::new(&target)
                    .map(|p| Argon2::default().verify_password(password.as_bytes(), &p).is_ok())
                    .unwrap_or(false);
                usable && matched
            })
            .await?;
        Ok(known && matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_unknown_accounts_never_match() {
        let cost = HashCost { memory_kib: 1024, iterations: 1, parallelism: 1 };
        let p = Passwords::new(cost, 1).unwrap();
        let h = p.hash("一个足够长的密码abc").await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(p.verify("一个足够长的密码abc", Some(&h)).await.unwrap());
        assert!(!p.verify("另一个密码1234567", Some(&h)).await.unwrap());
        assert!(!p.verify("一个足够长的密码abc", None).await.unwrap());
        assert!(!p.verify("anything", Some("not a hash")).await.unwrap());
    }
}
