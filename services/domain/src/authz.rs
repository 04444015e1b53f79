//! 授权: who may do what. Roles are data with named permissions ([`ROLES`]); an account holds
//! role grants, each over a scope (the whole city, one county, one round or group, one unit);
//! [`permits`] is the whole role × permission matrix, and [`Principal::authorize`] decides
//! whether a signed-in person may act on one record: a grant whose role permits the action and
//! whose scope covers the record's [`Position`]. docs/authorization.md writes the matrix out; a
//! test checks it against this file.

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, DomainResult};
use crate::ids::*;
use crate::model::*;
use crate::state::State;

macro_rules! permissions {
    ($($v:ident => $code:literal, $zh:literal;)*) => {
        /// A named permission: one kind of action on one area of records.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub enum Permission { $($v),* }

        impl Permission {
            pub const ALL: &'static [Permission] = &[$(Permission::$v),*];

            /// The stable code, e.g. `rectification.sign_off`.
            pub fn code(self) -> &'static str {
                match self { $(Permission::$v => $code),* }
            }

            /// What it allows, in Chinese.
            pub fn label_zh(self) -> &'static str {
                match self { $(Permission::$v => $zh),* }
            }
        }
    };
}

permissions! {
    PlanRead => "plan.read", "查看届次、规划、被巡察单位和问题类别";
    PlanManage => "plan.manage", "管理届次、巡察规划和被巡察单位";
    CategoryManage => "category.manage", "管理问题类别";
    PoolRead => "pool.read", "查看巡察人才库";
    PoolManage => "pool.manage", "管理巡察人才库";
    RoundRead => "round.read", "查看轮次、巡察组和巡察对象";
    RoundPlan => "round.plan", "编制巡察工作方案(轮次、巡察组、巡察对象)";
    RoundApprove => "round.approve", "审批巡察工作方案";
    FeedbackGive => "feedback.give", "反馈巡察情况";
    FindingRead => "finding.read", "查看问题";
    FindingRecord => "finding.record", "记录问题";
    LeadRead => "lead.read", "查看问题线索";
    LeadHandOver => "lead.hand_over", "移交问题线索";
    LeadReceive => "lead.receive", "接收和办理问题线索";
    LeadRelease => "lead.release", "向市委巡察办报送问题线索";
    RectificationRead => "rectification.read", "查看整改台账和督办";
    RectificationPlan => "rectification.plan", "制定整改措施";
    RectificationReport => "rectification.report", "报告整改进展";
    RectificationSignOff => "rectification.sign_off", "销号";
    NoticeIssue => "notice.issue", "督办(发出、办结)";
    NoticeRespond => "notice.respond", "回复督办";
    LinkageRead => "linkage.read", "查看上下联动";
    LinkageIssue => "linkage.issue", "部署联动方案、联动任务和抽调";
    LinkageRespond => "linkage.respond", "承办联动任务(答复、进展、报告)";
    LinkageReview => "linkage.review", "审核联动巡察报告";
    SecondmentDecide => "secondment.decide", "审批抽调";
    OversightRead => "oversight.read", "查看统筹督导(覆盖、整改、逾期)";
    LedgerRead => "ledger.read", "查看和导出台账";
    AccountRead => "account.read", "查看账号";
    AccountManage => "account.manage", "管理账号和授权";
    NodeRead => "node.read", "查看节点状态";
    ClusterRead => "cluster.read", "查看集群状态";
    ClusterManage => "cluster.manage", "管理集群成员和快照";
    BackupTake => "backup.take", "备份";
}

impl Permission {
    pub fn parse(code: &str) -> Option<Permission> {
        Permission::ALL.iter().copied().find(|p| p.code() == code.trim())
    }
}

impl TryFrom<String> for Permission {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Permission::parse(&s).ok_or_else(|| format!("'{s}' is not a permission"))
    }
}

impl From<Permission> for String {
    fn from(p: Permission) -> String {
        p.code().to_string()
    }
}

