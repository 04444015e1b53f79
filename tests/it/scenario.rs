//! A planned county round built through the gRPC API, shared by the tests.

use chrono::Duration;
use xuncha_proto::v1 as pb;

use crate::fixtures::{Clients, person};

/// Dates relative to today, so the scenario stays valid whenever the tests run.
pub fn days_from_today(n: i64) -> String {
    (xuncha_domain::common::office_date(chrono::Utc::now()) + Duration::days(n)).to_string()
}

/// What `plan_round` made.
pub struct Plan {
    pub term: String,
    pub units: Vec<String>,
    pub leader: String,
    pub members: Vec<String>,
    /// Works in `units[0]`: must recuse from it.
    pub insider: String,
    pub round: String,
    pub group: String,
    pub targets: Vec<String>,
}

/// Units, a term plan, a pool, and an approved round in progress with one group and three
/// targets (units 0..3; unit 3 stays uninspected).
pub async fn plan_round(c: &mut Clients) -> Plan {
    let mut units = Vec::new();
    for (name, kind) in [
        ("测试县财政局", pb::UnitKind::CountyDepartment),
        ("测试县教育局", pb::UnitKind::CountyDepartment),
        ("测试县水利局", pb::UnitKind::CountyDepartment),
        ("城关镇", pb::UnitKind::Township),
    ] {
        let u = c
            .units
            .register_unit(pb::RegisterUnitRequest { name: name.into(), kind: kind as i32, parent: String::new() })
            .await
            .unwrap()
            .into_inner();
        units.push(u.id);
    }
    let term = c
        .units
        .create_term(pb::CreateTermRequest {
            name: "十四届县委".into(),
            window: Some(pb::DateWindow { from: days_from_today(-1000), to: days_from_today(1000) }),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    c.units.plan_units(pb::PlanUnitsRequest { term: term.clone(), add: units.clone(), remove: vec![] }).await.unwrap();

    let add = |f: pb::PersonFields| {
        let mut pool = c.pool.clone();
        async move { pool.add_person(pb::AddPersonRequest { person: Some(f) }).await.unwrap().into_inner().id }
    };
    let leader = add(person("钱组长", 1970, pb::Rank::DivisionHead, &[pb::Specialty::Discipline], true)).await;
    let mut members = Vec::new();
    for (name, year, rank, spec) in [
        ("孙财务", 1982, pb::Rank::SectionHead, pb::Specialty::Finance),
        ("李法规", 1986, pb::Rank::DeputySectionHead, pb::Specialty::Law),
        ("周组织", 1979, pb::Rank::SectionHead, pb::Specialty::Personnel),
        ("吴纪检", 1990, pb::Rank::Staff, pb::Specialty::Discipline),
    ] {
        members.push(add(person(name, year, rank, &[spec], false)).await);
    }
    let mut insider_fields = person("郑内部", 1984, pb::Rank::SectionHead, &[pb::Specialty::Audit], false);
    insider_fields.work_unit = "测试县财政局".into();
    insider_fields.home_unit = units[0].clone();
    let insider = add(insider_fields).await;

    let round = c
        .rounds
        .create_round(pb::CreateRoundRequest {
            term: term.clone(),
            number: 5,
            name: "十四届县委第五轮巡察".into(),
            dates: Some(pb::RoundDates {
                enter_on: days_from_today(-60),
                leave_on: days_from_today(-20),
                feedback_on: days_from_today(-5),
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    let group = c
        .rounds
        .form_group(pb::FormGroupRequest {
            round: round.clone(),
            name: "第一巡察组".into(),
            leader: leader.clone(),
            members: members.clone(),
            reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    let mut targets = Vec::new();
    for unit in &units[0..3] {
        let t = c
            .rounds
            .add_target(pb::AddTargetRequest {
                round: round.clone(),
                group: group.clone(),
                unit: unit.clone(),
                kind: pb::TargetKind::Regular as i32,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        targets.push(t.id);
    }
    for to in [pb::RoundStatus::Approved, pb::RoundStatus::InProgress] {
        c.rounds.advance_round(pb::AdvanceRoundRequest { round: round.clone(), to: to as i32 }).await.unwrap();
    }
    Plan { term, units, leader, members, insider, round, group, targets }
}
