//! Demo data shaped like the scenario in DOMAIN.md: invented Chinese names, a term plan, a pool,
//! a finished round with feedback, leads and rectification in every state, and a round under
//! way with a revisit. Everything goes through the same commands staff use.

use std::collections::BTreeSet;

use anyhow::{Context, anyhow};
use chrono::NaiveDate;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use xuncha_api::Api;
use xuncha_domain::common::DateWindow;
use xuncha_domain::finding::{HandOverLead, RecordFinding};
use xuncha_domain::ids::*;
use xuncha_domain::model::*;
use xuncha_domain::rectification::{AddRectificationItem, SignOffRectification, UpdateRectification};
use xuncha_domain::roster::{ImportPersons, PersonDraft};
use xuncha_domain::round::*;
use xuncha_domain::staffing::{SuggestRequest, suggest};
use xuncha_domain::term::{CreateTerm, PlanUnits, RegisterUnit};
use xuncha_domain::{Actor, Command, Outcome, Role};

const SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴孔汤";
const GIVEN: &str = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国文辉玉兰红燕鹏斌宇浩凯健俊帆旭宁晨琳欣瑶婷雪慧颖倩玲晶志红海波东梅春林峰清振家";
const TOWN_WORDS: &str = "安平清河长乐永宁新兴东阳西岭南湖北坡龙泉桃源石桥柳林杏花白沙";
const DEPARTMENTS: [&str; 10] = [
    "财政局",
    "教育局",
    "卫生健康局",
    "住房和城乡建设局",
    "农业农村局",
    "交通运输局",
    "市场监督管理局",
    "自然资源局",
    "水利局",
    "人力资源和社会保障局",
];

/// Deterministic invented names.
pub struct Names {
    rng: StdRng,
    used: BTreeSet<String>,
}

impl Names {
    pub fn new(seed: u64) -> Self {
        Self { rng: StdRng::seed_from_u64(seed), used: BTreeSet::new() }
    }

    fn pick(&mut self, pool: &str) -> char {
        let chars: Vec<char> = pool.chars().collect();
        chars[self.rng.random_range(0..chars.len())]
    }

    /// A person's name not used before (two or three characters).
    pub fn person(&mut self) -> String {
        loop {
            let mut n = String::new();
            n.push(self.pick(SURNAMES));
            n.push(self.pick(GIVEN));
            if self.rng.random_bool(0.6) {
                n.push(self.pick(GIVEN));
            }
            if self.used.insert(n.clone()) {
                return n;
            }
        }
    }

    /// A two-character place name not used before.
    pub fn place(&mut self) -> String {
        loop {
            let n: String = [self.pick(TOWN_WORDS), self.pick(TOWN_WORDS)].iter().collect();
            if n.chars().next() != n.chars().nth(1) && self.used.insert(n.clone()) {
                return n;
            }
        }
    }

    pub fn below(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n)
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid demo date")
}

/// Drives commands through the node's API as the office, a group, and a unit would.
struct Demo<'a> {
    api: &'a Api,
    office: Actor,
    group: Actor,
    unit: Actor,
    names: Names,
}

impl Demo<'_> {
    async fn run(&self, actor: &Actor, command: Command) -> anyhow::Result<Outcome> {
        let name = command.name();
        self.api.execute(actor.clone(), command).await.map_err(|e| anyhow!("demo {name}: {e}"))
    }

    async fn created<T>(
        &self,
        actor: &Actor,
        command: Command,
        pick: impl Fn(&xuncha_domain::Record) -> Option<T>,
    ) -> anyhow::Result<T> {
        let outcome = self.run(actor, command).await?;
        outcome.records.iter().find_map(pick).context("the command created nothing")
    }
}

