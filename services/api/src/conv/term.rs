//! Terms and their plans.

use xuncha_domain::DomainResult;
use xuncha_domain::model::Term;
use xuncha_domain::term::{CreateTerm, PlanUnits};
use xuncha_proto::v1 as pb;

use super::common::window;
use super::{ToPb, id, ids};

impl ToPb for Term {
    type Pb = pb::Term;
    fn to_pb(&self) -> pb::Term {
        pb::Term {
            id: self.id.to_string(),
            meta: self.meta.to_pb(),
            name: self.name.clone(),
            window: self.window.to_pb(),
            planned_units: self.planned_units.iter().map(|u| u.to_string()).collect(),
        }
    }
}

pub fn create_term(r: &pb::CreateTermRequest) -> DomainResult<CreateTerm> {
    Ok(CreateTerm { name: r.name.clone(), window: window("window", &r.window)? })
}

pub fn plan_units(r: &pb::PlanUnitsRequest) -> DomainResult<PlanUnits> {
    Ok(PlanUnits { term: id("term", &r.term)?, add: ids("add", &r.add)?, remove: ids("remove", &r.remove)? })
}
