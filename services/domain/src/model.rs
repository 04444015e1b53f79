//! The records of the domain. Each has one owner node (see DOMAIN.md, "Who owns what") and a
//! version in its [`Meta`]. Decisions live in the sibling modules; these are the shapes.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::common::{Actor, DateWindow, Meta};
use crate::ids::*;

/// 届: a committee's term, with its term plan (巡察规划): the units to inspect during the term.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Term {
    pub id: TermId,
    pub meta: Meta,
    pub name: String,
    pub window: DateWindow,
    /// The term plan: every unit that must be inspected at least once (全覆盖).
    pub planned_units: BTreeSet<UnitId>,
}

/// What kind of body a unit is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// 市直部门
    CityDepartment,
    /// 市属国有企业
    StateEnterprise,
    /// 县直部门
    CountyDepartment,
    /// 乡镇
    Township,
    /// 村
    Village,
    /// 社区
    Community,
    /// 其他
    Other,
}

/// 被巡察单位 / 党组织: a unit that can be inspected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    pub id: UnitId,
    pub meta: Meta,
    pub name: String,
    pub kind: UnitKind,
    /// The unit it sits under (a village under its township), if any.
    pub parent: Option<UnitId>,
}

/// 职级, from highest to lowest; used to balance a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rank {
    /// 正处
    DivisionHead,
    /// 副处
    DeputyDivisionHead,
    /// 正科
    SectionHead,
    /// 副科
    DeputySectionHead,
    /// 科员
    Staff,
}

/// 抽调来源: which body seconds the person (the pool has three main sources).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolSource {
    /// 纪委监委
    DisciplineCommission,
    /// 组织部
    OrganisationDepartment,
    /// 巡察办
    InspectionOffice,
    /// 其他单位
    OtherUnit,
}

/// 专长. Finance and audit matter to group formation (at least one per group).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Specialty {
    /// 财务
    Finance,
    /// 审计
    Audit,
    /// 法律
    Law,
    /// 纪检监察
    Discipline,
    /// 组织人事
    Personnel,
    /// 其他
    Other,
}

impl Specialty {
    pub fn is_finance_or_audit(self) -> bool {
        matches!(self, Specialty::Finance | Specialty::Audit)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    Male,
    Female,
}

/// A post the person held; they are recused from that unit while in it and for a while after.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastPost {
    pub unit: UnitId,
    /// Last day in the post; `None` while still there.
    pub until: Option<NaiveDate>,
}

/// A person in a talent pool (巡察人才库). City-owned persons form the city pool; a county's
/// own persons form its pool. `leader_qualified` marks the leader pool (组长库).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: PersonId,
    pub meta: Meta,
    pub name: String,
    pub gender: Option<Gender>,
    pub birth_year: i32,
    pub rank: Rank,
    pub source: PoolSource,
    /// 工作单位, as written.
    pub work_unit: String,
    /// The registered unit the person works in, when there is one (for recusal).
    pub home_unit: Option<UnitId>,
    pub past_posts: Vec<PastPost>,
    /// Units the person declared a conflict with (relatives, former disputes, ...).
    pub declared_conflicts: BTreeSet<UnitId>,
    pub specialties: BTreeSet<Specialty>,
    /// 组长库
    pub leader_qualified: bool,
    /// Dynamic updates (动态更新): inactive persons stay on record but are not booked.
    pub active: bool,
    /// Periods the person cannot be seconded (training, leave, other duty).
    pub unavailable: Vec<DateWindow>,
    /// For a city-pool person seconded from a county: that county's code. The person's record
    /// is then replicated to that county.
    pub from_county: Option<CountyCode>,
}

/// 问题类别 group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CategoryGroup {
    /// 三大问题
    ThreeBigProblems,
    /// 六项纪律
    SixDisciplines,
    /// 四风 / 八项规定
    FourStyles,
    /// 选人用人
    CadreSelection,
    /// 其他
    Other,
}

