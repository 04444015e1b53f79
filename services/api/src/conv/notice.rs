//! Supervision notices and responses.

use xuncha_domain::model::{Addressee, NoticeLevel, NoticeResponse, NoticeStatus, NoticeSubject, SupervisionNotice};
use xuncha_domain::rectification::{CloseNotice, IssueNotice, RespondNotice};
use xuncha_domain::{DomainError, DomainResult};
use xuncha_proto::v1 as pb;

use super::{FromPb, ToPb, date, enum_conv, id, opt_id};

enum_conv!(pb::NoticeLevel, NoticeLevel, "notice level", [Supervision, Admonition, Accountability]);
enum_conv!(pb::NoticeStatus, NoticeStatus, "notice status", [Open, Closed]);

/// A notice as a message, with the response held here (if any).
pub fn notice_pb(n: &SupervisionNotice, response: Option<&NoticeResponse>) -> pb::SupervisionNotice {
    let (addressee_county, addressee_unit) = match &n.addressee {
        Addressee::County(c) => (c.to_string(), String::new()),
        Addressee::Unit(u) => (String::new(), u.to_string()),
    };
    let mut out = pb::SupervisionNotice {
        id: n.id.to_string(),
        meta: n.meta.to_pb(),
        addressee_county,
        addressee_unit,
        level: n.level.to_pb(),
        text: n.text.clone(),
        respond_by: n.respond_by.to_string(),
        escalates: n.escalates.map(|e| e.to_string()).unwrap_or_default(),
        status: n.status.to_pb(),
        response: response.map(|r| pb::NoticeResponse {
            meta: r.meta.to_pb(),
            text: r.text.clone(),
            responded_on: r.responded_on.to_string(),
        }),
        ..Default::default()
    };
    match &n.subject {
        NoticeSubject::Rectification(i) => out.subject_rectification = i.to_string(),
        NoticeSubject::Target(t) => out.subject_target = t.to_string(),
        NoticeSubject::Assignment(a) => out.subject_assignment = a.to_string(),
        NoticeSubject::General => {}
    }
    out
}

pub fn issue(r: &pb::IssueNoticeRequest) -> DomainResult<IssueNotice> {
    let addressee = match (r.addressee_county.trim(), r.addressee_unit.trim()) {
        (c, "") if !c.is_empty() => Addressee::County(super::county("addressee_county", c)?),
        ("", u) if !u.is_empty() => Addressee::Unit(id("addressee_unit", u)?),
        _ => {
            return Err(DomainError::invalid(
                "addressee_county",
                "give exactly one of addressee_county and addressee_unit",
            ));
        }
    };
    let subjects = [
        opt_id("subject_rectification", &r.subject_rectification)?.map(NoticeSubject::Rectification),
        opt_id("subject_target", &r.subject_target)?.map(NoticeSubject::Target),
        opt_id("subject_assignment", &r.subject_assignment)?.map(NoticeSubject::Assignment),
    ];
    let mut given = subjects.into_iter().flatten();
    let subject = given.next().unwrap_or(NoticeSubject::General);
    if given.next().is_some() {
        return Err(DomainError::invalid("subject_rectification", "督办对象只能有一个"));
    }
    Ok(IssueNotice {
        addressee,
        subject,
        level: NoticeLevel::from_pb("level", r.level)?,
        text: r.text.clone(),
        respond_by: date("respond_by", &r.respond_by)?,
        escalates: opt_id("escalates", &r.escalates)?,
    })
}

pub fn respond(r: &pb::RespondNoticeRequest) -> DomainResult<RespondNotice> {
    Ok(RespondNotice { notice: id("notice", &r.notice)?, text: r.text.clone() })
}

pub fn close(r: &pb::CloseNoticeRequest) -> DomainResult<CloseNotice> {
    Ok(CloseNotice { notice: id("notice", &r.notice)? })
}