/// A built-in role. County offices hold the same office roles, scoped to their county.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleCode {
    /// 巡察办主任: everything of the office, with approvals, 销号 and accounts.
    OfficeHead,
    /// 巡察办干部: the office's daily work, without approvals and 销号.
    // Ledgers written before accounts named the office role `office`.
    #[serde(alias = "office")]
    OfficeClerk,
    /// 巡察组组长: their round and group only.
    #[serde(alias = "group")]
    GroupLeader,
    /// 巡察组成员: their round and group only.
    GroupMember,
    /// 被巡察单位联络人: their own unit's rectification only.
    #[serde(alias = "unit")]
    UnitLiaison,
    /// 协作部门(纪委监委): the leads handed to the discipline commission.
    DisciplineCommission,
    /// 协作部门(组织部): the leads handed to the organisation department.
    OrganisationDepartment,
    /// 只读审计: reads everything but leads, changes nothing.
    Auditor,
    /// 运维: the cluster and backups, no business data.
    Operator,
}

/// Which kind of scope a grant has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    City,
    County,
    Round,
    Group,
    Unit,
}

impl ScopeKind {
    pub const ALL: [ScopeKind; 5] =
        [ScopeKind::City, ScopeKind::County, ScopeKind::Round, ScopeKind::Group, ScopeKind::Unit];

    pub fn code(self) -> &'static str {
        match self {
            ScopeKind::City => "city",
            ScopeKind::County => "county",
            ScopeKind::Round => "round",
            ScopeKind::Group => "group",
            ScopeKind::Unit => "unit",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            ScopeKind::City => "全市",
            ScopeKind::County => "一个县(市、区)",
            ScopeKind::Round => "一个轮次",
            ScopeKind::Group => "一个巡察组",
            ScopeKind::Unit => "一个被巡察单位",
        }
    }
}

/// A role definition: data, not code scattered through the rules.
#[derive(Debug)]
pub struct RoleDef {
    pub role: RoleCode,
    /// Stable code, e.g. `office_head`.
    pub code: &'static str,
    /// Its name, e.g. 巡察办主任.
    pub name: &'static str,
    /// What it is for.
    pub summary: &'static str,
    /// The scopes it may be granted over.
    pub scopes: &'static [ScopeKind],
    pub permissions: &'static [Permission],
    /// Lead permissions of this role reach only leads handed to this body.
    pub lead_route: Option<LeadRoute>,
}

use Permission::*;

const OFFICE_SCOPES: &[ScopeKind] = &[ScopeKind::City, ScopeKind::County];
const ROUND_SCOPES: &[ScopeKind] = &[ScopeKind::Round, ScopeKind::Group];

