//! Rows of the tables people export (XLSX), shared by the gRPC export and the web app.

use xuncha_domain::authz::{Scope, permits};
use xuncha_domain::labels::Labelled;
use xuncha_domain::rectification::is_overdue;
use xuncha_domain::{NodeId, Permission, Principal};

use crate::tabular::{ExportError, RowSink};

/// The columns of an exported 整改台账.
pub const RECTIFICATION_COLUMNS: [&str; 14] = [
    "编号",
    "节点",
    "轮次",
    "被巡察单位",
    "问题",
    "问题类别",
    "类型",
    "整改措施",
    "责任单位",
    "责任人",
    "整改期限",
    "状态",
    "逾期",
    "销号",
];

/// A node as an office calls it, when no configured name is at hand: the city's office by
/// name, a county by its code.
pub fn node_label(node: &NodeId) -> String {
    match node.county_code() {
        Some(code) => code.to_string(),
        None => "市委巡察办".to_string(),
    }
}

/// Writes the rectification items `who` may read, by node, round, unit and deadline.
pub fn rectification_rows(
    s: &xuncha_domain::State,
    who: &Principal,
    today: chrono::NaiveDate,
    node_name: &dyn Fn(&NodeId) -> String,
    sheet: &mut dyn RowSink,
) -> Result<(), ExportError> {
    let name = |u| s.units.get(&u).map(|x: &xuncha_domain::model::Unit| x.name.clone()).unwrap_or_default();
    let mut items: Vec<_> =
        s.rectifications.values().filter(|i| who.may(s, Permission::RectificationRead, *i)).collect();
    items.sort_by_key(|i| (i.meta.owner.clone(), i.round, i.unit, i.deadline));
    for i in items {
        let finding = s.findings.get(&i.finding);
        sheet.push_row(&[
            i.reference.cite(crate::conv::rectification::RECTIFICATION_WORD),
            node_name(&i.meta.owner),
            s.rounds.get(&i.round).map(|r| r.name.clone()).unwrap_or_default(),
            name(i.unit),
            finding.map(|f| f.title.clone()).unwrap_or_default(),
            finding.and_then(|f| s.categories.get(&f.category)).map(|c| c.name.clone()).unwrap_or_default(),
            i.kind.label_zh().to_string(),
            i.measures.join(";"),
            i.responsible_unit.clone(),
            i.responsible_person.clone().unwrap_or_default(),
            i.deadline.to_string(),
            i.status.label_zh().to_string(),
            if is_overdue(i, today) { format!("逾期{}天", (today - i.deadline).num_days()) } else { String::new() },
            i.sign_off.as_ref().map(|x| format!("{} {}", x.on, x.by)).unwrap_or_default(),
        ])?;
    }
    Ok(())
}

/// The columns of an exported 台账.
pub const LEDGER_COLUMNS: [&str; 9] = ["时间", "节点", "操作人", "角色", "对象", "事项", "原因", "动作", "对象编号"];

/// The counties a ledger reader may see: `None` for all (a city-wide grant or the node's own
/// office on a county), else the counties their `ledger.read` grants name.
pub fn ledger_counties(who: &Principal, me: &NodeId) -> Option<Vec<String>> {
    let grants = || who.grants.iter().filter(|g| permits(g.role, Permission::LedgerRead));
    if grants().any(|g| g.scope == Scope::City) {
        return None;
    }
    let counties: Vec<xuncha_domain::ids::CountyCode> = grants()
        .filter_map(|g| match &g.scope {
            Scope::County(c) => Some(c.clone()),
            _ => None,
        })
        .collect();
    // On a county node its own office reads its whole ledger; everyone else only their counties.
    if me.county_code().is_some_and(|c| counties.iter().any(|x| *x == c)) {
        None
    } else {
        Some(counties.iter().map(ToString::to_string).collect())
    }
}

/// One event as a ledger export row (times in the office's zone, UTC+8).
pub fn ledger_row(e: &xuncha_domain::LedgerEvent) -> Vec<String> {
    let office = chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
    vec![
        e.at.with_timezone(&office).format("%Y-%m-%d %H:%M:%S").to_string(),
        e.node.to_string(),
        e.actor.display_name.clone(),
        e.actor.role.map(|r| r.label_zh().to_string()).unwrap_or_default(),
        e.subject_kind.label_zh().to_string(),
        e.summary.clone(),
        e.reason.clone().unwrap_or_default(),
        e.action.clone(),
        e.subject_id.clone(),
    ]
}
