//! Bad input gets a clear error naming the field, and changes nothing.

use tonic::Code;
use xuncha_proto::v1 as pb;

use crate::fixtures::{Clients, bad_field, county, grant, staff, tls_channel};
use crate::scenario::{days_from_today, plan_round};

/// Runs `call`, expects `code` naming `field`, and checks the node's records, outbox and
/// ledger are exactly as before.
macro_rules! refused {
    ($c:expr, $code:expr, $field:expr, $call:expr) => {{
        let before = $c.footprint().await;
        let status = $call.await.expect_err("the request must be refused");
        assert_eq!(status.code(), $code, "{}", status.message());
        assert_eq!(bad_field(&status), $field, "{}", status.message());
        assert!(status.message().starts_with($field), "message names the field: {}", status.message());
        assert_eq!($c.footprint().await, before, "a refused request changed something");
        status
    }};
}

#[tokio::test]
async fn bad_requests_are_refused_with_the_field_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let node = county(dir.path(), "c03").await;
    let mut c = Clients::connect(node.addr()).await;
    let plan = plan_round(&mut c).await;

    // Dates out of order.
    let mut rounds = c.rounds.clone();
    refused!(
        c,
        Code::InvalidArgument,
        "dates.feedback_on",
        rounds.create_round(pb::CreateRoundRequest {
            term: plan.term.clone(),
            number: 6,
            name: "第六轮".into(),
            dates: Some(pb::RoundDates {
                enter_on: days_from_today(10),
                leave_on: days_from_today(40),
                feedback_on: days_from_today(30)
            }),
            ..Default::default()
        })
    );
    refused!(
        c,
        Code::InvalidArgument,
        "dates.enter_on",
        rounds.create_round(pb::CreateRoundRequest {
            term: plan.term.clone(),
            number: 6,
            name: "第六轮".into(),
            dates: Some(pb::RoundDates {
                enter_on: "2026-13-01".into(),
                leave_on: days_from_today(40),
                feedback_on: days_from_today(50)
            }),
            ..Default::default()
        })
    );

    // A member who works in a target unit must recuse.
    let mut members = plan.members.clone();
    members[3] = plan.insider.clone();
    let s = refused!(
        c,
        Code::FailedPrecondition,
        "members[3]",
        rounds.change_group(pb::ChangeGroupRequest {
            group: plan.group.clone(),
            leader: plan.leader.clone(),
            members,
            reason: "调整".into()
        })
    );
    assert!(s.message().contains("回避"), "{}", s.message());

    // After approval a change needs an amendment reason.
    refused!(
        c,
        Code::FailedPrecondition,
        "reason",
        rounds.change_round_dates(pb::ChangeRoundDatesRequest {
            round: plan.round.clone(),
            dates: Some(pb::RoundDates {
                enter_on: days_from_today(-61),
                leave_on: days_from_today(-20),
                feedback_on: days_from_today(-5)
            }),
            reason: String::new(),
        })
    );

    // An unknown category.
    let mut findings = c.findings.clone();
    refused!(
        c,
        Code::InvalidArgument,
        "category",
        findings.record_finding(pb::RecordFindingRequest {
            target: plan.targets[0].clone(),
            category: "no.such.category".into(),
            title: "t".into(),
            description: "d".into(),
            tags: vec![],
        })
    );

    // Sign-off by someone who is not the office.
    let f = c
        .findings
        .record_finding(pb::RecordFindingRequest {
            target: plan.targets[0].clone(),
            category: "style.bureaucratism".into(),
            title: "办事拖沓".into(),
            description: "d".into(),
            tags: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    c.rounds
        .give_feedback(pb::GiveFeedbackRequest { target: plan.targets[0].clone(), on: days_from_today(-5) })
        .await
        .unwrap();
    let item = c
        .rectify
        .add_item(pb::AddRectificationItemRequest {
            finding: f.id,
            kind: pb::RectificationKind::Measure as i32,
            measures: vec!["m".into()],
            responsible_unit: "u".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    c.rectify
        .update_item(pb::UpdateRectificationRequest {
            item: item.id.clone(),
            status: pb::RectificationStatus::Done as i32,
            evidence: "e".into(),
            note: String::new(),
        })
        .await
        .unwrap();
    // A clerk may not sign off (销号): that is the office head's.
    let raw = tls_channel(node.addr(), None).await.unwrap();
    let clerk = staff(&c.conn, raw, "clerk", "孙干部", vec![grant("office_clerk", pb::ScopeKind::County, "c03")]).await;
    let mut as_clerk = pb::rectification_service_client::RectificationServiceClient::new(clerk);
    let refusal = as_clerk
        .sign_off(pb::SignOffRectificationRequest { item: item.id.clone(), note: String::new() })
        .await
        .unwrap_err();
    assert_eq!(refusal.code(), Code::PermissionDenied, "{refusal:?}");
    assert_eq!(xuncha_wire::refused_permission(&refusal).as_deref(), Some("rectification.sign_off"));
    assert!(refusal.message().contains("销号"), "{}", refusal.message());
    let mut rectify = c.rectify.clone();

    // A malformed id.
    refused!(
        c,
        Code::InvalidArgument,
        "item",
        rectify.sign_off(pb::SignOffRectificationRequest { item: "not-an-id".into(), note: String::new() })
    );
    node.stop().await;
}