/// The built-in roles.
pub const ROLES: &[RoleDef] = &[
    RoleDef {
        role: RoleCode::OfficeHead,
        code: "office_head",
        name: "巡察办主任",
        summary: "巡察办全部工作,含审批方案、销号、审核联动报告、审批抽调、报送线索和账号管理",
        scopes: OFFICE_SCOPES,
        permissions: &[
            PlanRead,
            PlanManage,
            CategoryManage,
            PoolRead,
            PoolManage,
            RoundRead,
            RoundPlan,
            RoundApprove,
            FeedbackGive,
            FindingRead,
            FindingRecord,
            LeadRead,
            LeadHandOver,
            LeadReceive,
            LeadRelease,
            RectificationRead,
            RectificationPlan,
            RectificationReport,
            RectificationSignOff,
            NoticeIssue,
            NoticeRespond,
            LinkageRead,
            LinkageIssue,
            LinkageRespond,
            LinkageReview,
            SecondmentDecide,
            OversightRead,
            LedgerRead,
            AccountRead,
            AccountManage,
            NodeRead,
        ],
        lead_route: None,
    },
    RoleDef {
        role: RoleCode::OfficeClerk,
        code: "office_clerk",
        name: "巡察办干部",
        summary: "巡察办日常工作;不审批方案、不销号、不审核联动报告、不审批抽调、不管理账号",
        scopes: OFFICE_SCOPES,
        permissions: &[
            PlanRead,
            PlanManage,
            CategoryManage,
            PoolRead,
            PoolManage,
            RoundRead,
            RoundPlan,
            FeedbackGive,
            FindingRead,
            FindingRecord,
            LeadRead,
            LeadHandOver,
            LeadReceive,
            RectificationRead,
            RectificationPlan,
            RectificationReport,
            NoticeIssue,
            NoticeRespond,
            LinkageRead,
            LinkageIssue,
            LinkageRespond,
            OversightRead,
            LedgerRead,
            AccountRead,
            NodeRead,
        ],
        lead_route: None,
    },
    RoleDef {
        role: RoleCode::GroupLeader,
        code: "group_leader",
        name: "巡察组组长",
        summary: "本轮次、本组:记录问题、反馈、移交问题线索",
        scopes: ROUND_SCOPES,
        permissions: &[
            PlanRead,
            RoundRead,
            FeedbackGive,
            FindingRead,
            FindingRecord,
            LeadRead,
            LeadHandOver,
            RectificationRead,
        ],
        lead_route: None,
    },
    RoleDef {
        role: RoleCode::GroupMember,
        code: "group_member",
        name: "巡察组成员",
        summary: "本轮次、本组:查看方案、记录问题",
        scopes: ROUND_SCOPES,
        permissions: &[PlanRead, RoundRead, FindingRead, FindingRecord],
        lead_route: None,
    },
    RoleDef {
        role: RoleCode::UnitLiaison,
        code: "unit_liaison",
        name: "被巡察单位联络人",
        summary: "本单位:查看反馈的问题,制定整改措施、报告整改进展、回复督办",
        scopes: &[ScopeKind::Unit],
        permissions: &[
            RoundRead,
            FindingRead,
            RectificationRead,
            RectificationPlan,
            RectificationReport,
            NoticeRespond,
        ],
        lead_route: None,
    },
    RoleDef {
        role: RoleCode::DisciplineCommission,
        code: "discipline_commission",
        name: "协作部门(纪委监委)",
        summary: "移交纪委监委的问题线索:接收、反馈处置结果",
        scopes: OFFICE_SCOPES,
        permissions: &[LeadRead, LeadReceive],
        lead_route: Some(LeadRoute::DisciplineCommission),
    },
    RoleDef {
        role: RoleCode::OrganisationDepartment,
        code: "organisation_department",
        name: "协作部门(组织部)",
        summary: "移交组织部的选人用人问题线索:接收、反馈处置结果",
        scopes: OFFICE_SCOPES,
        permissions: &[LeadRead, LeadReceive],
        lead_route: Some(LeadRoute::OrganisationDepartment),
    },
    RoleDef {
        role: RoleCode::Auditor,
        code: "auditor",
        name: "只读审计",
        summary: "查看除问题线索外的全部记录和台账,不作任何修改",
        scopes: OFFICE_SCOPES,
        permissions: &[
            PlanRead,
            PoolRead,
            RoundRead,
            FindingRead,
            RectificationRead,
            LinkageRead,
            OversightRead,
            LedgerRead,
            AccountRead,
            NodeRead,
        ],
        lead_route: None,
    },
    RoleDef {
        role: RoleCode::Operator,
        code: "operator",
        name: "运维",
        summary: "节点状态、集群和备份;不接触业务数据",
        scopes: OFFICE_SCOPES,
        permissions: &[NodeRead, ClusterRead, ClusterManage, BackupTake],
        lead_route: None,
    },
];

impl RoleCode {
    pub const ALL: [RoleCode; 9] = [
        RoleCode::OfficeHead,
        RoleCode::OfficeClerk,
        RoleCode::GroupLeader,
        RoleCode::GroupMember,
        RoleCode::UnitLiaison,
        RoleCode::DisciplineCommission,
        RoleCode::OrganisationDepartment,
        RoleCode::Auditor,
        RoleCode::Operator,
    ];

    pub fn def(self) -> &'static RoleDef {
        ROLES.iter().find(|d| d.role == self).expect("every role has a definition")
    }

    pub fn code(self) -> &'static str {
        self.def().code
    }

    pub fn label_zh(self) -> &'static str {
        self.def().name
    }

    /// Parses a code (`office_head`) or a name (巡察办主任).
    pub fn parse(text: &str) -> Option<RoleCode> {
        let t = text.trim();
        ROLES.iter().find(|d| d.code == t || d.name == t).map(|d| d.role)
    }
}

