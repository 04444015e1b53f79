//! The signed-in sessions of this user: one token per node address, in a file only the user
//! can read (`~/.config/xuncha/tokens.json`, or `XUNCHA_TOKENS`).

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// One session.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Saved {
    pub token: String,
    pub username: String,
    pub display_name: String,
    /// RFC 3339.
    pub expires_at: String,
}

/// Where tokens are kept by default.
pub fn default_path() -> PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("xuncha").join("tokens.json")
}

pub struct TokenStore {
    path: PathBuf,
}

impl TokenStore {
    pub fn new(path: &Path) -> Self {
        Self { path: path.to_path_buf() }
    }

    fn read(&self) -> anyhow::Result<BTreeMap<String, Saved>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| format!("reading {}", self.path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(e).with_context(|| format!("reading {}", self.path.display())),
        }
    }

    fn write(&self, all: &BTreeMap<String, Saved>) -> anyhow::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
        let tmp = self.path.with_extension("json.tmp");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(serde_json::to_string_pretty(all)?.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &self.path).with_context(|| format!("writing {}", self.path.display()))
    }

    /// The session saved for `node`.
    pub fn get(&self, node: &str) -> anyhow::Result<Option<Saved>> {
        Ok(self.read()?.remove(node))
    }

    pub fn put(&self, node: &str, saved: Saved) -> anyhow::Result<()> {
        let mut all = self.read()?;
        all.insert(node.to_string(), saved);
        self.write(&all)
    }

    pub fn remove(&self, node: &str) -> anyhow::Result<()> {
        let mut all = self.read()?;
        if all.remove(node).is_some() {
            self.write(&all)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_kept_per_node_in_a_file_only_the_user_reads() {
        let dir = std::env::temp_dir().join(format!("xuncha-tokens-{}", std::process::id()));
        let store = TokenStore::new(&dir.join("tokens.json"));
        let saved = Saved {
            token: "xct_1".into(),
            username: "head".into(),
            display_name: "赵".into(),
            expires_at: String::new(),
        };
        store.put("127.0.0.1:1", saved.clone()).unwrap();
        assert_eq!(store.get("127.0.0.1:1").unwrap(), Some(saved));
        assert_eq!(store.get("127.0.0.1:2").unwrap(), None);
        let mode = std::fs::metadata(dir.join("tokens.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "tokens readable by others: {mode:o}");
        store.remove("127.0.0.1:1").unwrap();
        assert_eq!(store.get("127.0.0.1:1").unwrap(), None);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
