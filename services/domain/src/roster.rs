//! The talent pool (巡察人才库): adding, updating and importing persons.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::authz::{Permission, Position};
use crate::command::Decision;
use crate::common::DateWindow;
use crate::error::{DomainError, DomainResult, ensure, required_text};
use crate::ids::{CountyCode, PersonId, UnitId};
use crate::labels::Labelled;
use crate::model::*;
use crate::record::Record;
use crate::state::State;

/// Everything about a person that staff enter; validated into a [`Person`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonDraft {
    pub name: String,
    pub gender: Option<Gender>,
    pub birth_year: i32,
    pub rank: Rank,
    pub source: PoolSource,
    pub work_unit: String,
    pub home_unit: Option<UnitId>,
    pub past_posts: Vec<PastPost>,
    pub declared_conflicts: BTreeSet<UnitId>,
    pub specialties: BTreeSet<Specialty>,
    pub leader_qualified: bool,
    pub active: bool,
    pub unavailable: Vec<DateWindow>,
    pub from_county: Option<CountyCode>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddPerson {
    pub person: PersonDraft,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdatePerson {
    pub id: PersonId,
    pub person: PersonDraft,
}

/// All-or-nothing import of many persons (from a CSV or XLSX file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportPersons {
    pub persons: Vec<PersonDraft>,
}

/// Checks a draft against the state; `prefix` is prepended to field names (`persons[3].`).
pub fn validate_draft(
    state: &State,
    me_is_city: bool,
    today: NaiveDate,
    prefix: &str,
    draft: &PersonDraft,
) -> DomainResult<PersonDraft> {
    let f = |name: &str| format!("{prefix}{name}");
    let mut p = draft.clone();
    p.name = required_text(&f("name"), &draft.name, 32)?;
    p.work_unit = required_text(&f("work_unit"), &draft.work_unit, 80)?;
    let youngest = today.year() - 18;
    ensure((1940..=youngest).contains(&draft.birth_year), || {
        DomainError::invalid(f("birth_year"), format!("出生年份{}不合理(应在1940至{youngest}年之间)", draft.birth_year))
    })?;
    let known_unit = |field: String, u: &UnitId| -> DomainResult<()> {
        ensure(state.units.contains_key(u), || DomainError::not_found(field, format!("单位{u}")))
    };
    if let Some(u) = &draft.home_unit {
        known_unit(f("home_unit"), u)?;
    }
    for (i, post) in draft.past_posts.iter().enumerate() {
        known_unit(f(&format!("past_posts[{i}].unit")), &post.unit)?;
    }
    for (i, u) in draft.declared_conflicts.iter().enumerate() {
        known_unit(f(&format!("declared_conflicts[{i}]")), u)?;
    }
    let mut windows = draft.unavailable.clone();
    windows.sort();
    for (i, w) in windows.iter().enumerate() {
        DateWindow::new(&f(&format!("unavailable[{i}]")), w.from, w.to)?;
    }
    p.unavailable = windows;
    if draft.from_county.is_some() {
        ensure(me_is_city, || DomainError::invalid(f("from_county"), "只有市级人才库登记从县里抽调的人员"))?;
    }
    Ok(p)
}

fn person_from(d: &Decision, id: PersonId, p: PersonDraft) -> Person {
    Person {
        id,
        meta: d.new_meta(),
        name: p.name,
        gender: p.gender,
        birth_year: p.birth_year,
        rank: p.rank,
        source: p.source,
        work_unit: p.work_unit,
        home_unit: p.home_unit,
        past_posts: p.past_posts,
        declared_conflicts: p.declared_conflicts,
        specialties: p.specialties,
        leader_qualified: p.leader_qualified,
        active: p.active,
        unavailable: p.unavailable,
        from_county: p.from_county,
    }
}

/// A person already in this node's pool with the same name, birth year and work unit.
fn duplicate_of<'s>(state: &'s State, d: &Decision, p: &PersonDraft) -> Option<&'s Person> {
    state.persons.values().find(|x| {
        &x.meta.owner == d.me && x.name == p.name && x.birth_year == p.birth_year && x.work_unit == p.work_unit
    })
}

pub fn add_person(d: &mut Decision, c: &AddPerson) -> DomainResult<()> {
    d.authorize(Permission::PoolManage, &Position::node(d.me))?;
    let p = validate_draft(d.state, d.me.is_city(), d.today, "person.", &c.person)?;
    if let Some(x) = duplicate_of(d.state, d, &p) {
        return Err(DomainError::exists(
            "person",
            format!("{} ({}, {}) as {}", x.name, x.birth_year, x.work_unit, x.id),
        ));
    }
    let id = d.fresh_id();
    let summary = format!("{}入库({},{})", p.name, p.work_unit, p.rank.label_zh());
    let person = person_from(d, id, p);
    d.save(Record::Person(person), "person.added", summary, None);
    Ok(())
}

