//! Actors, record metadata, date windows.

use xuncha_domain::common::{DateWindow, Meta};
use xuncha_domain::{Actor, DomainError, DomainResult};
use xuncha_proto::v1 as pb;

use super::{ToPb, date, timestamp};

impl ToPb for Actor {
    type Pb = pb::Actor;
    fn to_pb(&self) -> pb::Actor {
        pb::Actor {
            account: self.account.map(|a| a.to_string()).unwrap_or_default(),
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            role: self.role.map(|r| r.code().to_string()).unwrap_or_default(),
            role_label: self.role.map(|r| r.label_zh().to_string()).unwrap_or_default(),
        }
    }
}

impl ToPb for Meta {
    type Pb = Option<pb::RecordMeta>;
    fn to_pb(&self) -> Option<pb::RecordMeta> {
        Some(pb::RecordMeta {
            owner: self.owner.to_string(),
            version: self.version,
            updated_at: Some(timestamp(self.updated_at)),
        })
    }
}

impl ToPb for DateWindow {
    type Pb = Option<pb::DateWindow>;
    fn to_pb(&self) -> Option<pb::DateWindow> {
        Some(pb::DateWindow { from: self.from.to_string(), to: self.to.to_string() })
    }
}

/// A required, ordered date window.
pub fn window(field: &str, w: &Option<pb::DateWindow>) -> DomainResult<DateWindow> {
    let w = w.as_ref().ok_or_else(|| DomainError::invalid(field, "is required"))?;
    DateWindow::new(field, date(&format!("{field}.from"), &w.from)?, date(&format!("{field}.to"), &w.to)?)
}
