//! Demo data shaped like the scenario in DOMAIN.md: invented Chinese names, a term plan, a pool,
//! a finished round with feedback, leads and rectification in every state, and a round under
//! way with a revisit. Everything goes through the same commands staff use.

use std::collections::{BTreeSet, HashMap};

use anyhow::{Context, anyhow};
use chrono::NaiveDate;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use xuncha_api::Api;
use xuncha_domain::account::{AddAccount, BootstrapAdmin};
use xuncha_domain::authz::{Grant, RoleCode, Scope};
use xuncha_domain::common::DateWindow;
use xuncha_domain::finding::{HandOverLead, RecordFinding};
use xuncha_domain::ids::*;
use xuncha_domain::linkage::{CreateLinkagePlan, IssueAssignment, ReportAssignmentProgress, RespondAssignment};
use xuncha_domain::model::*;
use xuncha_domain::rectification::{AddRectificationItem, SignOffRectification, UpdateRectification};
use xuncha_domain::roster::{ImportPersons, PersonDraft};
use xuncha_domain::round::*;
use xuncha_domain::staffing::{SuggestRequest, suggest};
use xuncha_domain::term::{CreateTerm, PlanUnits, RegisterUnit};
use xuncha_domain::{Caller, Command, Outcome};

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

/// A demo account and its password (development only: `xuncha up` writes them out so people
/// can sign in).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct DemoAccount {
    /// The login name at `node`.
    pub username: String,
    pub password: String,
    /// The node to sign in at: `city` or `county/<code>`.
    pub node: String,
    /// The account's organisation, for people: 市委巡察办 or the county's name.
    pub organisation: String,
    pub display_name: String,
    /// Its roles, e.g. 巡察组组长(第一巡察组).
    pub roles: Vec<String>,
}

/// A development password: 16 letters and digits from the OS's randomness.
fn demo_password() -> String {
    use rand::TryRngCore;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY34679";
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.try_fill_bytes(&mut bytes).expect("the OS provides randomness");
    bytes.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect()
}

/// Drives commands through the node's API as signed-in people would: the office head, each
/// group's leader, each unit's liaison. Every person is a real account that signed in.
struct Demo<'a> {
    api: &'a Api,
    /// The organisation's name for people.
    organisation: String,
    office: Caller,
    names: Names,
    accounts: Vec<DemoAccount>,
    leaders: HashMap<GroupId, Caller>,
    liaisons: HashMap<UnitId, Caller>,
}

