//! Findings (问题) with data-driven categories, and problem leads (问题线索) routed by category.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::authz::{Permission, Position};
use crate::command::Decision;
use crate::common::Meta;
use crate::error::{DomainError, DomainResult, ensure, required_text};
use crate::ids::*;
use crate::labels::Labelled;
use crate::model::*;
use crate::record::Record;
use crate::round::{require_groups_entered, round_of, target_of};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddCategory {
    pub code: String,
    pub name: String,
    pub group: CategoryGroup,
    pub route: LeadRoute,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordFinding {
    pub target: TargetId,
    pub category: String,
    pub tags: BTreeSet<String>,
    pub title: String,
    pub description: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandOverLead {
    pub finding: FindingId,
    pub summary: String,
    /// Overrides the category's route (e.g. a named functional department).
    pub receiver: Option<LeadReceiver>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcknowledgeLead {
    pub lead: LeadId,
    /// Who at the receiving body acknowledged it.
    pub by: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportLeadResult {
    pub lead: LeadId,
    pub result: String,
}

/// A county marks a lead for the city (otherwise only counts travel).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseLead {
    pub lead: LeadId,
}

/// When the seeded categories were made; fixed so every node seeds identical records.
pub fn seed_time() -> DateTime<Utc> {
    DateTime::from_timestamp(1_577_836_800, 0).expect("valid timestamp") // 2020-01-01
}

/// The standard categories: the three big problems, the six disciplines, the four styles with
/// the eight-point rules, and cadre selection. Owned by the city, present on every node.
pub fn seed_categories() -> Vec<Category> {
    use CategoryGroup::*;
    use LeadRoute::*;
    let rows: [(&str, &str, CategoryGroup, LeadRoute); 15] = [
        ("three.leadership", "党的领导弱化", ThreeBigProblems, FunctionalDepartment),
        ("three.party_building", "党的建设缺失", ThreeBigProblems, OrganisationDepartment),
        ("three.strict_governance", "全面从严治党不力", ThreeBigProblems, DisciplineCommission),
        ("discipline.political", "违反政治纪律", SixDisciplines, DisciplineCommission),
        ("discipline.organisational", "违反组织纪律", SixDisciplines, DisciplineCommission),
        ("discipline.integrity", "违反廉洁纪律", SixDisciplines, DisciplineCommission),
        ("discipline.mass", "违反群众纪律", SixDisciplines, DisciplineCommission),
        ("discipline.work", "违反工作纪律", SixDisciplines, DisciplineCommission),
        ("discipline.life", "违反生活纪律", SixDisciplines, DisciplineCommission),
        ("style.formalism", "形式主义", FourStyles, DisciplineCommission),
        ("style.bureaucratism", "官僚主义", FourStyles, DisciplineCommission),
        ("style.hedonism", "享乐主义", FourStyles, DisciplineCommission),
        ("style.extravagance", "奢靡之风", FourStyles, DisciplineCommission),
        ("style.eight_rules", "违反中央八项规定精神", FourStyles, DisciplineCommission),
        ("cadre.selection", "选人用人问题", CadreSelection, OrganisationDepartment),
    ];
    rows.into_iter()
        .map(|(code, name, group, route)| Category {
            code: code.into(),
            meta: Meta { owner: NodeId::city(), version: 1, updated_at: seed_time() },
            name: name.into(),
            group,
            route,
            active: true,
        })
        .collect()
}

fn valid_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 48
        && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_')
}

pub fn add_category(d: &mut Decision, c: &AddCategory) -> DomainResult<()> {
    d.authorize(Permission::CategoryManage, &Position::node(d.me))?;
    let code = c.code.trim();
    ensure(valid_code(code), || {
        DomainError::invalid("code", format!("「{code}」不是有效的类别代码(小写字母、数字、“.”和“_”)"))
    })?;
    ensure(!d.state.categories.contains_key(code), || DomainError::exists("code", format!("category '{code}'")))?;
    let name = required_text("name", &c.name, 32)?;
    let cat = Category {
        code: code.into(),
        meta: d.new_meta(),
        name: name.clone(),
        group: c.group,
        route: c.route,
        active: true,
    };
    d.save(Record::Category(cat), "category.added", format!("新增问题类别「{name}」({})", c.group.label_zh()), None);
    Ok(())
}

pub fn record_finding(d: &mut Decision, c: &RecordFinding) -> DomainResult<()> {
    let target = target_of(d, "target", c.target)?;
    d.authorize(Permission::FindingRecord, target)?;
    d.require_owned("target", &target.meta)?;
    let round = round_of(d, "target", target.round)?;
    require_groups_entered(round, "巡察组进驻后才能记录问题")?;
    ensure(target.feedback_on.is_none(), || {
        DomainError::precondition("target", "已向该单位反馈,新发现的问题请在以后的轮次记录")
    })?;
    let category = d
        .state
        .categories
        .get(c.category.trim())
        .filter(|x| x.active)
        .ok_or_else(|| DomainError::invalid("category", format!("没有“{}”这个问题类别", c.category)))?;
    let mut tags = BTreeSet::new();
    for (i, t) in c.tags.iter().enumerate() {
        tags.insert(required_text(&format!("tags[{i}]"), t, 32)?);
    }
    let title = required_text("title", &c.title, 120)?;
    let description = required_text("description", &c.description, 4000)?;
    let own = d.state.findings.values().filter(|f| &f.meta.owner == d.me).map(|f| &f.reference);
    let reference = Reference::next(own, chrono::Datelike::year(&d.today));
    let finding = Finding {
        id: d.fresh_id(),
        meta: d.new_meta(),
        reference,
        target: target.id,
        round: round.id,
        unit: target.unit,
        category: category.code.clone(),
        tags,
        title: title.clone(),
        description,
        status: FindingStatus::Recorded,
    };
    d.save(Record::Finding(finding), "finding.recorded", format!("发现问题「{title}」({})", category.name), None);
    Ok(())
}

/// Where a lead of this category goes by default.
pub fn route_for(category: &Category) -> LeadReceiver {
    match category.route {
        LeadRoute::DisciplineCommission => LeadReceiver::DisciplineCommission,
        LeadRoute::OrganisationDepartment => LeadReceiver::OrganisationDepartment,
        LeadRoute::FunctionalDepartment => LeadReceiver::Department("有关职能部门".into()),
    }
}

pub fn hand_over_lead(d: &mut Decision, c: &HandOverLead) -> DomainResult<()> {
    let finding = finding_of(d, c.finding)?;
    d.authorize(Permission::LeadHandOver, finding)?;
    d.require_owned("finding", &finding.meta)?;
    let summary = required_text("summary", &c.summary, 2000)?;
    let category = d.state.categories.get(&finding.category);
    let receiver = match (&c.receiver, category) {
        (Some(LeadReceiver::Department(name)), _) => LeadReceiver::Department(required_text("receiver", name, 64)?),
        (Some(r), _) => r.clone(),
        (None, Some(cat)) => route_for(cat),
        (None, None) => {
            return Err(DomainError::invalid("receiver", "问题类别不明,请指定线索接收单位"));
        }
    };
    let target = target_of(d, "finding", finding.target)?;
    let lead = Lead {
        id: d.fresh_id(),
        meta: d.new_meta(),
        finding: finding.id,
        target: finding.target,
        round: finding.round,
        receiver: receiver.clone(),
        summary,
        status: LeadStatus::HandedOver,
        handed_over_on: d.today,
        acknowledged_by: None,
        result: None,
        released_to_city: false,
    };
    d.save(Record::Lead(lead), "lead.handed_over", format!("移交问题线索至{}", receiver.label_zh()), None);
    let mut nt = target.clone();
    nt.meta = d.next_meta(&target.meta);
    nt.lead_count += 1;
    d.save(Record::Target(nt), "target.lead_counted", format!("问题线索数{}", target.lead_count + 1), None);
    Ok(())
}

pub fn finding_of<'s>(d: &Decision<'s>, id: FindingId) -> DomainResult<&'s Finding> {
    d.state.findings.get(&id).ok_or_else(|| DomainError::not_found("finding", format!("问题{id}")))
}