/// Pool person drafts: a mix of sources, ranks, ages and specialties; some work in `units`.
pub fn pool_drafts(
    names: &mut Names,
    count: usize,
    units: &[(UnitId, String)],
    from_county: Option<&str>,
) -> Vec<PersonDraft> {
    let sources = [
        PoolSource::DisciplineCommission,
        PoolSource::OrganisationDepartment,
        PoolSource::InspectionOffice,
        PoolSource::OtherUnit,
    ];
    let ranks = [Rank::DivisionHead, Rank::DeputyDivisionHead, Rank::SectionHead, Rank::DeputySectionHead, Rank::Staff];
    let specialties = [
        Specialty::Finance,
        Specialty::Audit,
        Specialty::Law,
        Specialty::Discipline,
        Specialty::Personnel,
        Specialty::Other,
    ];
    (0..count)
        .map(|i| {
            let rank = ranks[(i * 7 + names.below(2)) % ranks.len()];
            let (home, work) = if !units.is_empty() && names.chance(0.35) {
                let (id, name) = &units[names.below(units.len())];
                (Some(*id), name.clone())
            } else {
                (None, ["纪委监委", "组织部", "巡察办", "审计局", "党校"][i % 5].to_string())
            };
            let mut spec = BTreeSet::new();
            spec.insert(specialties[i % specialties.len()]);
            if names.chance(0.2) {
                spec.insert(specialties[names.below(specialties.len())]);
            }
            PersonDraft {
                name: names.person(),
                gender: Some(if names.chance(0.4) { Gender::Female } else { Gender::Male }),
                birth_year: 1966 + names.below(27) as i32,
                rank,
                source: sources[i % sources.len()],
                work_unit: work,
                home_unit: home,
                past_posts: Vec::new(),
                declared_conflicts: BTreeSet::new(),
                specialties: spec,
                leader_qualified: rank <= Rank::SectionHead && i % 3 == 0,
                active: true,
                unavailable: if i % 11 == 5 {
                    vec![DateWindow { from: day(2026, 10, 1), to: day(2026, 12, 31) }]
                } else {
                    Vec::new()
                },
                from_county: from_county.map(str::to_string),
            }
        })
        .collect()
}

const FINDINGS: [(&str, &str); 12] = [
    ("three.leadership", "贯彻落实上级决策部署不够有力"),
    ("three.party_building", "基层党组织“三会一课”制度落实不到位"),
    ("three.strict_governance", "主体责任压得不实,廉政风险排查流于形式"),
    ("discipline.integrity", "违规发放津补贴"),
    ("discipline.mass", "惠民资金发放不及时、不规范"),
    ("discipline.work", "项目审批把关不严"),
    ("discipline.organisational", "干部档案管理不规范"),
    ("style.formalism", "文山会海问题依然存在"),
    ("style.bureaucratism", "服务群众态度生硬,办事效率低"),
    ("style.eight_rules", "公务接待超标准"),
    ("style.extravagance", "公车私用"),
    ("cadre.selection", "选人用人程序不规范"),
];

