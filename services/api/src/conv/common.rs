//! Actors, record metadata, date windows.

use xuncha_domain::common::{DateWindow, Meta};
use xuncha_domain::{Actor, DomainError, DomainResult, Role};
use xuncha_proto::v1 as pb;

use super::{FromPb, ToPb, date, enum_conv, timestamp};

enum_conv!(pb::Role, Role, "role", [Office, Group, Unit, DisciplineCommission, OrganisationDepartment, Operator]);

/// The acting person of a write request.
pub fn actor(a: &Option<pb::Actor>) -> DomainResult<Actor> {
    let a = a.as_ref().ok_or_else(|| DomainError::invalid("actor", "is required: who is acting"))?;
    Actor::new(&a.name, Role::from_pb("actor.role", a.role)?)
}

impl ToPb for Actor {
    type Pb = pb::Actor;
    fn to_pb(&self) -> pb::Actor {
        pb::Actor { name: self.name.clone(), role: self.role.to_pb() }
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