fn lead_of<'s>(d: &Decision<'s>, id: LeadId) -> DomainResult<&'s Lead> {
    let lead = d.state.leads.get(&id).ok_or_else(|| DomainError::not_found("lead", format!("线索{id}")))?;
    d.require_owned("lead", &lead.meta)?;
    Ok(lead)
}

pub fn acknowledge_lead(d: &mut Decision, c: &AcknowledgeLead) -> DomainResult<()> {
    let lead = lead_of(d, c.lead)?;
    d.authorize(Permission::LeadReceive, lead)?;
    ensure(lead.status == LeadStatus::HandedOver, || {
        DomainError::precondition("lead", format!("该线索{}", lead.status.label_zh()))
    })?;
    let by = required_text("by", &c.by, 64)?;
    let mut next = lead.clone();
    next.meta = d.next_meta(&lead.meta);
    next.status = LeadStatus::Acknowledged;
    next.acknowledged_by = Some(by.clone());
    d.save(Record::Lead(next), "lead.acknowledged", format!("{}({by})接收问题线索", lead.receiver.label_zh()), None);
    Ok(())
}

pub fn report_lead_result(d: &mut Decision, c: &ReportLeadResult) -> DomainResult<()> {
    let lead = lead_of(d, c.lead)?;
    d.authorize(Permission::LeadReceive, lead)?;
    ensure(lead.status == LeadStatus::Acknowledged, || {
        DomainError::precondition("lead", format!("该线索{},须先登记接收", lead.status.label_zh()))
    })?;
    let result = required_text("result", &c.result, 2000)?;
    let mut next = lead.clone();
    next.meta = d.next_meta(&lead.meta);
    next.status = LeadStatus::ResultReported;
    next.result = Some(result);
    d.save(Record::Lead(next), "lead.result_reported", format!("{}反馈线索处置结果", lead.receiver.label_zh()), None);
    Ok(())
}

pub fn release_lead(d: &mut Decision, c: &ReleaseLead) -> DomainResult<()> {
    d.require_county("向市委巡察办移交线索")?;
    let lead = lead_of(d, c.lead)?;
    d.authorize(Permission::LeadRelease, lead)?;
    ensure(!lead.released_to_city, || DomainError::precondition("lead", "该线索已报送市委巡察办"))?;
    let mut next = lead.clone();
    next.meta = d.next_meta(&lead.meta);
    next.released_to_city = true;
    d.save(Record::Lead(next), "lead.released", "问题线索报送市委巡察办".into(), None);
    Ok(())
}
