//! Chinese labels of the API's enums, for tables, and parsing them back from arguments. Each
//! value also has a code: its proto name without the enum prefix, lowercased
//! (`RECTIFICATION_STATUS_IN_PROGRESS` → `in_progress`), the same codes the server uses. A test
//! in the api crate checks these labels against the domain's.

use xuncha_proto::v1 as pb;

/// A proto enum with a Chinese label per value.
pub trait Labelled: Copy + PartialEq + Into<i32> + TryFrom<i32> + 'static {
    /// The values and their labels (not the unspecified one).
    const LABELS: &'static [(Self, &'static str)];
    /// The prefix of its proto value names (`RECTIFICATION_STATUS_`).
    const PREFIX: &'static str;
    /// The proto value name.
    fn proto_name(self) -> &'static str;

    fn label_zh(self) -> &'static str {
        Self::LABELS.iter().find(|(v, _)| *v == self).map(|(_, zh)| *zh).unwrap_or("-")
    }

    /// The code, e.g. `in_progress`.
    fn code(self) -> String {
        self.proto_name().strip_prefix(Self::PREFIX).unwrap_or(self.proto_name()).to_ascii_lowercase()
    }
}

/// The label of a raw enum value; "-" when unset or unknown.
pub fn label<E: Labelled>(value: i32) -> &'static str {
    E::try_from(value).map(|e| e.label_zh()).unwrap_or("-")
}

/// A value from its label or code (case-insensitive, `-` or `_`).
pub fn parse<E: Labelled>(text: &str) -> Option<E> {
    let t = text.trim();
    let norm = t.to_ascii_lowercase().replace('-', "_");
    E::LABELS.iter().find(|(v, zh)| *zh == t || v.code() == norm).map(|(v, _)| *v)
}

/// The accepted values, for error messages: "整改中/in_progress, ...".
pub fn choices<E: Labelled>() -> String {
    E::LABELS.iter().map(|(v, zh)| format!("{zh}/{}", v.code())).collect::<Vec<_>>().join(", ")
}

macro_rules! labels {
    ($t:ident, $prefix:literal { $($v:ident => $zh:literal,)* }) => {
        impl Labelled for pb::$t {
            const LABELS: &'static [(Self, &'static str)] = &[$((pb::$t::$v, $zh)),*];
            const PREFIX: &'static str = $prefix;
            fn proto_name(self) -> &'static str {
                self.as_str_name()
            }
        }
    };
}

labels!(UnitKind, "UNIT_KIND_" {
    CityDepartment => "市直部门",
    StateEnterprise => "市属国有企业",
    CountyDepartment => "县直部门",
    Township => "乡镇",
    Village => "村",
    Community => "社区",
    Other => "其他",
});

labels!(Rank, "RANK_" {
    DivisionHead => "正处",
    DeputyDivisionHead => "副处",
    SectionHead => "正科",
    DeputySectionHead => "副科",
    Staff => "科员",
});

labels!(PoolSource, "POOL_SOURCE_" {
    DisciplineCommission => "纪委监委",
    OrganisationDepartment => "组织部",
    InspectionOffice => "巡察办",
    OtherUnit => "其他单位",
});

labels!(Specialty, "SPECIALTY_" {
    Finance => "财务",
    Audit => "审计",
    Law => "法律",
    Discipline => "纪检监察",
    Personnel => "组织人事",
    Other => "其他",
});

labels!(Gender, "GENDER_" {
    Male => "男",
    Female => "女",
});

labels!(CategoryGroup, "CATEGORY_GROUP_" {
    ThreeBigProblems => "三大问题",
    SixDisciplines => "六项纪律",
    FourStyles => "四风",
    CadreSelection => "选人用人",
    Other => "其他",
});

labels!(LeadRoute, "LEAD_ROUTE_" {
    DisciplineCommission => "纪委监委",
    OrganisationDepartment => "组织部",
    FunctionalDepartment => "职能部门",
});

labels!(RoundStatus, "ROUND_STATUS_" {
    Draft => "草拟",
    Approved => "已批准",
    InProgress => "进驻中",
    FeedbackGiven => "已反馈",
    Rectifying => "整改中",
    Closed => "已结束",
});

labels!(TargetKind, "TARGET_KIND_" {
    Regular => "常规巡察",
    Special => "专项巡察",
    Revisit => "回头看",
    Linked => "联动巡察",
});

labels!(FindingStatus, "FINDING_STATUS_" {
    Recorded => "已记录",
    FedBack => "已反馈",
    Rectifying => "整改中",
    SignedOff => "已销号",
});

labels!(LeadStatus, "LEAD_STATUS_" {
    HandedOver => "已移交",
    Acknowledged => "已接收",
    ResultReported => "已反馈结果",
});

labels!(RectificationKind, "RECTIFICATION_KIND_" {
    Measure => "整改措施",
    Mechanism => "长效机制",
});

labels!(RectificationStatus, "RECTIFICATION_STATUS_" {
    Open => "未开始",
    InProgress => "整改中",
    Done => "待销号",
    SignedOff => "已销号",
    LongTerm => "长期坚持",
});

labels!(NoticeLevel, "NOTICE_LEVEL_" {
    Supervision => "督办",
    Admonition => "约谈",
    Accountability => "问责",
});

labels!(NoticeStatus, "NOTICE_STATUS_" {
    Open => "督办中",
    Closed => "已办结",
});

labels!(AssignmentStage, "ASSIGNMENT_STAGE_" {
    Issued => "已下达",
    Declined => "已拒绝",
    Accepted => "已接收",
    InProgress => "进行中",
    ReportSubmitted => "已报送",
    Returned => "已退回",
    Resubmitted => "已重新报送",
    Completed => "已审核通过",
});

labels!(AccountStatus, "ACCOUNT_STATUS_" {
    Active => "正常",
    Disabled => "已停用",
});

labels!(ScopeKind, "SCOPE_KIND_" {
    City => "全市",
    County => "一个县(市、区)",
    Round => "一个轮次",
    Group => "一个巡察组",
    Unit => "一个被巡察单位",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_codes_parse_back() {
        assert_eq!(label::<pb::RectificationStatus>(2), "整改中");
        assert_eq!(label::<pb::RectificationStatus>(0), "-");
        assert_eq!(pb::RectificationStatus::InProgress.code(), "in_progress");
        assert_eq!(parse::<pb::RectificationStatus>("整改中"), Some(pb::RectificationStatus::InProgress));
        assert_eq!(parse::<pb::RectificationStatus>("In-Progress"), Some(pb::RectificationStatus::InProgress));
        assert_eq!(parse::<pb::Rank>("木工"), None);
    }
}
