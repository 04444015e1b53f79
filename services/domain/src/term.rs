//! Terms (届), the term plan (巡察规划) and the units that can be inspected.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::authz::{Permission, Position};
use crate::command::Decision;
use crate::common::DateWindow;
use crate::error::{DomainError, DomainResult, ensure, required_text};
use crate::ids::{TermId, UnitId};
use crate::model::{Term, Unit, UnitKind};
use crate::record::Record;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTerm {
    pub name: String,
    pub window: DateWindow,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanUnits {
    pub term: TermId,
    pub add: Vec<UnitId>,
    pub remove: Vec<UnitId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterUnit {
    pub name: String,
    pub kind: UnitKind,
    pub parent: Option<UnitId>,
}

pub fn create_term(d: &mut Decision, c: &CreateTerm) -> DomainResult<()> {
    d.authorize(Permission::PlanManage, &Position::node(d.me))?;
    let name = required_text("name", &c.name, 64)?;
    ensure(c.window.from < c.window.to, || DomainError::invalid("window", "届期的结束日期应晚于开始日期"))?;
    ensure(!d.state.terms.values().any(|t| &t.meta.owner == d.me && t.name == name), || {
        DomainError::exists("name", format!("term '{name}'"))
    })?;
    let term = Term {
        id: d.fresh_id(),
        meta: d.new_meta(),
        name: name.clone(),
        window: c.window,
        planned_units: BTreeSet::new(),
    };
    d.save(Record::Term(term), "term.created", format!("新建届次「{name}」"), None);
    Ok(())
}

pub fn plan_units(d: &mut Decision, c: &PlanUnits) -> DomainResult<()> {
    let term = d.state.terms.get(&c.term).ok_or_else(|| DomainError::not_found("term", format!("届次{}", c.term)))?;
    d.authorize(Permission::PlanManage, term)?;
    d.require_owned("term", &term.meta)?;
    ensure(!c.add.is_empty() || !c.remove.is_empty(), || {
        DomainError::invalid("add", "请至少选择一个要增加或移出的单位")
    })?;
    for (i, u) in c.add.iter().enumerate() {
        let unit =
            d.state.units.get(u).ok_or_else(|| DomainError::not_found(format!("add[{i}]"), format!("单位{u}")))?;
        ensure(&unit.meta.owner == d.me, || {
            DomainError::invalid(
                format!("add[{i}]"),
                format!("「{}」属于{},不在本级规划中", unit.name, unit.meta.owner),
            )
        })?;
    }
    for (i, u) in c.remove.iter().enumerate() {
        ensure(term.planned_units.contains(u), || {
            DomainError::invalid(format!("remove[{i}]"), format!("单位{u}不在规划内"))
        })?;
    }
    let mut next = term.clone();
    next.meta = d.next_meta(&term.meta);
    next.planned_units.extend(c.add.iter().copied());
    for u in &c.remove {
        next.planned_units.remove(u);
    }
    let summary = format!(
        "调整「{}」巡察规划:新增{}个单位,移出{}个单位,共{}个",
        term.name,
        c.add.len(),
        c.remove.len(),
        next.planned_units.len()
    );
    d.save(Record::Term(next), "term.plan_changed", summary, None);
    Ok(())
}

pub fn register_unit(d: &mut Decision, c: &RegisterUnit) -> DomainResult<()> {
    d.authorize(Permission::PlanManage, &Position::node(d.me))?;
    let name = required_text("name", &c.name, 80)?;
    let city_kind = matches!(c.kind, UnitKind::CityDepartment | UnitKind::StateEnterprise);
    let county_kind =
        matches!(c.kind, UnitKind::CountyDepartment | UnitKind::Township | UnitKind::Village | UnitKind::Community);
    if d.me.is_city() && county_kind {
        return Err(DomainError::invalid("kind", "市委巡察办只登记市级单位,县级单位由所在县(市、区)登记"));
    }
    if !d.me.is_city() && city_kind {
        return Err(DomainError::invalid("kind", "县(市、区)只登记本级单位,市级单位由市委巡察办登记"));
    }
    ensure(!d.state.units.values().any(|u| &u.meta.owner == d.me && u.name == name), || {
        DomainError::exists("name", format!("unit '{name}'"))
    })?;
    if let Some(p) = c.parent {
        let parent = d.state.units.get(&p).ok_or_else(|| DomainError::not_found("parent", format!("单位{p}")))?;
        ensure(&parent.meta.owner == d.me, || DomainError::invalid("parent", "上级单位须由本级登记"))?;
    }
    let unit = Unit { id: d.fresh_id(), meta: d.new_meta(), name: name.clone(), kind: c.kind, parent: c.parent };
    d.save(Record::Unit(unit), "unit.registered", format!("登记被巡察单位「{name}」"), None);
    Ok(())
}