impl Demo<'_> {
    async fn run(&self, caller: &Caller, command: Command) -> anyhow::Result<Outcome> {
        let name = command.name();
        self.api.execute(caller.clone(), command).await.map_err(|e| anyhow!("demo {name}: {e}"))
    }

    /// Adds an account holding `grants` (as the office head) and lists it.
    async fn account(&mut self, username: &str, grants: Vec<Grant>) -> anyhow::Result<DemoAccount> {
        let password = demo_password();
        let display_name = self.names.person();
        let password_hash = self.api.auth().hash_new_password("password", username, &password).await?;
        let add = AddAccount { username: username.into(), display_name: display_name.clone(), password_hash, grants };
        let outcome = self.run(&self.office, Command::AddAccount(add)).await?;
        let account = outcome.records.iter().find_map(|r| r.as_account()).context("no account made")?.clone();
        let roles = self.api.engine().read(|s| account.grants.iter().map(|g| g.label_zh(s)).collect()).await;
        let listed = DemoAccount {
            username: username.into(),
            password,
            node: self.api.engine().node().to_string(),
            organisation: self.organisation.clone(),
            display_name,
            roles,
        };
        self.accounts.push(listed.clone());
        Ok(listed)
    }

    /// Signs `account` in, as its person would.
    async fn sign_in(&self, account: &DemoAccount) -> anyhow::Result<Caller> {
        let signed = self.api.auth().login(&account.username, &account.password, None).await?;
        Ok(Caller::Session(xuncha_api::auth::session_key(&signed.token)))
    }

    /// The signed-in leader of the group a target belongs to (made on first use).
    async fn leader(&mut self, target: TargetId) -> anyhow::Result<Caller> {
        let group = self.api.engine().read(|s| s.targets.get(&target).map(|t| t.group)).await.context("no target")?;
        if let Some(c) = self.leaders.get(&group) {
            return Ok(c.clone());
        }
        let n = self.leaders.len() + 1;
        let a =
            self.account(&format!("leader{n}"), vec![Grant::new(RoleCode::GroupLeader, Scope::Group(group))]).await?;
        let caller = self.sign_in(&a).await?;
        self.leaders.insert(group, caller.clone());
        Ok(caller)
    }

    /// The signed-in liaison of the unit a target or finding concerns (made on first use).
    async fn liaison(&mut self, unit: UnitId) -> anyhow::Result<Caller> {
        if let Some(c) = self.liaisons.get(&unit) {
            return Ok(c.clone());
        }
        let n = self.liaisons.len() + 1;
        let a =
            self.account(&format!("liaison{n}"), vec![Grant::new(RoleCode::UnitLiaison, Scope::Unit(unit))]).await?;
        let caller = self.sign_in(&a).await?;
        self.liaisons.insert(unit, caller.clone());
        Ok(caller)
    }

    async fn unit_of(&self, target: TargetId) -> anyhow::Result<UnitId> {
        self.api.engine().read(|s| s.targets.get(&target).map(|t| t.unit)).await.context("no target")
    }

    async fn created<T>(
        &self,
        actor: &Caller,
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
    from_county: Option<&CountyCode>,
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
                from_county: from_county.cloned(),
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

impl Demo<'_> {
    /// Makes the node's first administrator (as an operator would) and signs them in, then
    /// adds one account for each office role over the node's own scope.
    async fn new<'a>(api: &'a Api, organisation: &str, seed: u64, by: Option<Caller>) -> anyhow::Result<Demo<'a>> {
        let mut names = Names::new(seed);
        if let Some(office) = by {
            // Seeding as someone already signed in (tests): no first administrator to make.
            let mut d = Demo {
                api,
                organisation: organisation.into(),
                office,
                names,
                accounts: vec![],
                leaders: HashMap::new(),
                liaisons: HashMap::new(),
            };
            d.office_accounts().await?;
            return Ok(d);
        }
        let head = DemoAccount {
            username: "head".into(),
            password: demo_password(),
            node: api.engine().node().to_string(),
            organisation: organisation.into(),
            display_name: names.person(),
            roles: vec![],
        };
        let password_hash = api.auth().hash_new_password("password", &head.username, &head.password).await?;
        let bootstrap =
            BootstrapAdmin { username: head.username.clone(), display_name: head.display_name.clone(), password_hash };
        let outcome = api
            .execute(Caller::Operator("demo".into()), Command::BootstrapAdmin(bootstrap))
            .await
            .map_err(|e| anyhow!("demo: the first administrator: {e}"))?;
        let account = outcome.records.iter().find_map(|r| r.as_account()).context("no account made")?.clone();
        let roles = api.engine().read(|s| account.grants.iter().map(|g| g.label_zh(s)).collect()).await;
        let head = DemoAccount { roles, ..head };
        let mut d = Demo {
            api,
            organisation: organisation.into(),
            office: Caller::Operator(String::new()),
            names,
            accounts: vec![head.clone()],
            leaders: HashMap::new(),
            liaisons: HashMap::new(),
        };
        d.office = d.sign_in(&head).await?;
        d.office_accounts().await?;
        Ok(d)
    }

    /// One account for each office role over the node's own scope.
    async fn office_accounts(&mut self) -> anyhow::Result<()> {
        let d = self;
        let own = match d.api.engine().node().county_of() {
            Some(c) => Scope::County(c),
            None => Scope::City,
        };
        for (username, role) in [
            ("clerk", RoleCode::OfficeClerk),
            ("auditor", RoleCode::Auditor),
            ("ops", RoleCode::Operator),
            ("jiwei", RoleCode::DisciplineCommission),
            ("zuzhibu", RoleCode::OrganisationDepartment),
        ] {
            d.account(username, vec![Grant::new(role, own.clone())]).await?;
        }
        Ok(())
    }

    /// A member of the group of `target`, for people to try the group member's view.
    async fn member(&mut self, target: TargetId) -> anyhow::Result<()> {
        let group = self.api.engine().read(|s| s.targets.get(&target).map(|t| t.group)).await.context("no target")?;
        self.account("member1", vec![Grant::new(RoleCode::GroupMember, Scope::Group(group))]).await?;
        Ok(())
    }

    async fn unit(&self, name: String, kind: UnitKind, parent: Option<UnitId>) -> anyhow::Result<(UnitId, String)> {
        let id = self
            .created(&self.office, Command::RegisterUnit(RegisterUnit { name: name.clone(), kind, parent }), |r| {
                r.as_unit().map(|u| u.id)
            })
            .await?;
        Ok((id, name))
    }

    /// A term whose plan covers `units`.
    async fn term(&self, name: &str, units: &[(UnitId, String)]) -> anyhow::Result<TermId> {
        let window = DateWindow { from: day(2021, 10, 1), to: day(2026, 12, 31) };
        let term = self
            .created(&self.office, Command::CreateTerm(CreateTerm { name: name.into(), window }), |r| {
                r.as_term().map(|t| t.id)
            })
            .await?;
        let add = units.iter().map(|u| u.0).collect();
        self.run(&self.office, Command::PlanUnits(PlanUnits { term, add, remove: vec![] })).await?;
        Ok(term)
    }

    async fn advance(&self, round: RoundId, steps: &[RoundStatus]) -> anyhow::Result<()> {
        for to in steps {
            self.run(&self.office, Command::AdvanceRound(AdvanceRound { round, to: *to })).await?;
        }
        Ok(())
    }

    /// Findings at every target, feedback on `feedback`, leads for discipline matters, and
    /// rectification items spread over their lifecycle (some overdue); reports from most units.
    async fn finish_round(
        &mut self,
        targets: &[TargetId],
        shape: RoundShape,
        feedback: NaiveDate,
    ) -> anyhow::Result<()> {
        let mut findings = Vec::new();
        let mut leads = 0;
        for (i, t) in targets.iter().enumerate() {
            let leader = self.leader(*t).await?;
            // The problems spread evenly over the units, the first units taking the remainder.
            let here = shape.findings / targets.len() + usize::from(i < shape.findings % targets.len());
            for k in 0..here {
                let (category, title) = FINDINGS[findings.len() % FINDINGS.len()];
                let f = self
                    .created(
                        &leader,
                        Command::RecordFinding(RecordFinding {
                            target: *t,
                            category: category.into(),
                            tags: BTreeSet::new(),
                            title: title.into(),
                            description: format!("{title},涉及{}个方面,详见底稿。", k + 2),
                        }),
                        |r| r.as_finding().map(|f| (f.id, f.category.clone(), *t)),
                    )
                    .await?;
                findings.push(f);
            }
            self.run(&leader, Command::GiveFeedback(GiveFeedback { target: *t, on: feedback })).await?;
        }
        for (i, (f, category, t)) in findings.iter().enumerate() {
            let leader = self.leader(*t).await?;
            let unit = self.unit_of(*t).await?;
            let liaison = self.liaison(unit).await?;
            let lead_worthy = category.starts_with("discipline") || category == "cadre.selection";
            if shape.leads.map_or(lead_worthy, |n| lead_worthy && leads < n) {
                leads += 1;
                let summary = "发现相关人员涉嫌违纪问题线索,按程序移交。".into();
                self.run(&leader, Command::HandOverLead(HandOverLead { finding: *f, summary, receiver: None })).await?;
            }
            let kind = if i % 7 == 3 { RectificationKind::Mechanism } else { RectificationKind::Measure };
            let responsible = self.names.person();
            let item = self
                .created(
                    &liaison,
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
            let update = |status, note: &str, evidence: Option<&str>| {
                Command::UpdateRectification(UpdateRectification {
                    item,
                    status: Some(status),
                    note: Some(note.into()),
                    evidence: evidence.map(Into::into),
                })
            };
            // Spread the items over the lifecycle; the rest stay open and become overdue.
            match i % 5 {
                0 | 1 => {
                    self.run(
                        &liaison,
                        update(RectificationStatus::Done, "已完成整改", Some("整改报告及佐证材料已报送")),
                    )
                    .await?;
                    let note = Some("经核查,同意销号".into());
                    self.run(&self.office, Command::SignOffRectification(SignOffRectification { item, note })).await?;
                }
                2 => {
                    _ = self
                        .run(&liaison, update(RectificationStatus::Done, "已完成整改", Some("佐证材料已报送")))
                        .await?
                }
                3 => _ = self.run(&liaison, update(RectificationStatus::InProgress, "正在推进", None)).await?,
                _ if kind == RectificationKind::Mechanism => {
                    self.run(&liaison, update(RectificationStatus::LongTerm, "已建立制度,长期坚持", None)).await?;
                }
                _ => {}
            }
        }
        if let Some(n) = shape.leads {
            anyhow::ensure!(leads == n, "the round's findings gave {leads} leads, not {n}");
        }
        let report_on =
            xuncha_domain::common::add_months(feedback, 2).expect("a demo date") - chrono::Duration::days(3);
        for t in targets.iter().take(targets.len() * 2 / 3) {
            let liaison = self.liaison(self.unit_of(*t).await?).await?;
            self.run(
                &liaison,
                Command::SubmitRectificationReport(SubmitRectificationReport { target: *t, on: report_on }),
            )
            .await?;
        }
        Ok(())
    }

    /// A few first findings in a round under way.
    async fn first_findings(&mut self, targets: &[TargetId]) -> anyhow::Result<()> {
        if let Some(first) = targets.first() {
            self.member(*first).await?;
        }
        for (i, t) in targets.iter().enumerate().take(3) {
            let leader = self.leader(*t).await?;
            let (category, title) = FINDINGS[(i * 5 + 2) % FINDINGS.len()];
            let description = format!("{title}(初步发现)");
            let cmd = RecordFinding {
                target: *t,
                category: category.into(),
                tags: BTreeSet::new(),
                title: title.into(),
                description,
            };
            self.run(&leader, Command::RecordFinding(cmd)).await?;
        }
        Ok(())
    }
}