/// Which body a lead of this category goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadRoute {
    /// 纪委监委: violations of discipline or law.
    DisciplineCommission,
    /// 组织部: cadre selection and appointment.
    OrganisationDepartment,
    /// 有关职能部门 or the unit itself.
    FunctionalDepartment,
}

/// A category of findings. Categories are data: seeded with the standard set, extensible.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    /// Stable code, e.g. `discipline.integrity`.
    pub code: String,
    pub meta: Meta,
    pub name: String,
    pub group: CategoryGroup,
    pub route: LeadRoute,
    pub active: bool,
}

/// Round lifecycle: draft → approved → in progress → feedback given → rectifying → closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoundStatus {
    Draft,
    Approved,
    InProgress,
    FeedbackGiven,
    Rectifying,
    Closed,
}

/// 进驻 ≤ 撤离 ≤ 反馈.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundDates {
    pub enter_on: NaiveDate,
    pub leave_on: NaiveDate,
    pub feedback_on: NaiveDate,
}

impl RoundDates {
    /// The on-site window groups are booked for.
    pub fn window(&self) -> DateWindow {
        DateWindow { from: self.enter_on, to: self.leave_on }
    }
}

/// A recorded change to an approved plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amendment {
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub reason: String,
    /// What changed, in words.
    pub change: String,
}

/// Allowed group size (members besides the leader).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSize {
    pub min: u32,
    pub max: u32,
}

impl Default for GroupSize {
    fn default() -> Self {
        Self { min: 4, max: 6 }
    }
}

/// 轮次 with its plan (巡察工作方案): groups and targets hang off it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Round {
    pub id: RoundId,
    pub meta: Meta,
    pub term: TermId,
    /// 第几轮
    pub number: u32,
    pub name: String,
    pub dates: RoundDates,
    /// The unit's rectification report is due this many months after feedback (default 2).
    pub report_due_months: u32,
    pub group_size: GroupSize,
    pub status: RoundStatus,
    pub amendments: Vec<Amendment>,
}

/// 巡察组: formed for one round (一次一组建).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub id: GroupId,
    pub meta: Meta,
    pub round: RoundId,
    pub name: String,
    pub leader: PersonId,
    pub members: Vec<PersonId>,
}

impl Group {
    /// Leader first, then members.
    pub fn people(&self) -> impl Iterator<Item = PersonId> + '_ {
        std::iter::once(self.leader).chain(self.members.iter().copied())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// 常规巡察
    Regular,
    /// 专项巡察
    Special,
    /// 巡察"回头看"
    Revisit,
    /// 联动巡察
    Linked,
}

/// One unit inspected in one round by one group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub id: TargetId,
    pub meta: Meta,
    pub round: RoundId,
    pub group: GroupId,
    pub unit: UnitId,
    pub kind: TargetKind,
    /// Scope of a special inspection, notes for others.
    pub scope: Option<String>,
    /// For a county's linked target: the city assignment it carries out.
    pub assignment: Option<AssignmentId>,
    /// For a revisit: the unit's findings from earlier inspections, to check their rectification.
    pub inherited_findings: Vec<FindingId>,
    /// 反馈: the day findings were delivered to the unit's leadership.
    pub feedback_on: Option<NaiveDate>,
    /// The day the unit's rectification report came in.
    pub report_submitted_on: Option<NaiveDate>,
    /// Leads handed over from this target. Leads stay on their node; the count travels.
    pub lead_count: u32,
}

/// Finding lifecycle: recorded → fed back → rectifying → signed off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingStatus {
    Recorded,
    FedBack,
    Rectifying,
    SignedOff,
}

/// 问题: something wrong found at a unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub id: FindingId,
    pub meta: Meta,
    /// 问题〔2026〕42号
    #[serde(default)]
    pub reference: Reference,
    pub target: TargetId,
    pub round: RoundId,
    pub unit: UnitId,
    /// Primary category code.
    pub category: String,
    pub tags: BTreeSet<String>,
    pub title: String,
    pub description: String,
    pub status: FindingStatus,
}