/// The role × permission matrix.
pub fn permits(role: RoleCode, permission: Permission) -> bool {
    role.def().permissions.contains(&permission)
}

/// The roles that hold `permission`, for refusals.
pub fn roles_with(permission: Permission) -> Vec<RoleCode> {
    RoleCode::ALL.into_iter().filter(|r| permits(*r, permission)).collect()
}

/// What a grant reaches.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Scope {
    /// Everything the city node holds (city accounts only).
    City,
    /// One county's records, and the city's records addressed to it.
    County(CountyCode),
    /// One round: its groups, targets, findings and what follows from them.
    Round(RoundId),
    /// One group: its targets and what follows from them, and its round's plan.
    Group(GroupId),
    /// One inspected unit: its target, its fed-back findings, its rectification and notices.
    Unit(UnitId),
}

impl Scope {
    pub fn kind(&self) -> ScopeKind {
        match self {
            Scope::City => ScopeKind::City,
            Scope::County(_) => ScopeKind::County,
            Scope::Round(_) => ScopeKind::Round,
            Scope::Group(_) => ScopeKind::Group,
            Scope::Unit(_) => ScopeKind::Unit,
        }
    }

    /// The id part: a county code or a record id; empty for the city.
    pub fn id_string(&self) -> String {
        match self {
            Scope::City => String::new(),
            Scope::County(c) => c.to_string(),
            Scope::Round(r) => r.to_string(),
            Scope::Group(g) => g.to_string(),
            Scope::Unit(u) => u.to_string(),
        }
    }

    /// A readable name: 全市, the county's configured name (its code where none is), or the
    /// round, group or unit's name.
    pub fn label_zh(&self, state: &State) -> String {
        match self {
            Scope::City => "全市".into(),
            Scope::County(c) => state.county_label(c),
            Scope::Round(r) => state.rounds.get(r).map(|x| x.name.clone()).unwrap_or_else(|| "(未知轮次)".into()),
            Scope::Group(g) => match state.groups.get(g) {
                Some(x) => {
                    let round = state.rounds.get(&x.round).map(|r| r.name.as_str()).unwrap_or("");
                    format!("{round}{}", x.name)
                }
                None => "(未知巡察组)".into(),
            },
            Scope::Unit(u) => state.units.get(u).map(|x| x.name.clone()).unwrap_or_else(|| "(未知单位)".into()),
        }
    }

    /// Whether a record at `pos` lies in this scope.
    pub fn covers(&self, state: &State, pos: &Position) -> bool {
        match self {
            Scope::City => true,
            Scope::County(c) => pos.county.as_ref() == Some(c) || pos.all_counties,
            Scope::Round(r) => pos.round == Some(*r),
            Scope::Group(g) => {
                pos.group == Some(*g)
                    || (pos.is_round_level() && state.groups.get(g).is_some_and(|x| Some(x.round) == pos.round))
            }
            Scope::Unit(u) => {
                pos.unit == Some(*u)
                    || (pos.is_round_level()
                        && pos.round.is_some_and(|r| state.targets_of_round(r).any(|t| t.unit == *u)))
            }
        }
    }

    /// Whether everything in `inner` lies in this scope (for granting).
    pub fn contains(&self, state: &State, inner: &Scope) -> bool {
        match (self, inner) {
            (Scope::City, _) => true,
            (Scope::County(c), Scope::County(d)) => c == d,
            (outer, Scope::Round(r)) => state.rounds.get(r).is_some_and(|x| outer.covers(state, &x.position(state))),
            (outer, Scope::Group(g)) => match state.groups.get(g) {
                Some(x) => matches!(outer, Scope::Group(h) if h == g) || outer.covers(state, &x.position(state)),
                None => false,
            },
            (outer, Scope::Unit(u)) => state.units.get(u).is_some_and(|x| outer.covers(state, &x.position(state))),
            _ => false,
        }
    }
}

/// A role held over a scope.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Grant {
    pub role: RoleCode,
    pub scope: Scope,
}

impl Grant {
    pub fn new(role: RoleCode, scope: Scope) -> Self {
        Self { role, scope }
    }

