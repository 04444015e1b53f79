//! Chinese labels of the domain's enums, for tables and for reading imported files. Parsing
//! accepts the Chinese label or the snake_case English name.

use crate::model::*;
use crate::record::Kind;

/// An enum with a Chinese label and an English code.
pub trait Labelled: Sized + Copy + 'static {
    const VARIANTS: &'static [(Self, &'static str, &'static str)];

    fn label_zh(self) -> &'static str
    where
        Self: PartialEq,
    {
        Self::VARIANTS.iter().find(|(v, _, _)| *v == self).map(|(_, zh, _)| *zh).unwrap_or("?")
    }

    fn code(self) -> &'static str
    where
        Self: PartialEq,
    {
        Self::VARIANTS.iter().find(|(v, _, _)| *v == self).map(|(_, _, en)| *en).unwrap_or("?")
    }

    /// Parses a Chinese label or English code (case-insensitive, `-` or `_`).
    fn parse_label(text: &str) -> Option<Self> {
        let t = text.trim();
        let norm = t.to_ascii_lowercase().replace('-', "_");
        Self::VARIANTS.iter().find(|(_, zh, en)| *zh == t || *en == norm).map(|(v, _, _)| *v)
    }

    /// The accepted values in Chinese, for people: "男、女".
    fn choices_zh() -> String {
        Self::VARIANTS.iter().map(|(_, zh, _)| *zh).collect::<Vec<_>>().join("、")
    }

    /// The accepted values, for error messages.
    fn choices() -> String {
        Self::VARIANTS.iter().map(|(_, zh, en)| format!("{zh}/{en}")).collect::<Vec<_>>().join(", ")
    }
}

macro_rules! labels {
    ($t:ty { $($v:ident => $zh:literal, $en:literal;)* }) => {
        impl Labelled for $t {
            const VARIANTS: &'static [(Self, &'static str, &'static str)] = &[$((<$t>::$v, $zh, $en)),*];
        }
    };
}

labels!(UnitKind {
    CityDepartment => "市直部门", "city_department";
    StateEnterprise => "市属国有企业", "state_enterprise";
    CountyDepartment => "县直部门", "county_department";
    Township => "乡镇", "township";
    Village => "村", "village";
    Community => "社区", "community";
    Other => "其他", "other";
});

labels!(Rank {
    DivisionHead => "正处", "division_head";
    DeputyDivisionHead => "副处", "deputy_division_head";
    SectionHead => "正科", "section_head";
    DeputySectionHead => "副科", "deputy_section_head";
    Staff => "科员", "staff";
});

labels!(PoolSource {
    DisciplineCommission => "纪委监委", "discipline_commission";
    OrganisationDepartment => "组织部", "organisation_department";
    InspectionOffice => "巡察办", "inspection_office";
    OtherUnit => "其他单位", "other_unit";
});

labels!(Specialty {
    Finance => "财务", "finance";
    Audit => "审计", "audit";
    Law => "法律", "law";
    Discipline => "纪检监察", "discipline";
    Personnel => "组织人事", "personnel";
    Other => "其他", "other";
});

labels!(Gender {
    Male => "男", "male";
    Female => "女", "female";
});

labels!(CategoryGroup {
    ThreeBigProblems => "三大问题", "three_big_problems";
    SixDisciplines => "六项纪律", "six_disciplines";
    FourStyles => "四风", "four_styles";
    CadreSelection => "选人用人", "cadre_selection";
    Other => "其他", "other";
});

labels!(LeadRoute {
    DisciplineCommission => "纪委监委", "discipline_commission";
    OrganisationDepartment => "组织部", "organisation_department";
    FunctionalDepartment => "职能部门", "functional_department";
});

labels!(RoundStatus {
    Draft => "草拟", "draft";
    Approved => "已批准", "approved";
    InProgress => "进驻中", "in_progress";
    FeedbackGiven => "已反馈", "feedback_given";
    Rectifying => "整改中", "rectifying";
    Closed => "已结束", "closed";
});

labels!(TargetKind {
    Regular => "常规巡察", "regular";
    Special => "专项巡察", "special";
    Revisit => "回头看", "revisit";
    Linked => "联动巡察", "linked";
});

labels!(FindingStatus {
    Recorded => "已记录", "recorded";
    FedBack => "已反馈", "fed_back";
    Rectifying => "整改中", "rectifying";
    SignedOff => "已销号", "signed_off";
});

labels!(LeadStatus {
    HandedOver => "已移交", "handed_over";
    Acknowledged => "已接收", "acknowledged";
    ResultReported => "已反馈结果", "result_reported";
});

labels!(RectificationKind {
    Measure => "整改措施", "measure";
    Mechanism => "长效机制", "mechanism";
});

labels!(RectificationStatus {
    Open => "未开始", "open";
    InProgress => "整改中", "in_progress";
    Done => "待销号", "done";
    SignedOff => "已销号", "signed_off";
    LongTerm => "长期坚持", "long_term";
});

labels!(NoticeLevel {
    Supervision => "督办", "supervision";
    Admonition => "约谈", "admonition";
    Accountability => "问责", "accountability";
});

labels!(NoticeStatus {
    Open => "督办中", "open";
    Closed => "已办结", "closed";
});

labels!(AssignmentStage {
    Issued => "已下达", "issued";
    Declined => "已拒绝", "declined";
    Accepted => "已接收", "accepted";
    InProgress => "进行中", "in_progress";
    ReportSubmitted => "已报送", "report_submitted";
    Returned => "已退回", "returned";
    Resubmitted => "已重新报送", "resubmitted";
    Completed => "已审核通过", "completed";
});

labels!(Kind {
    Term => "届次", "term";
    Unit => "单位", "unit";
    Person => "人才库人员", "person";
    Category => "问题类别", "category";
    Round => "轮次", "round";
    Group => "巡察组", "group";
    Target => "巡察对象", "target";
    Finding => "问题", "finding";
    Lead => "问题线索", "lead";
    Rectification => "整改事项", "rectification";
    Notice => "督办通知", "notice";
    NoticeResponse => "督办回复", "notice_response";
    LinkagePlan => "联动方案", "linkage_plan";
    Assignment => "联动任务", "assignment";
    AssignmentResponse => "联动任务答复", "assignment_response";
    SecondmentRequest => "抽调请求", "secondment_request";
    SecondmentDecision => "抽调决定", "secondment_decision";
    Account => "账号", "account";
});

labels!(crate::account::AccountStatus {
    Active => "正常", "active";
    Disabled => "已停用", "disabled";
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip() {
        for (v, zh, en) in Rank::VARIANTS {
            assert_eq!(Rank::parse_label(zh), Some(*v));
            assert_eq!(Rank::parse_label(en), Some(*v));
        }
        assert_eq!(Specialty::parse_label(" Finance "), Some(Specialty::Finance));
        assert_eq!(Specialty::parse_label("木工"), None);
    }
}
