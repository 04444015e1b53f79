//! Talent-pool persons, suggestions and booking conflicts.

use xuncha_domain::DomainResult;
use xuncha_domain::model::{Gender, PastPost, Person, PoolSource, Rank, Specialty};
use xuncha_domain::roster::PersonDraft;
use xuncha_domain::staffing::{Booking, BookingSource, Choice, Conflict, SuggestRequest, Suggestion};
use xuncha_proto::v1 as pb;

use super::common::window;
use super::{FromPb, ToPb, enum_conv, id, ids, opt_date, opt_id};

enum_conv!(pb::Rank, Rank, "rank", [DivisionHead, DeputyDivisionHead, SectionHead, DeputySectionHead, Staff]);
enum_conv!(
    pb::PoolSource,
    PoolSource,
    "pool source",
    [DisciplineCommission, OrganisationDepartment, InspectionOffice, OtherUnit]
);
enum_conv!(pb::Specialty, Specialty, "specialty", [Finance, Audit, Law, Discipline, Personnel, Other]);
enum_conv!(pb::Gender, Gender, "gender", [Male, Female]);

/// The entered fields of a person; `prefix` names the request field (`person`).
pub fn draft(prefix: &str, f: &Option<pb::PersonFields>) -> DomainResult<PersonDraft> {
    let f = f.as_ref().ok_or_else(|| xuncha_domain::DomainError::invalid(prefix, "is required"))?;
    let n = |name: &str| format!("{prefix}.{name}");
    Ok(PersonDraft {
        name: f.name.clone(),
        gender: if f.gender == 0 { None } else { Some(Gender::from_pb(&n("gender"), f.gender)?) },
        birth_year: f.birth_year,
        rank: Rank::from_pb(&n("rank"), f.rank)?,
        source: PoolSource::from_pb(&n("source"), f.source)?,
        work_unit: f.work_unit.clone(),
        home_unit: opt_id(&n("home_unit"), &f.home_unit)?,
        past_posts: f
            .past_posts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                Ok(PastPost {
                    unit: id(&n(&format!("past_posts[{i}].unit")), &p.unit)?,
                    until: opt_date(&n(&format!("past_posts[{i}].until")), &p.until)?,
                })
            })
            .collect::<DomainResult<_>>()?,
        declared_conflicts: ids(&n("declared_conflicts"), &f.declared_conflicts)?.into_iter().collect(),
        specialties: f
            .specialties
            .iter()
            .enumerate()
            .map(|(i, s)| Specialty::from_pb(&n(&format!("specialties[{i}]")), *s))
            .collect::<DomainResult<_>>()?,
        leader_qualified: f.leader_qualified,
        active: f.active,
        unavailable: f
            .unavailable
            .iter()
            .enumerate()
            .map(|(i, w)| window(&n(&format!("unavailable[{i}]")), &Some(w.clone())))
            .collect::<DomainResult<_>>()?,
        from_county: super::opt_county(&n("from_county"), &f.from_county)?,
    })
}

impl ToPb for Person {
    type Pb = pb::Person;
    fn to_pb(&self) -> pb::Person {
        pb::Person {
            id: self.id.to_string(),
            meta: self.meta.to_pb(),
            fields: Some(pb::PersonFields {
                name: self.name.clone(),
                gender: self.gender.map(|g| g.to_pb()).unwrap_or(0),
                birth_year: self.birth_year,
                rank: self.rank.to_pb(),
                source: self.source.to_pb(),
                work_unit: self.work_unit.clone(),
                home_unit: self.home_unit.map(|u| u.to_string()).unwrap_or_default(),
                past_posts: self
                    .past_posts
                    .iter()
                    .map(|p| pb::PastPost { unit: p.unit.to_string(), until: super::date_text(p.until) })
                    .collect(),
                declared_conflicts: self.declared_conflicts.iter().map(|u| u.to_string()).collect(),
                specialties: self.specialties.iter().map(|s| s.to_pb()).collect(),
                leader_qualified: self.leader_qualified,
                active: self.active,
                unavailable: self.unavailable.iter().filter_map(|w| w.to_pb()).collect(),
                from_county: self.from_county.as_ref().map(ToString::to_string).unwrap_or_default(),
            }),
        }
    }
}

pub fn suggest_request(r: &pb::SuggestMembersRequest) -> DomainResult<SuggestRequest> {
    Ok(SuggestRequest {
        round: id("round", &r.round)?,
        group: opt_id("group", &r.group)?,
        units: ids("units", &r.units)?,
        leader: opt_id("leader", &r.leader)?,
        size: if r.size == 0 { None } else { Some(r.size) },
    })
}

impl ToPb for Choice {
    type Pb = pb::Choice;
    fn to_pb(&self) -> pb::Choice {
        pb::Choice { person: self.person.to_string(), name: self.name.clone(), reasons: self.reasons.clone() }
    }
}

impl ToPb for Suggestion {
    type Pb = pb::SuggestMembersResponse;
    fn to_pb(&self) -> pb::SuggestMembersResponse {
        pb::SuggestMembersResponse {
            leader: self.leader.as_ref().map(ToPb::to_pb),
            members: self.members.iter().map(ToPb::to_pb).collect(),
            not_chosen: self.not_chosen.iter().map(ToPb::to_pb).collect(),
            warnings: self.warnings.clone(),
        }
    }
}

impl ToPb for Booking {
    type Pb = pb::Booking;
    fn to_pb(&self) -> pb::Booking {
        let (group, secondment) = match &self.source {
            BookingSource::Group { group, .. } => (group.to_string(), String::new()),
            BookingSource::Secondment { request } => (String::new(), request.to_string()),
        };
        pb::Booking {
            person: self.person.to_string(),
            window: self.window.to_pb(),
            owner: self.owner.to_string(),
            label: self.label.clone(),
            group,
            secondment,
        }
    }
}

impl ToPb for Conflict {
    type Pb = pb::Conflict;
    fn to_pb(&self) -> pb::Conflict {
        pb::Conflict {
            person: self.person.to_string(),
            person_name: self.person_name.clone(),
            first: Some(self.first.to_pb()),
            second: Some(self.second.to_pb()),
        }
    }
}