/// How much of the source documents' situation the demo data holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scenario {
    /// A small federation for a first look: fast to start.
    #[default]
    Demo,
    /// The situation the source documents describe (DOMAIN.md, "The scenario"): 11 counties, the
    /// term plan at 73.81% once round seven gives feedback, round five's 289 problems and 52 leads,
    /// the counties' 39 linked units and 61 revisits.
    Seed,
}

/// What a finished round found.
#[derive(Clone, Copy, Debug)]
struct RoundShape {
    /// Problems in all, spread over the round's units.
    findings: usize,
    /// Leads handed over; `None`: one for every discipline or cadre-selection problem.
    leads: Option<usize>,
}

/// A county's part in round seven: the units it inspects for the city's linkage assignment
/// (counterparts of the city's linked units) and the units of its round five it revisits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CountyShape {
    pub linked: usize,
    pub revisits: usize,
}

impl Default for CountyShape {
    /// The small demo: no linked units (the county only answers the assignment), one revisit.
    fn default() -> Self {
        Self { linked: 0, revisits: 1 }
    }
}

/// The 11 counties' linked units (39 in all) and revisits (61 in all), county by county.
const SEED_LINKED: [usize; 11] = [7, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3];
const SEED_REVISITS: [usize; 11] = [6, 6, 6, 6, 6, 6, 5, 5, 5, 5, 5];

