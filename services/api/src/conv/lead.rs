//! Problem leads.

use xuncha_domain::finding::{AcknowledgeLead, HandOverLead, ReleaseLead, ReportLeadResult};
use xuncha_domain::model::{Lead, LeadReceiver, LeadRoute, LeadStatus};
use xuncha_domain::{DomainError, DomainResult};
use xuncha_proto::v1 as pb;

use super::{FromPb, ToPb, enum_conv, id};

enum_conv!(pb::LeadStatus, LeadStatus, "lead status", [HandedOver, Acknowledged, ResultReported]);

impl ToPb for LeadReceiver {
    type Pb = pb::LeadReceiver;
    fn to_pb(&self) -> pb::LeadReceiver {
        match self {
            LeadReceiver::DisciplineCommission => {
                pb::LeadReceiver { route: LeadRoute::DisciplineCommission.to_pb(), department: String::new() }
            }
            LeadReceiver::OrganisationDepartment => {
                pb::LeadReceiver { route: LeadRoute::OrganisationDepartment.to_pb(), department: String::new() }
            }
            LeadReceiver::Department(name) => {
                pb::LeadReceiver { route: LeadRoute::FunctionalDepartment.to_pb(), department: name.clone() }
            }
        }
    }
}

fn receiver(r: &pb::LeadReceiver) -> DomainResult<LeadReceiver> {
    Ok(match LeadRoute::from_pb("receiver.route", r.route)? {
        LeadRoute::DisciplineCommission => LeadReceiver::DisciplineCommission,
        LeadRoute::OrganisationDepartment => LeadReceiver::OrganisationDepartment,
        LeadRoute::FunctionalDepartment => {
            if r.department.trim().is_empty() {
                return Err(DomainError::invalid("receiver.department", "name the department"));
            }
            LeadReceiver::Department(r.department.clone())
        }
    })
}

impl ToPb for Lead {
    type Pb = pb::Lead;
    fn to_pb(&self) -> pb::Lead {
        pb::Lead {
            id: self.id.to_string(),
            meta: self.meta.to_pb(),
            finding: self.finding.to_string(),
            target: self.target.to_string(),
            round: self.round.to_string(),
            receiver: Some(self.receiver.to_pb()),
            summary: self.summary.clone(),
            status: self.status.to_pb(),
            handed_over_on: self.handed_over_on.to_string(),
            acknowledged_by: self.acknowledged_by.clone().unwrap_or_default(),
            result: self.result.clone().unwrap_or_default(),
            released_to_city: self.released_to_city,
        }
    }
}

pub fn hand_over(r: &pb::HandOverLeadRequest) -> DomainResult<HandOverLead> {
    Ok(HandOverLead {
        finding: id("finding", &r.finding)?,
        summary: r.summary.clone(),
        receiver: r.receiver.as_ref().filter(|x| x.route != 0).map(receiver).transpose()?,
    })
}

pub fn acknowledge(r: &pb::AcknowledgeLeadRequest) -> DomainResult<AcknowledgeLead> {
    Ok(AcknowledgeLead { lead: id("lead", &r.lead)?, by: r.by.clone() })
}

pub fn report_result(r: &pb::ReportLeadResultRequest) -> DomainResult<ReportLeadResult> {
    Ok(ReportLeadResult { lead: id("lead", &r.lead)?, result: r.result.clone() })
}

pub fn release(r: &pb::ReleaseLeadRequest) -> DomainResult<ReleaseLead> {
    Ok(ReleaseLead { lead: id("lead", &r.lead)? })
}