pub fn update_person(d: &mut Decision, c: &UpdatePerson) -> DomainResult<()> {
    let old = d.state.persons.get(&c.id).ok_or_else(|| DomainError::not_found("id", format!("人员{}", c.id)))?;
    d.authorize(Permission::PoolManage, old)?;
    d.require_owned("id", &old.meta)?;
    let p = validate_draft(d.state, d.me.is_city(), d.today, "person.", &c.person)?;
    let mut next = person_from(d, c.id, p);
    next.meta = d.next_meta(&old.meta);
    let summary = if old.active && !next.active {
        format!("{}出库(停用)", next.name)
    } else {
        format!("更新人才库人员{}", next.name)
    };
    d.save(Record::Person(next), "person.updated", summary, None);
    Ok(())
}

pub fn import_persons(d: &mut Decision, c: &ImportPersons) -> DomainResult<()> {
    d.authorize(Permission::PoolManage, &Position::node(d.me))?;
    ensure(!c.persons.is_empty(), || DomainError::invalid("persons", "导入的文件没有数据行"))?;
    let mut validated = Vec::with_capacity(c.persons.len());
    let mut seen = BTreeSet::new();
    for (i, draft) in c.persons.iter().enumerate() {
        let p = validate_draft(d.state, d.me.is_city(), d.today, &format!("persons[{i}]."), draft)?;
        if let Some(x) = duplicate_of(d.state, d, &p) {
            return Err(DomainError::exists(
                format!("persons[{i}]"),
                format!("{} ({}) as {}", x.name, x.work_unit, x.id),
            ));
        }
        ensure(seen.insert((p.name.clone(), p.birth_year, p.work_unit.clone())), || {
            DomainError::invalid(format!("persons[{i}]"), format!("{}在导入中重复出现", p.name))
        })?;
        validated.push(p);
    }
    let total = validated.len();
    for p in validated {
        let id = d.fresh_id();
        let summary = format!("{}批量入库({})", p.name, p.work_unit);
        let person = person_from(d, id, p);
        d.save(Record::Person(person), "person.imported", summary, Some(format!("批量导入,共{total}人")));
    }
    Ok(())
}

/// One problem with one row of an imported file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    /// Row number as a spreadsheet shows it (the header is row 1).
    pub row: usize,
    pub column: String,
    pub reason: String,
}

/// The columns of a talent-pool file: (canonical name, Chinese header, required).
pub const ROSTER_COLUMNS: &[(&str, &str, bool)] = &[
    ("name", "姓名", true),
    ("gender", "性别", false),
    ("birth_year", "出生年份", true),
    ("rank", "职级", true),
    ("source", "来源", true),
    ("work_unit", "工作单位", true),
    ("specialties", "专长", false),
    ("leader", "组长库", false),
    ("conflicts", "回避单位", false),
    ("from_county", "来自县", false),
];