/// Fills a county node with a term plan, a pool, one finished and one running round. Does
/// nothing if the node already has rounds.
pub async fn seed_county(api: &Api, county_name: &str, seed: u64) -> anyhow::Result<()> {
    if api.engine().read(|s| !s.rounds.is_empty()).await {
        return Ok(());
    }
    let mut d = Demo {
        api,
        office: Actor::new("赵主任", Role::Office)?,
        group: Actor::new("第一巡察组", Role::Group)?,
        unit: Actor::new("单位整改联络员", Role::Unit)?,
        names: Names::new(seed),
    };
    let office = d.office.clone();

    // Units: departments, townships, villages.
    let mut units: Vec<(UnitId, String)> = Vec::new();
    for dept in DEPARTMENTS {
        let name = format!("{county_name}{dept}");
        let id = d
            .created(
                &office,
                Command::RegisterUnit(RegisterUnit {
                    name: name.clone(),
                    kind: UnitKind::CountyDepartment,
                    parent: None,
                }),
                |r| r.as_unit().map(|u| u.id),
            )
            .await?;
        units.push((id, name));
    }
    for _ in 0..6 {
        let town = format!("{}镇", d.names.place());
        let tid = d
            .created(
                &office,
                Command::RegisterUnit(RegisterUnit { name: town.clone(), kind: UnitKind::Township, parent: None }),
                |r| r.as_unit().map(|u| u.id),
            )
            .await?;
        units.push((tid, town.clone()));
        for _ in 0..2 {
            let village = format!("{town}{}村", d.names.place());
            let vid = d
                .created(
                    &office,
                    Command::RegisterUnit(RegisterUnit {
                        name: village.clone(),
                        kind: UnitKind::Village,
                        parent: Some(tid),
                    }),
                    |r| r.as_unit().map(|u| u.id),
                )
                .await?;
            units.push((vid, village));
        }
    }
    let term = d
        .created(
            &office,
            Command::CreateTerm(CreateTerm {
                name: "十四届县委".into(),
                window: DateWindow { from: day(2021, 10, 1), to: day(2026, 12, 31) },
            }),
            |r| r.as_term().map(|t| t.id),
        )
        .await?;
    d.run(&office, Command::PlanUnits(PlanUnits { term, add: units.iter().map(|u| u.0).collect(), remove: vec![] }))
        .await?;

    let drafts = pool_drafts(&mut d.names, 48, &units, None);
    d.run(&office, Command::ImportPersons(ImportPersons { persons: drafts })).await?;

    // Round five: finished, rectification in every state.
    let r5 = round(&d, term, 5, day(2025, 9, 8), day(2025, 11, 7), day(2025, 12, 5)).await?;
    let targets5 = staff_and_target(&mut d, r5, &units[0..9], 3).await?;
    d.run(&office, Command::AdvanceRound(AdvanceRound { round: r5, to: RoundStatus::Approved })).await?;
    d.run(&office, Command::AdvanceRound(AdvanceRound { round: r5, to: RoundStatus::InProgress })).await?;
    let mut findings = Vec::new();
    for (i, t) in targets5.iter().enumerate() {
        for k in 0..3 {
            let (category, title) = FINDINGS[(i * 3 + k) % FINDINGS.len()];
            let f = d
                .created(
                    &d.group,
                    Command::RecordFinding(RecordFinding {
                        target: *t,
                        category: category.into(),
                        tags: BTreeSet::new(),
                        title: title.into(),
                        description: format!("{title},涉及{}个方面,详见底稿。", k + 2),
                    }),
                    |r| r.as_finding().map(|f| (f.id, f.category.clone())),
                )
                .await?;
            findings.push(f);
        }
        d.run(&d.group, Command::GiveFeedback(GiveFeedback { target: *t, on: day(2025, 12, 5) })).await?;
    }
    for (i, (f, category)) in findings.iter().enumerate() {
        if category.starts_with("discipline") || category == "cadre.selection" {
            d.run(
                &d.group,
                Command::HandOverLead(HandOverLead {
                    finding: *f,
                    summary: "发现相关人员涉嫌违纪问题线索,按程序移交。".into(),
                    receiver: None,
                }),
            )
            .await?;
        }
        let kind = if i % 7 == 3 { RectificationKind::Mechanism } else { RectificationKind::Measure };
        let responsible = d.names.person();
        let item = d
            .created(
                &d.unit,
                Command::AddRectificationItem(AddRectificationItem {
                    finding: *f,
                    kind,
                    measures: vec!["制定整改方案,明确责任人和时限".into(), "建立健全相关制度".into()],
                    responsible_unit: "单位党组(党委)".into(),
                    responsible_person: Some(responsible),
                    deadline: None,
                }),
                |r| r.as_rectification().map(|x| x.id),
            )
            .await?;
        // Spread the items over the lifecycle; some stay open and become overdue.
        let update = |status, note: Option<&str>, evidence: Option<&str>| {
            Command::UpdateRectification(UpdateRectification {
                item,
                status: Some(status),
                note: note.map(Into::into),
                evidence: evidence.map(Into::into),
            })
        };
        match i % 5 {
            0 | 1 => {
                d.run(&d.unit, update(RectificationStatus::Done, Some("已完成整改"), Some("整改报告及佐证材料已报送")))
                    .await?;
                d.run(
                    &office,
                    Command::SignOffRectification(SignOffRectification {
                        item, note: Some("经核查,同意销号".into())
                    }),
                )
                .await?;
            }
            2 => {
                d.run(&d.unit, update(RectificationStatus::Done, Some("已完成整改"), Some("佐证材料已报送"))).await?;
            }
            3 => {
                d.run(&d.unit, update(RectificationStatus::InProgress, Some("正在推进"), None)).await?;
            }
            _ if kind == RectificationKind::Mechanism => {
                d.run(&d.unit, update(RectificationStatus::LongTerm, Some("已建立制度,长期坚持"), None)).await?;
            }
            _ => {}
        }
    }
    for t in targets5.iter().take(6) {
        d.run(
            &d.unit,
            Command::SubmitRectificationReport(SubmitRectificationReport { target: *t, on: day(2026, 1, 30) }),
        )
        .await?;
    }

    // Round six: under way, with a revisit of a unit from round five.
    let r6 = round(&d, term, 6, day(2026, 10, 12), day(2026, 12, 11), day(2027, 1, 15)).await?;
    let targets6 = staff_and_target(&mut d, r6, &units[9..15], 2).await?;
    let group =
        d.api.engine().read(|s| s.targets.get(&targets6[0]).map(|t| t.group)).await.context("target vanished")?;
    d.run(
        &office,
        Command::AddTarget(AddTarget {
            round: r6,
            group,
            unit: units[0].0,
            kind: TargetKind::Revisit,
            scope: None,
            assignment: None,
            reason: None,
        }),
    )
    .await?;
    d.run(&office, Command::AdvanceRound(AdvanceRound { round: r6, to: RoundStatus::Approved })).await?;
    d.run(&office, Command::AdvanceRound(AdvanceRound { round: r6, to: RoundStatus::InProgress })).await?;
    for (i, t) in targets6.iter().enumerate().take(3) {
        let (category, title) = FINDINGS[(i * 5 + 2) % FINDINGS.len()];
        d.run(
            &d.group,
            Command::RecordFinding(RecordFinding {
                target: *t,
                category: category.into(),
                tags: BTreeSet::new(),
                title: title.into(),
                description: format!("{title}(初步发现)"),
            }),
        )
        .await?;
    }
    Ok(())
}

