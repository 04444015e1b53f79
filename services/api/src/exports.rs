//! Rows of the tables people export (XLSX), shared by the gRPC export and the web app.

use xuncha_domain::labels::Labelled;
use xuncha_domain::rectification::is_overdue;
use xuncha_domain::{NodeId, Permission, Principal};

use crate::tabular::{ExportError, SheetWriter};

/// The columns of an exported 整改台账.
pub const RECTIFICATION_COLUMNS: [&str; 13] = [
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
    sheet: &mut SheetWriter,
) -> Result<(), ExportError> {
    let name = |u| s.units.get(&u).map(|x: &xuncha_domain::model::Unit| x.name.clone()).unwrap_or_default();
    let mut items: Vec<_> =
        s.rectifications.values().filter(|i| who.may(s, Permission::RectificationRead, *i)).collect();
    items.sort_by_key(|i| (i.meta.owner.clone(), i.round, i.unit, i.deadline));
    for i in items {
        let finding = s.findings.get(&i.finding);
        sheet.push(&[
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
