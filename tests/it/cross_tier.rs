//! Work that crosses tiers, over sync through the real path: a linked assignment from issue to
//! an accepted report (returned once on the way); leads that stay in their county until
//! released; secondment (抽调), where a person booked by both tiers at once shows as a conflict
//! on both sides, with both bookings kept, until the offices resolve it.

use std::collections::BTreeSet;
use std::time::Duration;

use tonic::Code;
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::oversight_service_client::OversightServiceClient;

use crate::federation::{COUNTIES, Federation};
use crate::fixtures::{Clients, admin, bad_field, eventually, tls_channel};

fn window(from: &str, to: &str) -> Option<pb::DateWindow> {
    Some(pb::DateWindow { from: from.into(), to: to.into() })
}

async fn conflicts(c: &mut Clients) -> Vec<pb::Conflict> {
    c.pool.list_conflicts(pb::ListConflictsRequest {}).await.unwrap().into_inner().conflicts
}

async fn secondments(c: &mut Clients) -> Vec<pb::Secondment> {
    c.linkage.list_secondments(pb::ListSecondmentsRequest {}).await.unwrap().into_inner().secondments
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_person_booked_by_both_tiers_shows_as_a_conflict_on_both_sides_until_resolved() {
    let fed = Federation::start(&["anping"]).await;
    xuncha_node::demo::seed_county_by(
        &fed.county("anping").api,
        Some(crate::fixtures::admin_session(&fed.county("anping").api).await),
        "安平县",
        21,
    )
    .await
    .unwrap();
    let mut county = Clients::connect_tls(fed.county("anping").addr(), &fed.operator()).await;
    let leader = fed.city.leader().await;
    let mut city = Clients::connect_tls(fed.city.addrs[&leader], &fed.operator()).await;

    // The county plans its next round and picks its people (not yet formed).
    let rounds = county.rounds.list_rounds(pb::ListRoundsRequest::default()).await.unwrap().into_inner().rounds;
    let round = county
        .rounds
        .create_round(pb::CreateRoundRequest {
            term: rounds[0].term.clone(),
            number: 7,
            name: "十四届县委第七轮巡察".into(),
            dates: Some(pb::RoundDates {
                enter_on: "2026-12-14".into(),
                leave_on: "2026-12-25".into(),
                feedback_on: "2026-12-30".into(),
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let pick = county
        .pool
        .suggest_members(pb::SuggestMembersRequest { round: round.id.clone(), size: 5, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let group_leader = pick.leader.expect("a leader qualifies").person;
    let members: Vec<String> = pick.members.iter().map(|m| m.person.clone()).collect();
    let wanted = members[0].clone();
    let picked: BTreeSet<&String> = members.iter().chain([&group_leader]).collect();
    let persons = county.pool.list_persons(pb::ListPersonsRequest::default()).await.unwrap().into_inner().persons;
    let other = persons
        .iter()
        .find(|p| p.fields.as_ref().is_some_and(|f| f.active) && !picked.contains(&p.id))
        .expect("someone else")
        .id
        .clone();
    fed.converged().await;

    // Cut off, each side books the same person for overlapping windows, unaware of the other.
    fed.offline("anping", true);
    let ask_wanted = city
        .linkage
        .request_secondment(pb::RequestSecondmentRequest {
            person: wanted.clone(),
            window: window("2026-12-20", "2027-01-10"),
            purpose: "市委第八轮巡察".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let ask_other = city
        .linkage
        .request_secondment(pb::RequestSecondmentRequest {
            person: other.clone(),
            window: window("2027-06-01", "2027-06-30"),
            purpose: "市委专项巡察".into(),
        })
        .await
        .unwrap()
        .into_inner();
    county
        .rounds
        .form_group(pb::FormGroupRequest {
            round: round.id.clone(),
            name: "第一巡察组".into(),
            leader: group_leader.clone(),
            members: members.clone(),
            reason: String::new(),
        })
        .await
        .expect("the county does not know of the city's request yet");
    fed.offline("anping", false);
    fed.converged().await;

    // Both sides see the conflict, and both bookings are kept.
    for (side, c) in [("city", &mut city), ("county", &mut county)] {
        let found = conflicts(c).await;
        assert_eq!(found.len(), 1, "{side}: {found:?}");
        let conflict = &found[0];
        assert_eq!(conflict.person, wanted, "{side}");
        let bookings = [conflict.first.clone().unwrap(), conflict.second.clone().unwrap()];
        let owners: BTreeSet<&str> = bookings.iter().map(|b| b.owner.as_str()).collect();
        assert_eq!(owners, BTreeSet::from(["city", "county/anping"]), "{side}");
        assert!(bookings.iter().any(|b| !b.group.is_empty()), "{side}: the county's group booking is kept");
        assert!(bookings.iter().any(|b| b.secondment == ask_wanted.id), "{side}: the city's request is kept");
    }

    // The county cannot approve a request for someone it has booked; it declines with a reason.
    let before = county.footprint().await;
    let refused = county
        .linkage
        .decide_secondment(pb::DecideSecondmentRequest {
            request: ask_wanted.id.clone(),
            approve: true,
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert_eq!(bad_field(&refused), "request");
    assert_eq!(county.footprint().await, before, "a refused decision changes nothing");
    county
        .linkage
        .decide_secondment(pb::DecideSecondmentRequest {
            request: ask_wanted.id.clone(),
            approve: false,
            reason: "已编入本县第七轮巡察第一巡察组".into(),
        })
        .await
        .unwrap();
    county
        .linkage
        .decide_secondment(pb::DecideSecondmentRequest {
            request: ask_other.id.clone(),
            approve: true,
            reason: String::new(),
        })
        .await
        .unwrap();
    fed.converged().await;

    // The decisions reached the city; the conflict is gone on both sides.
    let at_city = secondments(&mut city).await;
    let decision =
        |id: &str| at_city.iter().find(|s| s.id == id).map(|s| (s.decision.clone(), s.decision_reason.clone()));
    assert_eq!(decision(&ask_wanted.id), Some(("declined".into(), "已编入本县第七轮巡察第一巡察组".into())));
    assert_eq!(decision(&ask_other.id), Some(("approved".into(), String::new())));
    assert!(conflicts(&mut city).await.is_empty());
    assert!(conflicts(&mut county).await.is_empty());

    // Knowing the county's booking now, the city is told so when it asks again, and nothing is written.
    let before = city.footprint().await;
    let refused = city
        .linkage
        .request_secondment(pb::RequestSecondmentRequest {
            person: wanted.clone(),
            window: window("2026-12-15", "2026-12-22"),
            purpose: "市委第八轮巡察".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert_eq!(bad_field(&refused), "person");
    assert!(refused.message().contains("第七轮"), "{refused:?}");
    assert_eq!(city.footprint().await, before);
}

async fn assignment_at(c: &mut Clients, id: &str) -> Option<pb::LinkedAssignment> {
    let all = c.linkage.list_assignments(pb::ListAssignmentsRequest::default()).await.unwrap().into_inner();
    all.assignments.into_iter().find(|a| a.id == id)
}

/// Polls `c` until the assignment reaches `stage`.
async fn wait_stage(c: &mut Clients, side: &str, id: &str, stage: pb::AssignmentStage) -> pb::LinkedAssignment {
    let what = format!("{side} to see the assignment {}", stage.as_str_name());
    eventually(&what, Duration::from_secs(60), || {
        let mut c = c.clone();
        async move { assignment_at(&mut c, id).await.filter(|a| a.stage == stage as i32) }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_linked_assignment_goes_from_issue_to_an_accepted_report_across_tiers() {
    let fed = Federation::start(&COUNTIES).await;
    let leader = fed.city.leader().await;
    let counties: Vec<(&str, &str)> = vec![("anping", "安平县"), ("qinghe", "清河县")];
    xuncha_node::demo::seed_city_by(
        &fed.city.node(leader).api,
        Some(crate::fixtures::admin_session(&fed.city.node(leader).api).await),
        &counties,
        31,
    )
    .await
    .unwrap();
    let mut city = Clients::connect_tls(fed.city.addrs[&leader], &fed.operator()).await;
    let mut anping = Clients::connect_tls(fed.county("anping").addr(), &fed.operator()).await;
    let mut qinghe = Clients::connect_tls(fed.county("qinghe").addr(), &fed.operator()).await;
    let issued = city
        .linkage
        .list_assignments(pb::ListAssignmentsRequest { county: "anping".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .assignments;
    let id = issued[0].id.clone();
    wait_stage(&mut anping, "anping", &id, pb::AssignmentStage::Issued).await;

    // The county accepts, reports progress and its linked report.
    anping
        .linkage
        .respond_assignment(pb::RespondAssignmentRequest {
            assignment: id.clone(),
            accept: true,
            reason: String::new(),
        })
        .await
        .unwrap();
    anping
        .linkage
        .report_progress(pb::ReportAssignmentProgressRequest {
            assignment: id.clone(),
            percent: 40,
            note: "已进驻3个对应单位".into(),
        })
        .await
        .unwrap();
    wait_stage(&mut city, "the city", &id, pb::AssignmentStage::InProgress).await;
    let report = |summary: &str| pb::SubmitLinkedReportRequest {
        assignment: id.clone(),
        summary: summary.into(),
        units_inspected: 3,
        problems_found: 7,
    };
    anping.linkage.submit_report(report("联动巡察报告:发现问题7个")).await.unwrap();
    let at_city = wait_stage(&mut city, "the city", &id, pb::AssignmentStage::ReportSubmitted).await;
    assert_eq!(at_city.response.as_ref().map(|r| r.progress_percent), Some(100));

    // The city returns it with comments; the county sees them and resubmits; the city accepts.
    city.linkage
        .review_report(pb::ReviewLinkedReportRequest {
            assignment: id.clone(),
            accept: false,
            comments: "请补充以下看上、相互印证的情况".into(),
        })
        .await
        .unwrap();
    let at_county = wait_stage(&mut anping, "anping", &id, pb::AssignmentStage::Returned).await;
    assert_eq!(at_county.reviews[0].comments, "请补充以下看上、相互印证的情况");
    anping.linkage.submit_report(report("联动巡察报告(修改稿):已补充相互印证情况")).await.unwrap();
    wait_stage(&mut city, "the city", &id, pb::AssignmentStage::Resubmitted).await;
    city.linkage
        .review_report(pb::ReviewLinkedReportRequest { assignment: id.clone(), accept: true, comments: String::new() })
        .await
        .unwrap();
    wait_stage(&mut anping, "anping", &id, pb::AssignmentStage::Completed).await;
    fed.converged().await;

    // Qinghe holds its own assignment and nothing of anping's.
    let at_qinghe = qinghe.linkage.list_assignments(pb::ListAssignmentsRequest::default()).await.unwrap().into_inner();
    assert!(!at_qinghe.assignments.is_empty());
    assert!(at_qinghe.assignments.iter().all(|a| a.county == "qinghe"), "{:?}", at_qinghe.assignments);
}

async fn leads_at(c: &Clients) -> Vec<pb::Lead> {
    c.leads.clone().list_leads(pb::ListLeadsRequest::default()).await.unwrap().into_inner().leads
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leads_stay_in_their_county_until_released_and_only_counts_travel() {
    let fed = Federation::start(&["anping"]).await;
    xuncha_node::demo::seed_county_by(
        &fed.county("anping").api,
        Some(crate::fixtures::admin_session(&fed.county("anping").api).await),
        "安平县",
        41,
    )
    .await
    .unwrap();
    fed.converged().await;
    let leader = fed.city.leader().await;
    let city = Clients::connect_tls(fed.city.addrs[&leader], &fed.operator()).await;
    let mut anping = Clients::connect_tls(fed.county("anping").addr(), &fed.operator()).await;
    let at_county = leads_at(&anping).await;
    assert!(at_county.len() >= 2, "the demo hands over leads");
    assert!(leads_at(&city).await.is_empty(), "no lead leaves the county unreleased");
    // The city sees how many there are.
    let channel = admin(tls_channel(fed.city.addrs[&leader], Some(&fed.operator())).await.unwrap()).await;
    let oversight =
        OversightServiceClient::new(channel).get_oversight(pb::GetOversightRequest {}).await.unwrap().into_inner();
    let counted = oversight.nodes.iter().find(|n| n.node == "county/anping").map(|n| n.leads);
    assert_eq!(counted, Some(at_county.len() as u32));

    anping.leads.release_lead(pb::ReleaseLeadRequest { lead: at_county[0].id.clone() }).await.unwrap();
    let released = eventually("the released lead at the city", Duration::from_secs(60), || {
        let city = city.clone();
        async move { Some(leads_at(&city).await).filter(|l| !l.is_empty()) }
    })
    .await;
    assert_eq!(released.iter().map(|l| l.id.clone()).collect::<Vec<_>>(), vec![at_county[0].id.clone()]);
    fed.converged().await;
    assert_eq!(leads_at(&city).await.len(), 1, "only the released lead");
}