    /// Whether this grant lets its holder do `permission` on a record at `pos`.
    pub fn allows(&self, state: &State, permission: Permission, pos: &Position) -> bool {
        if !permits(self.role, permission) || !self.scope.covers(state, pos) {
            return false;
        }
        match self.role.def().lead_route {
            Some(route) if matches!(permission, LeadRead | LeadReceive) => pos.lead_route == Some(route),
            // A receiving body sees leads only: nothing else reaches it through the lead permissions.
            _ => true,
        }
    }

    pub fn label_zh(&self, state: &State) -> String {
        format!("{}({})", self.role.label_zh(), self.scope.label_zh(state))
    }
}

/// Where a record lies, for scopes: its owner, the county it belongs or is addressed to, and the
/// round, group and unit it is part of.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Position {
    pub owner: Option<NodeId>,
    /// The county the record belongs to (its owner) or is addressed to.
    pub county: Option<CountyCode>,
    /// Addressed to every county (the categories).
    pub all_counties: bool,
    pub round: Option<RoundId>,
    pub group: Option<GroupId>,
    pub unit: Option<UnitId>,
    /// For a lead: the body it goes to.
    pub lead_route: Option<LeadRoute>,
}

impl Position {
    /// A record owned by `owner` and, if a city record, addressed to `to_county`.
    pub fn owned(owner: &NodeId, to_county: Option<&CountyCode>) -> Self {
        let county = owner.county_of().or_else(|| to_county.cloned());
        Self { owner: Some(owner.clone()), county, ..Default::default() }
    }

    /// The node itself (its status, its accounts, records it will create).
    pub fn node(node: &NodeId) -> Self {
        Self::owned(node, None)
    }

    /// A round's own record (not one of its groups or targets).
    fn is_round_level(&self) -> bool {
        self.round.is_some() && self.group.is_none() && self.unit.is_none()
    }
}

/// Records that know where they lie.
pub trait Located {
    fn position(&self, state: &State) -> Position;
}

impl Located for Position {
    fn position(&self, _: &State) -> Position {
        self.clone()
    }
}

impl Located for Term {
    fn position(&self, _: &State) -> Position {
        Position::owned(&self.meta.owner, None)
    }
}

impl Located for Unit {
    fn position(&self, _: &State) -> Position {
        Position { unit: Some(self.id), ..Position::owned(&self.meta.owner, None) }
    }
}

impl Located for Person {
    fn position(&self, _: &State) -> Position {
        Position::owned(&self.meta.owner, self.from_county.as_ref())
    }
}

impl Located for Category {
    fn position(&self, _: &State) -> Position {
        Position { all_counties: self.meta.owner.is_city(), ..Position::owned(&self.meta.owner, None) }
    }
}

impl Located for Round {
    fn position(&self, _: &State) -> Position {
        Position { round: Some(self.id), ..Position::owned(&self.meta.owner, None) }
    }
}

impl Located for Group {
    fn position(&self, _: &State) -> Position {
        Position { round: Some(self.round), group: Some(self.id), ..Position::owned(&self.meta.owner, None) }
    }
}

impl Located for Target {
    fn position(&self, _: &State) -> Position {
        Position {
            round: Some(self.round),
            group: Some(self.group),
            unit: Some(self.unit),
            ..Position::owned(&self.meta.owner, None)
        }
    }
}

fn group_of_target(state: &State, target: TargetId) -> Option<GroupId> {
    state.targets.get(&target).map(|t| t.group)
}

impl Located for Finding {
    fn position(&self, state: &State) -> Position {
        Position {
            round: Some(self.round),
            group: group_of_target(state, self.target),
            // The unit sees a finding only once it was fed back to it.
            unit: (self.status != FindingStatus::Recorded).then_some(self.unit),
            ..Position::owned(&self.meta.owner, None)
        }
    }
}

impl Located for Lead {
    fn position(&self, state: &State) -> Position {
        Position {
            round: Some(self.round),
            group: group_of_target(state, self.target),
            // Never the unit: leads are about its people.
            unit: None,
            lead_route: Some(match &self.receiver {
                LeadReceiver::DisciplineCommission => LeadRoute::DisciplineCommission,
                LeadReceiver::OrganisationDepartment => LeadRoute::OrganisationDepartment,
                LeadReceiver::Department(_) => LeadRoute::FunctionalDepartment,
            }),
            ..Position::owned(&self.meta.owner, None)
        }
    }
}

