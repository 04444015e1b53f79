//! Categories and findings.

use xuncha_domain::DomainResult;
use xuncha_domain::finding::{AddCategory, RecordFinding};
use xuncha_domain::model::{Category, CategoryGroup, Finding, FindingStatus, LeadRoute};
use xuncha_proto::v1 as pb;

use super::{FromPb, ToPb, enum_conv, id};

enum_conv!(
    pb::CategoryGroup,
    CategoryGroup,
    "category group",
    [ThreeBigProblems, SixDisciplines, FourStyles, CadreSelection, Other]
);
enum_conv!(
    pb::LeadRoute,
    LeadRoute,
    "lead route",
    [DisciplineCommission, OrganisationDepartment, FunctionalDepartment]
);
enum_conv!(pb::FindingStatus, FindingStatus, "finding status", [Recorded, FedBack, Rectifying, SignedOff]);

impl ToPb for Category {
    type Pb = pb::Category;
    fn to_pb(&self) -> pb::Category {
        pb::Category {
            code: self.code.clone(),
            meta: self.meta.to_pb(),
            name: self.name.clone(),
            group: self.group.to_pb(),
            route: self.route.to_pb(),
            active: self.active,
        }
    }
}

/// The word a finding's number is cited with.
pub const FINDING_WORD: &str = "问题";

impl ToPb for Finding {
    type Pb = pb::Finding;
    fn to_pb(&self) -> pb::Finding {
        pb::Finding {
            id: self.id.to_string(),
            reference: self.reference.cite(FINDING_WORD),
            meta: self.meta.to_pb(),
            target: self.target.to_string(),
            round: self.round.to_string(),
            unit: self.unit.to_string(),
            category: self.category.clone(),
            tags: self.tags.iter().cloned().collect(),
            title: self.title.clone(),
            description: self.description.clone(),
            status: self.status.to_pb(),
        }
    }
}

pub fn add_category(r: &pb::AddCategoryRequest) -> DomainResult<AddCategory> {
    Ok(AddCategory {
        code: r.code.clone(),
        name: r.name.clone(),
        group: CategoryGroup::from_pb("group", r.group)?,
        route: LeadRoute::from_pb("route", r.route)?,
    })
}

pub fn record_finding(r: &pb::RecordFindingRequest) -> DomainResult<RecordFinding> {
    Ok(RecordFinding {
        target: id("target", &r.target)?,
        category: r.category.clone(),
        tags: r.tags.iter().cloned().collect(),
        title: r.title.clone(),
        description: r.description.clone(),
    })
}