impl CountyShape {
    /// The `i`th county's part in the seed scenario.
    pub fn seed(i: usize) -> Self {
        Self { linked: SEED_LINKED[i % 11], revisits: SEED_REVISITS[i % 11] }
    }
}

/// A county's counterparts of the city's seven linked units of round seven, in their order.
const LINKED_COUNTERPARTS: [(&str, UnitKind); 7] = [
    ("商务局", UnitKind::CountyDepartment),
    ("文化广电和旅游局", UnitKind::CountyDepartment),
    // County-owned enterprises: the kinds' 国有企业 is the city's (市属).
    ("城市投资发展有限公司", UnitKind::Other),
    ("交通投资有限公司", UnitKind::Other),
    ("水务有限公司", UnitKind::Other),
    ("国有资本运营有限公司", UnitKind::Other),
    ("发展和改革局", UnitKind::CountyDepartment),
];

/// Fills a county node with accounts for every role, a term plan, a pool, one finished and one
/// running round, and returns the accounts made. Does nothing (and returns none) if the node
/// already has rounds.
pub async fn seed_county(api: &Api, county_name: &str, seed: u64) -> anyhow::Result<Vec<DemoAccount>> {
    seed_county_as(api, None, county_name, seed, CountyShape::default()).await
}

/// [`seed_county`] acting as `by` (already signed in) instead of a new first administrator.
pub async fn seed_county_by(
    api: &Api,
    by: Option<Caller>,
    county_name: &str,
    seed: u64,
) -> anyhow::Result<Vec<DemoAccount>> {
    seed_county_as(api, by, county_name, seed, CountyShape::default()).await
}