impl Located for RectificationItem {
    fn position(&self, state: &State) -> Position {
        Position {
            round: Some(self.round),
            group: group_of_target(state, self.target),
            unit: Some(self.unit),
            ..Position::owned(&self.meta.owner, None)
        }
    }
}

impl Located for SupervisionNotice {
    fn position(&self, _: &State) -> Position {
        match &self.addressee {
            Addressee::County(c) => Position::owned(&self.meta.owner, Some(c)),
            Addressee::Unit(u) => Position { unit: Some(*u), ..Position::owned(&self.meta.owner, None) },
        }
    }
}

impl Located for NoticeResponse {
    fn position(&self, state: &State) -> Position {
        match state.notices.get(&self.id) {
            Some(n) => Position { owner: Some(self.meta.owner.clone()), ..n.position(state) },
            None => Position::owned(&self.meta.owner, None),
        }
    }
}

impl Located for LinkagePlan {
    fn position(&self, _: &State) -> Position {
        Position::owned(&self.meta.owner, None)
    }
}

impl Located for LinkedAssignment {
    fn position(&self, _: &State) -> Position {
        Position::owned(&self.meta.owner, Some(&self.county))
    }
}

impl Located for AssignmentResponse {
    fn position(&self, _: &State) -> Position {
        Position::owned(&self.meta.owner, None)
    }
}

impl Located for SecondmentRequest {
    fn position(&self, _: &State) -> Position {
        Position::owned(&self.meta.owner, Some(&self.county))
    }
}

impl Located for SecondmentDecision {
    fn position(&self, _: &State) -> Position {
        Position::owned(&self.meta.owner, None)
    }
}

impl Located for crate::account::Account {
    fn position(&self, _: &State) -> Position {
        Position::owned(&self.meta.owner, None)
    }
}

impl Located for crate::record::Record {
    fn position(&self, state: &State) -> Position {
        use crate::record::Record as R;
        match self {
            R::Term(r) => r.position(state),
            R::Unit(r) => r.position(state),
            R::Person(r) => r.position(state),
            R::Category(r) => r.position(state),
            R::Round(r) => r.position(state),
            R::Group(r) => r.position(state),
            R::Target(r) => r.position(state),
            R::Finding(r) => r.position(state),
            R::Lead(r) => r.position(state),
            R::Rectification(r) => r.position(state),
            R::Notice(r) => r.position(state),
            R::NoticeResponse(r) => r.position(state),
            R::LinkagePlan(r) => r.position(state),
            R::Assignment(r) => r.position(state),
            R::AssignmentResponse(r) => r.position(state),
            R::SecondmentRequest(r) => r.position(state),
            R::SecondmentDecision(r) => r.position(state),
            R::Account(r) => r.position(state),
        }
    }
}

/// A signed-in person as the rules see them: the account, its grants, the session acted in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub account: AccountId,
    pub username: String,
    pub display_name: String,
    /// The node the account belongs to (`city` or `county/<code>`).
    pub organisation: NodeId,
    pub grants: Vec<Grant>,
    pub session: Option<crate::account::SessionKey>,
    /// The password was reset: only changing it is allowed until then.
    pub must_change_password: bool,
    /// The client's name for the write this call makes, if it gave one (idempotent retries).
    pub request: Option<crate::request::RequestId>,
}

impl Principal {
    pub fn of(account: &crate::account::Account, session: Option<crate::account::SessionKey>) -> Self {
        Self {
            account: account.id,
            username: account.username.clone(),
            display_name: account.display_name.clone(),
            organisation: account.meta.owner.clone(),
            grants: account.grants.clone(),
            session,
            must_change_password: account.must_change_password,
            request: None,
        }
    }

    /// Holds `permission` over some scope (what the edge checks before any record is read).
    pub fn holds(&self, permission: Permission) -> bool {
        self.grants.iter().any(|g| permits(g.role, permission))
    }

