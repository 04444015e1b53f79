//! Units.

use xuncha_domain::DomainResult;
use xuncha_domain::model::{Unit, UnitKind};
use xuncha_domain::term::RegisterUnit;
use xuncha_proto::v1 as pb;

use super::{FromPb, ToPb, enum_conv, opt_id};

enum_conv!(
    pb::UnitKind,
    UnitKind,
    "unit kind",
    [CityDepartment, StateEnterprise, CountyDepartment, Township, Village, Community, Other]
);

impl ToPb for Unit {
    type Pb = pb::Unit;
    fn to_pb(&self) -> pb::Unit {
        pb::Unit {
            id: self.id.to_string(),
            meta: self.meta.to_pb(),
            name: self.name.clone(),
            kind: self.kind.to_pb(),
            parent: self.parent.map(|p| p.to_string()).unwrap_or_default(),
        }
    }
}

pub fn register_unit(r: &pb::RegisterUnitRequest) -> DomainResult<RegisterUnit> {
    Ok(RegisterUnit {
        name: r.name.clone(),
        kind: UnitKind::from_pb("kind", r.kind)?,
        parent: opt_id("parent", &r.parent)?,
    })
}