/// Reads a talent-pool table (header row + data rows, as text) into drafts. Every row is
/// checked; if any row has a problem the whole file is refused with the list of problems.
pub fn parse_roster(
    state: &State,
    me_is_city: bool,
    today: NaiveDate,
    header: &[String],
    rows: &[Vec<String>],
) -> Result<Vec<PersonDraft>, Vec<RowError>> {
    let mut errors = Vec::new();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, h) in header.iter().enumerate() {
        let h = h.trim();
        match ROSTER_COLUMNS.iter().find(|(en, zh, _)| h == *zh || h.eq_ignore_ascii_case(en)) {
            Some((en, _, _)) => {
                index.insert(en, i);
            }
            None if h.is_empty() => {}
            None => errors.push(RowError { row: 1, column: h.to_string(), reason: "不认识的列名".into() }),
        }
    }
    for (en, zh, required) in ROSTER_COLUMNS {
        if *required && !index.contains_key(en) {
            errors.push(RowError { row: 1, column: zh.to_string(), reason: "缺少必填的列".into() });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if rows.is_empty() {
        return Err(vec![RowError { row: 2, column: String::new(), reason: "文件没有数据行".into() }]);
    }
    let units_by_name: BTreeMap<&str, UnitId> = state.units.values().map(|u| (u.name.as_str(), u.id)).collect();
    let mut drafts = Vec::new();
    let mut seen = BTreeSet::new();
    for (r, row) in rows.iter().enumerate() {
        let row_no = r + 2;
        let row_start = errors.len();
        let cell = |en: &str| -> &str { index.get(en).and_then(|&i| row.get(i)).map(|s| s.trim()).unwrap_or("") };
        let mut err = |column: &str, reason: String| {
            let zh = ROSTER_COLUMNS.iter().find(|(en, _, _)| *en == column).map(|c| c.1).unwrap_or(column);
            errors.push(RowError { row: row_no, column: zh.to_string(), reason });
        };
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let name = cell("name").to_string();
        if name.is_empty() {
            err("name", "不能为空".into());
        }
        let gender = match cell("gender") {
            "" => None,
            g => Gender::parse_label(g).or_else(|| {
                err("gender", format!("“{g}”不是可选的性别({})", Gender::choices_zh()));
                None
            }),
        };
        let birth_year = {
            let t = cell("birth_year");
            let year: String = t.chars().take_while(|c| c.is_ascii_digit()).collect();
            match year.parse::<i32>() {
                Ok(y) if year.len() == 4 => y,
                _ => {
                    err("birth_year", format!("“{t}”不是年份(例如1978)"));
                    0
                }
            }
        };
        let rank = Rank::parse_label(cell("rank"));
        if rank.is_none() {
            err("rank", format!("“{}”不是可选的职级({})", cell("rank"), Rank::choices_zh()));
        }
        let source = PoolSource::parse_label(cell("source"));
        if source.is_none() {
            err("source", format!("“{}”不是可选的来源({})", cell("source"), PoolSource::choices_zh()));
        }
        let work_unit = cell("work_unit").to_string();
        let mut specialties = BTreeSet::new();
        for s in split_list(cell("specialties")) {
            match Specialty::parse_label(s) {
                Some(x) => _ = specialties.insert(x),
                None => err("specialties", format!("“{s}”不是可选的专长({})", Specialty::choices_zh())),
            }
        }
        let leader_qualified = match cell("leader") {
            "" | "否" | "no" | "false" | "0" | "N" | "n" => false,
            "是" | "yes" | "true" | "1" | "Y" | "y" => true,
            other => {
                err("leader", format!("“{other}”应填“是”或“否”"));
                false
            }
        };
        let mut declared_conflicts = BTreeSet::new();
        for u in split_list(cell("conflicts")) {
            match units_by_name.get(u) {
                Some(id) => _ = declared_conflicts.insert(*id),
                None => err("conflicts", format!("单位“{u}”尚未登记")),
            }
        }
        let from_county = match cell("from_county") {
            "" => None,
            c => match CountyCode::parse("from_county", c) {
                Ok(code) => Some(code),
                Err(e) => {
                    err("from_county", e.reason);
                    None
                }
            },
        };
        let (Some(rank), Some(source)) = (rank, source) else {
            continue;
        };
        if errors.len() > row_start {
            continue;
        }
        let draft = PersonDraft {
            home_unit: units_by_name.get(work_unit.as_str()).copied(),
            name,
            gender,
            birth_year,
            rank,
            source,
            work_unit,
            past_posts: Vec::new(),
            declared_conflicts,
            specialties,
            leader_qualified,
            active: true,
            unavailable: Vec::new(),
            from_county,
        };
        if let Err(e) = validate_draft(state, me_is_city, today, "", &draft) {
            errors.push(RowError { row: row_no, column: column_label(&e.field), reason: e.reason });
        } else if state
            .persons
            .values()
            .any(|x| x.name == draft.name && x.birth_year == draft.birth_year && x.work_unit == draft.work_unit)
        {
            errors.push(RowError {
                row: row_no, column: "姓名".into(), reason: format!("{}已在人才库中", draft.name)
            });
        } else if !seen.insert((draft.name.clone(), draft.birth_year, draft.work_unit.clone())) {
            errors.push(RowError {
                row: row_no,
                column: "姓名".into(),
                reason: format!("{}在文件中重复出现", draft.name),
            });
        }
        if errors.len() == row_start {
            drafts.push(draft);
        }
    }
    if errors.is_empty() { Ok(drafts) } else { Err(errors) }
}

fn column_label(field: &str) -> String {
    ROSTER_COLUMNS
        .iter()
        .find(|(en, _, _)| field.starts_with(en))
        .map(|c| c.1.to_string())
        .unwrap_or_else(|| field.to_string())
}

/// Splits a cell holding several values (`财务、审计`, `a;b`, `a,b`).
fn split_list(text: &str) -> impl Iterator<Item = &str> {
    text.split(['、', ';', ';', ',', ',', '/']).map(str::trim).filter(|s| !s.is_empty())
}