/// [`seed_county_by`] with the county's part in round seven. Linked units wait for the city's
/// assignment to reach the county (up to two minutes), accept it and report progress.
pub async fn seed_county_as(
    api: &Api,
    by: Option<Caller>,
    county_name: &str,
    seed: u64,
    shape: CountyShape,
) -> anyhow::Result<Vec<DemoAccount>> {
    if has_own_rounds(api).await {
        return Ok(vec![]);
    }
    anyhow::ensure!(shape.linked <= LINKED_COUNTERPARTS.len(), "at most 7 linked units");
    anyhow::ensure!(shape.revisits <= 9, "round five inspected 9 units: at most 9 revisits");
    let mut d = Demo::new(api, &format!("{county_name}委巡察办"), seed, by).await?;
    let mut units: Vec<(UnitId, String)> = Vec::new();
    for dept in DEPARTMENTS {
        units.push(d.unit(format!("{county_name}{dept}"), UnitKind::CountyDepartment, None).await?);
    }
    for _ in 0..6 {
        let town_name = format!("{}镇", d.names.place());
        let town = d.unit(town_name, UnitKind::Township, None).await?;
        for _ in 0..2 {
            let name = format!("{}{}村", town.1, d.names.place());
            units.push(d.unit(name, UnitKind::Village, Some(town.0)).await?);
        }
        units.push(town);
    }
    let mut linked = Vec::new();
    for (name, kind) in &LINKED_COUNTERPARTS[..shape.linked] {
        linked.push(d.unit(format!("{county_name}{name}"), *kind, None).await?);
    }
    let planned: Vec<(UnitId, String)> = units.iter().chain(&linked).cloned().collect();
    let term = d.term("十四届县委", &planned).await?;
    let drafts = pool_drafts(&mut d.names, 48, &units, None);
    d.run(&d.office, Command::ImportPersons(ImportPersons { persons: drafts })).await?;

    // Round five: finished, rectification in every state.
    let r5 = round(&d, (term, "十四届县委"), 5, day(2025, 9, 8), day(2025, 11, 7), day(2025, 12, 5)).await?;
    let targets5 = staff_and_target(&mut d, r5, &units[0..9], 3).await?;
    d.advance(r5, &[RoundStatus::Approved, RoundStatus::InProgress]).await?;
    d.finish_round(&targets5, RoundShape { findings: 27, leads: None }, day(2025, 12, 5)).await?;

    // Round six, the county's round beside the city's round seven: under way, with revisits of
    // units from round five and, for the city's assignment, the linked units.
    let r6 = round(&d, (term, "十四届县委"), 6, day(2026, 10, 12), day(2026, 12, 11), day(2027, 1, 15)).await?;
    let targets6 = staff_and_target(&mut d, r6, &units[9..15], 2).await?;
    // Revisits of round five's units, skipping a unit every group would have to recuse from.
    let mut revisits = 0;
    for (unit, _) in &units[0..9] {
        if revisits < shape.revisits && place_target(&d, r6, *unit, TargetKind::Revisit, None).await? {
            revisits += 1;
        }
    }
    anyhow::ensure!(revisits == shape.revisits, "only {revisits} of round five's units can be revisited");
    let assignment = if linked.is_empty() { None } else { Some(accept_assignment(&d).await?) };
    for (unit, name) in &linked {
        let placed = place_target(&d, r6, *unit, TargetKind::Linked, assignment).await?;
        anyhow::ensure!(placed, "no group of round six can inspect {name}");
    }
    d.advance(r6, &[RoundStatus::Approved, RoundStatus::InProgress]).await?;
    d.first_findings(&targets6).await?;
    if let Some(assignment) = assignment {
        let note = Some(format!("已进驻{}个联动单位,正在开展个别谈话和调阅资料。", linked.len()));
        let progress = ReportAssignmentProgress { assignment, percent: 40, note };
        d.run(&d.office, Command::ReportAssignmentProgress(progress)).await?;
    }
    Ok(d.accounts)
}