    /// Whether the person may do `permission` on `at`.
    pub fn may(&self, state: &State, permission: Permission, at: &impl Located) -> bool {
        let pos = at.position(state);
        self.grants.iter().any(|g| g.allows(state, permission, &pos))
    }

    /// The role under which the person may do `permission` on `at`, or the refusal: it names
    /// the permission, the person and the roles or scope that would allow it.
    pub fn authorize(&self, state: &State, permission: Permission, at: &impl Located) -> DomainResult<RoleCode> {
        let pos = at.position(state);
        if let Some(g) = self.grants.iter().find(|g| g.allows(state, permission, &pos)) {
            return Ok(g.role);
        }
        Err(self.refusal(state, permission))
    }

    /// Why `permission` is refused to this person.
    pub fn refusal(&self, state: &State, permission: Permission) -> DomainError {
        let held: Vec<String> = self.grants.iter().map(|g| g.label_zh(state)).collect();
        let held = if held.is_empty() { "无任何角色".to_string() } else { held.join("、") };
        let reason = if self.holds(permission) {
            format!(
                "「{}」({})权限不及于该记录:{}的授权范围为{held}",
                permission.label_zh(),
                permission.code(),
                self.display_name
            )
        } else {
            let roles: Vec<&str> = roles_with(permission).iter().map(|r| r.label_zh()).collect();
            format!(
                "{}({held})没有「{}」({})权限;该权限属于{}",
                self.display_name,
                permission.label_zh(),
                permission.code(),
                roles.join("、")
            )
        };
        DomainError::denied_permission(permission.code(), reason)
    }

    /// Whether this person may hand `grant` to someone: they hold a role at least as strong
    /// over a scope containing it (a person may grant only what they hold).
    pub fn may_grant(&self, state: &State, grant: &Grant) -> bool {
        let wanted = grant.role.def();
        self.grants.iter().any(|mine| {
            let have = mine.role.def();
            let stronger = wanted.permissions.iter().all(|p| have.permissions.contains(p))
                && (have.lead_route.is_none() || have.lead_route == wanted.lead_route);
            stronger && mine.scope.contains(state, &grant.scope)
        })
    }
}

/// Checks that `grant` fits an account of `organisation` on this node: a scope kind its role
/// allows, the city only for city accounts, a county only its own, and a round, group or unit
/// that exists and belongs to the account's node.
pub fn check_grant(state: &State, organisation: &NodeId, field: &str, grant: &Grant) -> DomainResult<()> {
    let def = grant.role.def();
    let kind = grant.scope.kind();
    if !def.scopes.contains(&kind) {
        let kinds: Vec<&str> = def.scopes.iter().map(|k| k.label_zh()).collect();
        return Err(DomainError::invalid(
            field,
            format!("{}的授权范围只能是{},不能是{}", def.name, kinds.join("或"), kind.label_zh()),
        ));
    }
    let owned_here = |owner: &NodeId| owner == organisation;
    match &grant.scope {
        Scope::City => {
            if !organisation.is_city() {
                return Err(DomainError::invalid(field, "县(市、区)账号不能授予全市范围"));
            }
        }
        Scope::County(code) => {
            if let Some(mine) = organisation.county_code()
                && code != mine
            {
                return Err(DomainError::invalid(field, format!("{organisation}的账号只能授予本县范围,不能是{code}")));
            }
        }
        Scope::Round(r) => {
            let round = state.rounds.get(r).ok_or_else(|| DomainError::not_found(field, format!("轮次{r}")))?;
            if !owned_here(&round.meta.owner) {
                return Err(DomainError::invalid(field, format!("轮次「{}」不属于{organisation}", round.name)));
            }
        }
        Scope::Group(g) => {
            let group = state.groups.get(g).ok_or_else(|| DomainError::not_found(field, format!("巡察组{g}")))?;
            if !owned_here(&group.meta.owner) {
                return Err(DomainError::invalid(field, format!("巡察组「{}」不属于{organisation}", group.name)));
            }
        }
        Scope::Unit(u) => {
            let unit = state.units.get(u).ok_or_else(|| DomainError::not_found(field, format!("单位{u}")))?;
            if !owned_here(&unit.meta.owner) {
                return Err(DomainError::invalid(field, format!("单位「{}」不属于{organisation}", unit.name)));
            }
        }
    }
    Ok(())
}