/// The body a lead is handed to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadReceiver {
    DisciplineCommission,
    OrganisationDepartment,
    /// A named functional department, or the unit itself.
    Department(String),
}

impl LeadReceiver {
    pub fn label_zh(&self) -> String {
        match self {
            LeadReceiver::DisciplineCommission => "纪委监委".into(),
            LeadReceiver::OrganisationDepartment => "组织部".into(),
            LeadReceiver::Department(name) => name.clone(),
        }
    }
}

/// Lead lifecycle: handed over → acknowledged → result reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatus {
    HandedOver,
    Acknowledged,
    ResultReported,
}

/// 问题线索: the most confidential record. It leaves its node only when released to the city.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lead {
    pub id: LeadId,
    pub meta: Meta,
    pub finding: FindingId,
    pub target: TargetId,
    pub round: RoundId,
    pub receiver: LeadReceiver,
    pub summary: String,
    pub status: LeadStatus,
    pub handed_over_on: NaiveDate,
    pub acknowledged_by: Option<String>,
    pub result: Option<String>,
    /// A county marks a lead for the city; otherwise only the count travels.
    pub released_to_city: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RectificationKind {
    /// 整改措施
    Measure,
    /// 长效机制: tracked as its own item.
    Mechanism,
}

/// Rectification lifecycle: open → in progress → done → signed off; or long-term.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RectificationStatus {
    Open,
    InProgress,
    /// Done, awaiting the office's sign-off.
    Done,
    /// 销号
    SignedOff,
    /// An ongoing mechanism (长期坚持).
    LongTerm,
}

impl RectificationStatus {
    /// Still owed by the unit: counts toward overdue.
    pub fn is_pending(self) -> bool {
        matches!(self, RectificationStatus::Open | RectificationStatus::InProgress)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressNote {
    pub on: NaiveDate,
    pub by: String,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignOff {
    pub on: NaiveDate,
    pub by: String,
    pub note: Option<String>,
}

/// A record's number as offices cite it (整改〔2026〕42号): the year it was made and its place
/// among the owner's records of that kind that year. The owning node assigns it when the record
/// is made, so every node holding a copy shows the same number; with the owner's name it is
/// unique across nodes. Records made before numbering have none (number 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Reference {
    pub year: i32,
    pub number: u32,
}

impl Reference {
    /// The next number in `year` after those `taken`.
    pub fn next<'a>(taken: impl Iterator<Item = &'a Reference>, year: i32) -> Self {
        let last = taken.filter(|r| r.year == year).map(|r| r.number).max().unwrap_or(0);
        Reference { year, number: last + 1 }
    }

    /// "整改〔2026〕42号" for the word 整改; empty for a record made before numbering.
    pub fn cite(&self, word: &str) -> String {
        if self.number == 0 { String::new() } else { format!("{word}〔{}〕{}号", self.year, self.number) }
    }
}

/// 整改事项: the unit's answer to one finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RectificationItem {
    pub id: RectificationId,
    pub meta: Meta,
    /// 整改〔2026〕42号
    #[serde(default)]
    pub reference: Reference,
    pub finding: FindingId,
    pub target: TargetId,
    pub round: RoundId,
    pub unit: UnitId,
    pub kind: RectificationKind,
    pub measures: Vec<String>,
    /// 责任单位
    pub responsible_unit: String,
    /// 责任人
    pub responsible_person: Option<String>,
    pub deadline: NaiveDate,
    pub status: RectificationStatus,
    pub progress: Vec<ProgressNote>,
    pub evidence: Option<String>,
    pub sign_off: Option<SignOff>,
}

/// Escalation ladder of supervision: 督办 → 约谈 → 问责.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeLevel {
    /// 督办
    Supervision,
    /// 约谈
    Admonition,
    /// 问责
    Accountability,
}

/// Whom a notice presses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Addressee {
    /// A county office (from the city); the notice is replicated to that county.
    County(CountyCode),
    /// A unit this node inspected.
    Unit(UnitId),
}

/// What a notice is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeSubject {
    Rectification(RectificationId),
    Target(TargetId),
    Assignment(AssignmentId),
    General,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeStatus {
    Open,
    Closed,
}