/// Waits for the city's assignment to this county to arrive by sync, and accepts it.
async fn accept_assignment(d: &Demo<'_>) -> anyhow::Result<AssignmentId> {
    let code = d.api.engine().node().county_of().context("only a county answers an assignment")?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
    let assignment = loop {
        let found = d.api.engine().read(|s| s.assignments.values().find(|a| a.county == code).map(|a| a.id)).await;
        if let Some(a) = found {
            break a;
        }
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "the city's assignment to {code} did not arrive");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let accept = RespondAssignment { assignment, accept: true, reason: None };
    d.run(&d.office, Command::RespondAssignment(accept)).await?;
    Ok(assignment)
}

/// Adds `unit` to the first group of `round` (in turn) with nobody who must recuse from it;
/// false if every group would have to.
async fn place_target(
    d: &Demo<'_>,
    round: RoundId,
    unit: UnitId,
    kind: TargetKind,
    assignment: Option<AssignmentId>,
) -> anyhow::Result<bool> {
    let groups: Vec<GroupId> = d.api.engine().read(|s| s.groups_of_round(round).map(|g| g.id).collect()).await;
    // Start at a different group for each unit so the targets spread over the groups.
    let start = d.api.engine().read(|s| s.targets_of_round(round).count()).await;
    for k in 0..groups.len() {
        let group = groups[(start + k) % groups.len()];
        let add = AddTarget { round, group, unit, kind, scope: None, assignment, reason: None };
        match d.api.execute(d.office.clone(), Command::AddTarget(add)).await {
            Ok(_) => return Ok(true),
            // A recusal: try the next group.
            Err(xuncha_api::ApiError::Domain(e)) if e.reason.contains("需回避") => {}
            Err(e) => return Err(anyhow!("demo add_target: {e}")),
        }
    }
    Ok(false)
}

