//! Revoked certificates: a deny list of SHA-256 fingerprints (of the certificate's DER), one per
//! line, `#` starting a comment, re-read while the node runs. A call presenting a listed
//! certificate is refused (PERMISSION_DENIED naming the fingerprint) from the next reload on,
//! on connections already open too: the list is checked on every call, not per handshake.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use sha2::{Digest, Sha256};

/// How often the list is re-read.
pub const RELOAD_EVERY: Duration = Duration::from_secs(2);

/// Set on a refusal for a revoked certificate: the caller's identity is refused, not what it
/// sent, so it may try again once its certificate is renewed (which it picks up unrestarted).
pub const REVOKED_METADATA: &str = "xuncha-certificate-revoked";

/// The fingerprints currently refused. Clones share the list.
#[derive(Clone, Debug, Default)]
pub struct Revoked(Arc<RwLock<HashSet<String>>>);

/// The fingerprint of a certificate as the list holds it: lowercase hex, no separators.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der).iter().map(|b| format!("{b:02x}")).collect()
}

/// The fingerprints in a list's text, and the lines that are not one (line number, text).
pub fn parse_list(text: &str) -> (HashSet<String>, Vec<(usize, String)>) {
    let mut out = HashSet::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let entry = line.split('#').next().unwrap_or_default().trim();
        if entry.is_empty() {
            continue;
        }
        let hex: String = entry.trim_start_matches("sha256:").chars().filter(|c| *c != ':').collect();
        let hex = hex.to_ascii_lowercase();
        if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            out.insert(hex);
        } else {
            bad.push((i + 1, line.to_string()));
        }
    }
    (out, bad)
}

impl Revoked {
    /// Reads `path` now and again every [`RELOAD_EVERY`] until the last clone is dropped. A
    /// missing file is an empty list; a line that is no fingerprint is logged and skipped (the
    /// others still apply).
    pub fn watch(path: PathBuf) -> Self {
        let revoked = Self::default();
        revoked.reload(&path);
        let weak: Weak<RwLock<HashSet<String>>> = Arc::downgrade(&revoked.0);
        tokio::spawn(async move {
            let mut last = std::fs::read(&path).ok();
            loop {
                tokio::time::sleep(RELOAD_EVERY).await;
                let Some(inner) = weak.upgrade() else { return };
                let now = std::fs::read(&path).ok();
                if now != last {
                    Revoked(inner).reload(&path);
                    last = now;
                }
            }
        });
        revoked
    }

    fn reload(&self, path: &Path) {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "cannot read the revocation list; keeping the last one");
                return;
            }
        };
        let (list, bad) = parse_list(&text);
        for (line, text) in &bad {
            tracing::warn!(path = %path.display(), line, text = %text, "not a SHA-256 fingerprint; skipped");
        }
        tracing::info!(path = %path.display(), revoked = list.len(), "revocation list loaded");
        *self.0.write().expect("revocation lock") = list;
    }

    /// Whether the certificate (DER) is listed.
    pub fn refuses(&self, der: &[u8]) -> Option<String> {
        let list = self.0.read().expect("revocation lock");
        if list.is_empty() {
            return None;
        }
        let print = fingerprint(der);
        list.contains(&print).then_some(print)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_take_hex_with_or_without_colons_and_skip_what_is_not() {
        let a = "ab".repeat(32);
        let colons = ["CD"; 32].join(":");
        let text = format!("# revoked\n{a}  # county-x, stolen laptop\nsha256:{colons}\n\nnot-a-print\n");
        let (list, bad) = parse_list(&text);
        assert_eq!(list, HashSet::from([a, "cd".repeat(32)]));
        assert_eq!(bad, vec![(5, "not-a-print".to_string())]);
    }
}
