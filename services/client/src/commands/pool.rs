use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::talent_pool_service_client::TalentPoolServiceClient;
use xuncha_proto::v1::{Gender, PoolSource, Rank, Specialty};

use super::plan::enum_arg;
use crate::output::{print, table};
use crate::refs::{self, NodeLabels};
use crate::{Ctx, label};

#[derive(Subcommand, Debug, Clone)]
pub enum PersonCmd {
    /// Adds a person to this node's pool.
    Add {
        /// 姓名.
        #[arg(long)]
        name: String,
        /// male/female or 男/女.
        #[arg(long)]
        gender: Option<String>,
        /// 出生年份.
        #[arg(long)]
        birth_year: i32,
        /// 正处/副处/正科/副科/科员 (or division_head, ...).
        #[arg(long)]
        rank: String,
        /// 纪委监委/组织部/巡察办/其他单位.
        #[arg(long)]
        source: String,
        /// 工作单位.
        #[arg(long)]
        work_unit: String,
        /// The registered unit the person works in, by name (for recusal).
        #[arg(long, default_value = "")]
        home_unit: String,
        /// 专长, repeatable: 财务, 审计, 法律, 纪检监察, 组织人事, 其他.
        #[arg(long = "specialty")]
        specialties: Vec<String>,
        /// In the leader pool (组长库).
        #[arg(long)]
        leader: bool,
        /// Units the person must recuse from, by name (repeatable).
        #[arg(long = "conflict")]
        conflicts: Vec<String>,
        /// City pool: the county the person comes from.
        #[arg(long, default_value = "")]
        from_county: String,
    },
    /// Lists the pool.
    List {
        /// Only this owner's pool (city, county/<code>).
        #[arg(long, default_value = "")]
        owner: String,
        /// Only the leader pool.
        #[arg(long)]
        leaders: bool,
        /// Include persons taken out of use.
        #[arg(long)]
        all: bool,
    },
    /// Takes a person out of use (出库), keeping the record.
    Deactivate {
        /// The person, by name (namesakes: 王伟(1980,县财政局)).
        id: String,
    },
    /// Imports a CSV or XLSX file: all rows or none, with a report of every bad row.
    Import {
        /// The file (.csv or .xlsx).
        file: PathBuf,
        /// Only check the file.
        #[arg(long)]
        dry_run: bool,
    },
    /// Suggests a leader and members for a group, with reasons.
    Suggest {
        /// Round: 第七轮, 7, its name.
        #[arg(long)]
        round: String,
        /// The group being changed.
        #[arg(long, default_value = "")]
        group: String,
        /// Units the group will inspect (repeatable).
        #[arg(long = "unit")]
        units: Vec<String>,
        /// Leader already chosen.
        #[arg(long, default_value = "")]
        leader: String,
        /// Members wanted.
        #[arg(long, default_value_t = 0)]
        size: u32,
    },
    /// Persons booked by two nodes for overlapping windows.
    Conflicts,
}

pub fn persons_table(persons: &[pb::Person], nodes: &NodeLabels) -> String {
    let mut t = table(&["姓名", "出生", "职级", "来源", "工作单位", "专长", "组长库", "在用", "归属"]);
    for p in persons {
        let Some(f) = &p.fields else { continue };
        let specialties: Vec<&str> = f.specialties.iter().map(|s| label::<Specialty>(*s)).collect();
        t.add_row(vec![
            f.name.clone(),
            f.birth_year.to_string(),
            label::<Rank>(f.rank).into(),
            label::<PoolSource>(f.source).into(),
            f.work_unit.clone(),
            specialties.join("、"),
            if f.leader_qualified { "是" } else { "" }.into(),
            if f.active { "是" } else { "否" }.into(),
            p.meta.as_ref().map(|m| nodes.label(&m.owner)).unwrap_or_default(),
        ]);
    }
    t.to_string()
}

fn choices_table(title: &str, choices: &[pb::Choice]) -> String {
    let mut t = table(&[title, "理由"]);
    for c in choices {
        t.add_row(vec![c.name.clone(), c.reasons.join(";")]);
    }
    t.to_string()
}