const CITY_UNITS: [(&str, UnitKind); 18] = [
    ("市财政局", UnitKind::CityDepartment),
    ("市教育局", UnitKind::CityDepartment),
    ("市卫生健康委员会", UnitKind::CityDepartment),
    ("市住房和城乡建设局", UnitKind::CityDepartment),
    ("市农业农村局", UnitKind::CityDepartment),
    ("市交通运输局", UnitKind::CityDepartment),
    ("市市场监督管理局", UnitKind::CityDepartment),
    ("市自然资源和规划局", UnitKind::CityDepartment),
    ("市水利局", UnitKind::CityDepartment),
    ("市人力资源和社会保障局", UnitKind::CityDepartment),
    ("市民政局", UnitKind::CityDepartment),
    ("市生态环境局", UnitKind::CityDepartment),
    ("市商务局", UnitKind::CityDepartment),
    ("市文化广电和旅游局", UnitKind::CityDepartment),
    ("市城市投资发展集团", UnitKind::StateEnterprise),
    ("市交通投资集团", UnitKind::StateEnterprise),
    ("市水务集团", UnitKind::StateEnterprise),
    ("市国有资本运营公司", UnitKind::StateEnterprise),
];

/// The city's other departments in the term plan (42 units in all).
const CITY_DEPARTMENTS: [&str; 24] = [
    "发展和改革委员会",
    "科学技术局",
    "工业和信息化局",
    "公安局",
    "司法局",
    "审计局",
    "统计局",
    "医疗保障局",
    "应急管理局",
    "林业局",
    "体育局",
    "信访局",
    "退役军人事务局",
    "粮食和物资储备局",
    "机关事务管理局",
    "档案馆",
    "地方金融监督管理局",
    "政务服务管理局",
    "供销合作社",
    "总工会",
    "妇女联合会",
    "共青团委员会",
    "科学技术协会",
    "文学艺术界联合会",
];

/// Units established after the term plan was made: inspected in round six, outside the plan.
const NEW_CITY_UNITS: [(&str, UnitKind); 2] =
    [("市数据发展集团", UnitKind::StateEnterprise), ("市城市更新投资有限公司", UnitKind::StateEnterprise)];

/// Fills the city with the source documents' shape: a term plan of 42 units, a pool of 360 from
/// three sources, round six finished (12 units, two of them established after the plan) and
/// round seven under way with 12 regular targets, 7 of them linked, and 7 revisits, and a
/// linkage plan with an assignment per county.
pub async fn seed_city(api: &Api, counties: &[(&str, &str)], seed: u64) -> anyhow::Result<Vec<DemoAccount>> {
    seed_city_as(api, None, counties, seed, Scenario::Demo).await
}

/// [`seed_city`] acting as `by` (already signed in) instead of a new first administrator.
pub async fn seed_city_by(
    api: &Api,
    by: Option<Caller>,
    counties: &[(&str, &str)],
    seed: u64,
) -> anyhow::Result<Vec<DemoAccount>> {
    seed_city_as(api, by, counties, seed, Scenario::Demo).await
}