async fn round(
    d: &Demo<'_>,
    term: TermId,
    number: u32,
    enter: NaiveDate,
    leave: NaiveDate,
    feedback: NaiveDate,
) -> anyhow::Result<RoundId> {
    d.created(
        &d.office,
        Command::CreateRound(CreateRound {
            term,
            number,
            name: format!(
                "十四届县委第{}轮巡察",
                ["一", "二", "三", "四", "五", "六", "七", "八"][(number as usize - 1) % 8]
            ),
            dates: RoundDates { enter_on: enter, leave_on: leave, feedback_on: feedback },
            report_due_months: None,
            group_size: None,
        }),
        |r| r.as_round().map(|x| x.id),
    )
    .await
}

/// Forms one group per `per_group` units with the staffing suggestion, and adds the targets.
async fn staff_and_target(
    d: &mut Demo<'_>,
    round: RoundId,
    units: &[(UnitId, String)],
    per_group: usize,
) -> anyhow::Result<Vec<TargetId>> {
    let me = d.api.engine().node().clone();
    let mut targets = Vec::new();
    for (g, chunk) in units.chunks(per_group).enumerate() {
        let req = SuggestRequest {
            round,
            group: None,
            units: chunk.iter().map(|u| u.0).collect(),
            leader: None,
            size: Some(5),
        };
        let s = d.api.engine().read(|s| suggest(s, &me, &req)).await.map_err(|e| anyhow!(e))?;
        let leader = s.leader.context("no leader qualifies")?.person;
        let group = d
            .created(
                &d.office,
                Command::FormGroup(FormGroup {
                    round,
                    name: format!("第{}巡察组", ["一", "二", "三", "四", "五", "六"][g % 6]),
                    leader,
                    members: s.members.iter().map(|c| c.person).collect(),
                    reason: None,
                }),
                |r| r.as_group().map(|x| x.id),
            )
            .await?;
        for (unit, _) in chunk {
            let t = d
                .created(
                    &d.office,
                    Command::AddTarget(AddTarget {
                        round,
                        group,
                        unit: *unit,
                        kind: TargetKind::Regular,
                        scope: None,
                        assignment: None,
                        reason: None,
                    }),
                    |r| r.as_target().map(|x| x.id),
                )
                .await?;
            targets.push(t);
        }
    }
    Ok(targets)
}