/// 督办: the office presses a unit or a county office on an overdue or weak item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupervisionNotice {
    pub id: NoticeId,
    pub meta: Meta,
    pub addressee: Addressee,
    pub subject: NoticeSubject,
    pub level: NoticeLevel,
    pub text: String,
    pub respond_by: NaiveDate,
    /// The earlier notice this one escalates.
    pub escalates: Option<NoticeId>,
    pub status: NoticeStatus,
}

/// The addressee's answer to a notice; owned by the addressee's node, id = the notice's id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeResponse {
    pub id: NoticeId,
    pub meta: Meta,
    pub text: String,
    pub responded_on: NaiveDate,
}

/// The city round a county needs to know about, carried inside linkage records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundSummary {
    pub round: RoundId,
    pub name: String,
    pub dates: RoundDates,
}

/// 联动方案: city-owned; the city's linked targets and the counties taking part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkagePlan {
    pub id: LinkagePlanId,
    pub meta: Meta,
    pub round: RoundSummary,
    pub name: String,
    /// The city units inspected in linkage (their counterparts are the counties' work).
    pub linked_units: Vec<UnitId>,
}

/// The city's review of one submitted linked report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewOutcome {
    Accepted,
    /// Returned with comments; the county resubmits.
    Returned,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// The report revision reviewed.
    pub revision: u32,
    pub outcome: ReviewOutcome,
    pub comments: Option<String>,
    pub on: NaiveDate,
    pub by: String,
}

/// A linked assignment (联动任务) to one county; city-owned, replicated to that county.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedAssignment {
    pub id: AssignmentId,
    pub meta: Meta,
    pub plan: LinkagePlanId,
    pub county: CountyCode,
    pub round: RoundSummary,
    /// Names of the city's linked units; the county reports on its counterparts (以下看上).
    pub counterpart_units: Vec<String>,
    pub tasks: String,
    pub due_on: NaiveDate,
    pub reviews: Vec<Review>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentDecision {
    Accepted,
    Declined,
}

/// A report on the linked work, possibly revised after the city returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedReport {
    pub revision: u32,
    pub summary: String,
    pub units_inspected: u32,
    pub problems_found: u32,
    pub submitted_on: NaiveDate,
}

/// The county's answer to an assignment; county-owned, id = the assignment's id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentResponse {
    pub id: AssignmentId,
    pub meta: Meta,
    pub decision: AssignmentDecision,
    pub decline_reason: Option<String>,
    pub progress_percent: u32,
    pub progress_note: Option<String>,
    pub report: Option<LinkedReport>,
}

/// Where a linked assignment stands, derived from the city's record and the county's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentStage {
    Issued,
    Declined,
    Accepted,
    InProgress,
    ReportSubmitted,
    Returned,
    Resubmitted,
    Completed,
}

/// 抽调 request: the city asks a county for one of its pool persons.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondmentRequest {
    pub id: SecondmentId,
    pub meta: Meta,
    pub person: PersonId,
    pub county: CountyCode,
    pub window: DateWindow,
    pub purpose: String,
}

/// The county's decision on a secondment request; id = the request's id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondmentDecision {
    pub id: SecondmentId,
    pub meta: Meta,
    pub approved: bool,
    pub reason: Option<String>,
    pub decided_on: NaiveDate,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_count_up_within_a_year_and_start_again_in_the_next() {
        let taken = [
            Reference { year: 2026, number: 1 },
            Reference { year: 2026, number: 7 },
            Reference { year: 2025, number: 40 },
        ];
        assert_eq!(Reference::next(taken.iter(), 2026), Reference { year: 2026, number: 8 });
        assert_eq!(Reference::next(taken.iter(), 2027), Reference { year: 2027, number: 1 });
        assert_eq!(Reference { year: 2026, number: 42 }.cite("整改"), "整改〔2026〕42号");
        assert_eq!(Reference::default().cite("整改"), "", "made before numbering: no number shown");
    }
}