/// [`seed_city_by`] for a scenario. [`Scenario::Seed`] adds round five (9 units of the plan,
/// 289 problems, 52 leads), so that once round seven gives feedback 31 of the 42 planned units
/// are covered: 73.81%.
pub async fn seed_city_as(
    api: &Api,
    by: Option<Caller>,
    counties: &[(&str, &str)],
    seed: u64,
    scenario: Scenario,
) -> anyhow::Result<Vec<DemoAccount>> {
    if has_own_rounds(api).await {
        return Ok(vec![]);
    }
    let mut d = Demo::new(api, "市委巡察办", seed, by).await?;
    let mut units = Vec::new();
    for (name, kind) in CITY_UNITS {
        units.push(d.unit(name.into(), kind, None).await?);
    }
    for dept in CITY_DEPARTMENTS {
        units.push(d.unit(format!("市{dept}"), UnitKind::CityDepartment, None).await?);
    }
    let term = d.term("四届市委", &units).await?;
    let mut new_units = Vec::new();
    for (name, kind) in NEW_CITY_UNITS {
        new_units.push(d.unit(name.into(), kind, None).await?);
    }
    let mut drafts = pool_drafts(&mut d.names, 360, &units, None);
    for (i, (code, _)) in counties.iter().enumerate() {
        drafts[i * 7].from_county = Some(CountyCode::parse("from_county", code)?);
    }
    d.run(&d.office, Command::ImportPersons(ImportPersons { persons: drafts })).await?;

    if scenario == Scenario::Seed {
        let r5 = round(&d, (term, "四届市委"), 5, day(2024, 3, 4), day(2024, 5, 10), day(2024, 6, 21)).await?;
        let targets5 = staff_and_target(&mut d, r5, &units[24..33], 3).await?;
        d.advance(r5, &[RoundStatus::Approved, RoundStatus::InProgress]).await?;
        d.finish_round(&targets5, RoundShape { findings: 289, leads: Some(52) }, day(2024, 6, 21)).await?;
    }

    let r6 = round(&d, (term, "四届市委"), 6, day(2025, 3, 3), day(2025, 5, 9), day(2025, 6, 20)).await?;
    let round6: Vec<(UnitId, String)> = units[0..10].iter().chain(&new_units).cloned().collect();
    let targets6 = staff_and_target(&mut d, r6, &round6, 3).await?;
    d.advance(r6, &[RoundStatus::Approved, RoundStatus::InProgress]).await?;
    d.finish_round(&targets6, RoundShape { findings: 24, leads: None }, day(2025, 6, 20)).await?;

    let r7 = round(&d, (term, "四届市委"), 7, day(2026, 10, 14), day(2026, 12, 18), day(2027, 1, 20)).await?;
    let regular: Vec<(UnitId, String)> = units[12..24].to_vec();
    let targets7 = staff_and_target(&mut d, r7, &regular, 3).await?;
    for (unit, name) in &units[0..7] {
        let placed = place_target(&d, r7, *unit, TargetKind::Revisit, None).await?;
        anyhow::ensure!(placed, "no group of round seven can revisit {name}");
    }
    d.advance(r7, &[RoundStatus::Approved, RoundStatus::InProgress]).await?;
    d.first_findings(&targets7).await?;
    let linked: Vec<UnitId> = regular[0..7].iter().map(|u| u.0).collect();
    let name = "四届市委第七轮巡察上下联动工作方案".to_string();
    let plan = d
        .created(
            &d.office,
            Command::CreateLinkagePlan(CreateLinkagePlan { round: r7, name, linked_units: linked }),
            |r| r.as_linkage_plan().map(|p| p.id),
        )
        .await?;
    for (code, name) in counties {
        let tasks =
            format!("{name}对照市委第七轮巡察7个联动单位,对本地对应单位开展联动巡察,报送巡察报告,以下看上、相互印证。");
        let county = CountyCode::parse("county", code)?;
        let assignment = IssueAssignment { plan, county, tasks, due_on: day(2027, 1, 31) };
        d.run(&d.office, Command::IssueAssignment(assignment)).await?;
    }
    Ok(d.accounts)
}

/// Whether this node already planned rounds of its own (replicas of other nodes' do not count).
async fn has_own_rounds(api: &Api) -> bool {
    let me = api.engine().node().clone();
    api.engine().read(|s| s.rounds.values().any(|r| r.meta.owner == me)).await
}

const NUMERALS: [&str; 8] = ["一", "二", "三", "四", "五", "六", "七", "八"];

async fn round(
    d: &Demo<'_>,
    term: (TermId, &str),
    number: u32,
    enter: NaiveDate,
    leave: NaiveDate,
    feedback: NaiveDate,
) -> anyhow::Result<RoundId> {
    d.created(
        &d.office,
        Command::CreateRound(CreateRound {
            term: term.0,
            number,
            name: format!("{}第{}轮巡察", term.1, NUMERALS[(number as usize - 1) % 8]),
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
                    name: format!("第{}巡察组", NUMERALS[g % 8]),
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