/// The role × permission matrix as a Markdown table (docs/authorization.md holds it; a test
/// checks the document against this).
pub fn matrix_markdown() -> String {
    let mut out = String::from("| 权限 | 代码 |");
    for r in RoleCode::ALL {
        out.push_str(&format!(" {} |", r.label_zh()));
    }
    out.push_str("\n|---|---|");
    for _ in RoleCode::ALL {
        out.push_str(":-:|");
    }
    out.push('\n');
    for p in Permission::ALL {
        out.push_str(&format!("| {} | `{}` |", p.label_zh(), p.code()));
        for r in RoleCode::ALL {
            out.push_str(if permits(r, *p) { " ✓ |" } else { " |" });
        }
        out.push('\n');
    }
    out
}

/// The roles as a Markdown table: code, name, scopes, what it is for.
pub fn roles_markdown() -> String {
    let mut out = String::from("| 代码 | 角色 | 授权范围 | 职责 |\n|---|---|---|---|\n");
    for d in ROLES {
        let scopes: Vec<&str> = d.scopes.iter().map(|k| k.label_zh()).collect();
        out.push_str(&format!("| `{}` | {} | {} | {} |\n", d.code, d.name, scopes.join("、"), d.summary));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_county_scope_is_named_as_the_configuration_names_the_county() {
        let code = CountyCode::parse("county", "anping").unwrap();
        let mut state = State::default();
        assert_eq!(Scope::County(code.clone()).label_zh(&state), "县(市、区)anping");
        state.county_names.insert(code.clone(), "安平县".into());
        let grant = Grant::new(RoleCode::OfficeHead, Scope::County(code));
        assert_eq!(grant.label_zh(&state), "巡察办主任(安平县)");
    }

    #[test]
    fn the_document_holds_the_matrix_and_the_roles_as_the_code_has_them() {
        let doc = include_str!("../../../docs/authorization.md");
        assert!(
            doc.contains(&matrix_markdown()),
            "docs/authorization.md: the matrix differs from authz::permits; regenerate it with authz::matrix_markdown()"
        );
        assert!(doc.contains(&roles_markdown()), "docs/authorization.md: the roles differ from authz::ROLES");
    }

    #[test]
    fn every_role_is_defined_once_with_its_scopes() {
        for r in RoleCode::ALL {
            assert_eq!(ROLES.iter().filter(|d| d.role == r).count(), 1, "{r:?}");
            assert!(!r.def().scopes.is_empty());
            assert_eq!(RoleCode::parse(r.code()), Some(r));
            assert_eq!(RoleCode::parse(r.label_zh()), Some(r));
        }
        assert_eq!(ROLES.len(), RoleCode::ALL.len());
    }

    #[test]
    fn every_permission_is_held_by_some_role_and_codes_are_unique() {
        for p in Permission::ALL {
            assert!(!roles_with(*p).is_empty(), "{} is held by nobody", p.code());
            assert_eq!(Permission::parse(p.code()), Some(*p));
        }
        let codes: std::collections::BTreeSet<&str> = Permission::ALL.iter().map(|p| p.code()).collect();
        assert_eq!(codes.len(), Permission::ALL.len());
    }

    #[test]
    fn only_the_head_signs_off_and_operators_touch_no_business() {
        assert!(permits(RoleCode::OfficeHead, RectificationSignOff));
        assert!(!permits(RoleCode::OfficeClerk, RectificationSignOff));
        assert!(!permits(RoleCode::UnitLiaison, RectificationSignOff));
        let business = [PlanRead, PoolRead, RoundRead, FindingRead, LeadRead, RectificationRead, LedgerRead];
        assert!(business.iter().all(|p| !permits(RoleCode::Operator, *p)));
        assert!(!permits(RoleCode::Auditor, LeadRead));
        for p in Permission::ALL {
            if p.code().ends_with(".read") || *p == NodeRead {
                continue;
            }
            assert!(!permits(RoleCode::Auditor, *p), "the auditor may {}", p.code());
        }
    }
}