pub async fn person(ctx: &Ctx, c: PersonCmd) -> anyhow::Result<()> {
    let mut client = TalentPoolServiceClient::new(ctx.channel.clone());
    let nodes = NodeLabels::of(&ctx.channel).await?;
    match c {
        PersonCmd::Add {
            name,
            gender,
            birth_year,
            rank,
            source,
            work_unit,
            home_unit,
            specialties,
            leader,
            conflicts,
            from_county,
        } => {
            let home_unit = refs::unit(&ctx.channel, &home_unit).await?;
            let conflicts = refs::units(&ctx.channel, &conflicts).await?;
            let fields = pb::PersonFields {
                name,
                gender: gender.map(|g| enum_arg::<Gender>("--gender", &g)).transpose()?.unwrap_or(0),
                birth_year,
                rank: enum_arg::<Rank>("--rank", &rank)?,
                source: enum_arg::<PoolSource>("--source", &source)?,
                work_unit,
                home_unit,
                past_posts: vec![],
                declared_conflicts: conflicts,
                specialties: specialties
                    .iter()
                    .map(|s| enum_arg::<Specialty>("--specialty", s))
                    .collect::<anyhow::Result<_>>()?,
                leader_qualified: leader,
                active: true,
                unavailable: vec![],
                from_county,
            };
            let p = client.add_person(pb::AddPersonRequest { person: Some(fields) }).await?.into_inner();
            print(ctx.format, &p, |p| persons_table(std::slice::from_ref(p), &nodes))
        }
        PersonCmd::List { owner, leaders, all } => {
            let r = client
                .list_persons(pb::ListPersonsRequest { owner, leaders_only: leaders, include_inactive: all })
                .await?
                .into_inner();
            print(ctx.format, &r, |r| format!("{}\n共{}人", persons_table(&r.persons, &nodes), r.persons.len()))
        }
        PersonCmd::Deactivate { id } => {
            let id = refs::person(&ctx.channel, &id).await?;
            let all = client
                .list_persons(pb::ListPersonsRequest {
                    owner: String::new(),
                    leaders_only: false,
                    include_inactive: true,
                })
                .await?
                .into_inner();
            let current = all.persons.into_iter().find(|p| p.id == id).with_context(|| format!("no person {id}"))?;
            let mut fields = current.fields.context("person without fields")?;
            fields.active = false;
            let p = client.update_person(pb::UpdatePersonRequest { id, person: Some(fields) }).await?.into_inner();
            print(ctx.format, &p, |p| persons_table(std::slice::from_ref(p), &nodes))
        }
        PersonCmd::Import { file, dry_run } => {
            let content = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let format = match file.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
                Some("csv") => pb::TableFormat::Csv,
                Some("xlsx") => pb::TableFormat::Xlsx,
                _ => anyhow::bail!("{}: use a .csv or .xlsx file", file.display()),
            };
            let r = client
                .import_persons(pb::ImportPersonsRequest { format: format as i32, content, dry_run })
                .await?
                .into_inner();
            print(ctx.format, &r, |r| {
                if r.errors.is_empty() {
                    format!("{}{}人", if dry_run { "检查通过,可导入" } else { "已导入" }, r.imported)
                } else {
                    let mut t = table(&["行", "列", "问题"]);
                    for e in &r.errors {
                        t.add_row(vec![e.row.to_string(), e.column.clone(), e.reason.clone()]);
                    }
                    format!("{t}\n{}处问题,未导入", r.errors.len())
                }
            })
        }
        PersonCmd::Suggest { round, group, units, leader, size } => {
            let round = refs::round(&ctx.channel, &round).await?;
            let group = if group.is_empty() { group } else { refs::group_in(&ctx.channel, &round, &group).await? };
            let units = refs::units(&ctx.channel, &units).await?;
            let leader = refs::person(&ctx.channel, &leader).await?;
            let r = client
                .suggest_members(pb::SuggestMembersRequest { round, group, units, leader, size })
                .await?
                .into_inner();
            print(ctx.format, &r, |r| {
                let mut out = String::new();
                if let Some(l) = &r.leader {
                    out.push_str(&choices_table("组长", std::slice::from_ref(l)));
                    out.push('\n');
                }
                out.push_str(&choices_table("组员", &r.members));
                out.push('\n');
                out.push_str(&choices_table("未选", &r.not_chosen));
                for w in &r.warnings {
                    out.push_str(&format!("\n注意:{w}"));
                }
                out
            })
        }
        PersonCmd::Conflicts => {
            let r = client.list_conflicts(pb::ListConflictsRequest {}).await?.into_inner();
            print(ctx.format, &r, |r| {
                let mut t = table(&["人员", "安排一", "安排二"]);
                for c in &r.conflicts {
                    let b = |b: &Option<pb::Booking>| {
                        b.as_ref()
                            .map(|b| {
                                format!(
                                    "{}({}) {}",
                                    b.label,
                                    nodes.label(&b.owner),
                                    b.window.as_ref().map(|w| format!("{}~{}", w.from, w.to)).unwrap_or_default()
                                )
                            })
                            .unwrap_or_default()
                    };
                    t.add_row(vec![c.person_name.clone(), b(&c.first), b(&c.second)]);
                }
                format!("{t}\n共{}处冲突", r.conflicts.len())
            })
        }
    }
}
