//! A whole county round through the real path: gRPC over a socket to a node on SQLite.

use std::io::Cursor;

use calamine::{Reader, Xlsx};
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::ledger_service_client::LedgerServiceClient;
use xuncha_proto::v1::oversight_service_client::OversightServiceClient;

use crate::fixtures::{Clients, channel, county, grant, staff, tls_channel};
use crate::scenario::{days_from_today, plan_round};

#[tokio::test]
async fn a_county_round_from_plan_to_sign_off() {
    let dir = tempfile::tempdir().unwrap();
    let node = county(dir.path(), "c01").await;
    let mut c = Clients::connect(node.addr()).await;
    let plan = plan_round(&mut c).await;
    // Each step is done by the person whose work it is, signed in as themselves.
    let raw = tls_channel(node.addr(), None).await.unwrap();
    let leader_roles = vec![grant("group_leader", pb::ScopeKind::Group, &plan.group)];
    let mut g = Clients::over(staff(&c.conn, raw.clone(), "leader", "钱组长", leader_roles).await);
    let commission_roles = vec![grant("discipline_commission", pb::ScopeKind::County, "c01")];
    let mut k = Clients::over(staff(&c.conn, raw.clone(), "jiwei", "孙案管", commission_roles).await);
    let liaison_roles = vec![
        grant("unit_liaison", pb::ScopeKind::Unit, &plan.units[0]),
        grant("unit_liaison", pb::ScopeKind::Unit, &plan.units[1]),
    ];
    let mut u = Clients::over(staff(&c.conn, raw, "liaison", "李联络", liaison_roles).await);

    // The staffing suggestion explains itself and leaves out the people already booked.
    let s = c
        .pool
        .suggest_members(pb::SuggestMembersRequest { round: plan.round.clone(), size: 4, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert!(
        s.not_chosen.iter().any(|x| x.person == plan.members[0] && x.reasons.iter().any(|r| r.contains("时间冲突")))
    );

    // Findings at two targets, one of them a discipline matter that becomes a lead.
    let f1 = g
        .findings
        .record_finding(pb::RecordFindingRequest {
            target: plan.targets[0].clone(),
            category: "discipline.integrity".into(),
            title: "违规发放津补贴".into(),
            description: "2024年以来违规发放各类补贴".into(),
            tags: vec!["八项规定".into()],
        })
        .await
        .unwrap()
        .into_inner();
    let f2 = g
        .findings
        .record_finding(pb::RecordFindingRequest {
            target: plan.targets[1].clone(),
            category: "style.formalism".into(),
            title: "文山会海".into(),
            description: "会议多、文件多".into(),
            tags: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    let lead = g
        .leads
        .hand_over_lead(pb::HandOverLeadRequest {
            finding: f1.id.clone(), summary: "涉嫌违纪".into(), receiver: None
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(lead.receiver.unwrap().route, pb::LeadRoute::DisciplineCommission as i32, "routed by category");
    k.leads.acknowledge_lead(pb::AcknowledgeLeadRequest { lead: lead.id.clone(), by: "王某".into() }).await.unwrap();
    let lead = k
        .leads
        .report_lead_result(pb::ReportLeadResultRequest { lead: lead.id, result: "已立案".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(lead.status, pb::LeadStatus::ResultReported as i32);

    // Feedback to every target moves the round on.
    for t in &plan.targets {
        c.rounds.give_feedback(pb::GiveFeedbackRequest { target: t.clone(), on: days_from_today(-5) }).await.unwrap();
    }
    let round = c.rounds.get_round(pb::GetRoundRequest { id: plan.round.clone() }).await.unwrap().into_inner();
    assert_eq!(round.round.unwrap().status, pb::RoundStatus::FeedbackGiven as i32);
    let t0 = round.targets.iter().find(|t| t.id == plan.targets[0]).unwrap();
    assert_eq!(t0.lead_count, 1);
    assert!(!t0.report_due_on.is_empty(), "report due two months after feedback");

    // Rectification: items, progress, sign-off by the office.
    let mut items = Vec::new();
    for f in [&f1, &f2] {
        let item = u
            .rectify
            .add_item(pb::AddRectificationItemRequest {
                finding: f.id.clone(),
                kind: pb::RectificationKind::Measure as i32,
                measures: vec!["清退违规发放资金".into(), "修订财务制度".into()],
                responsible_unit: "局党组".into(),
                responsible_person: "张局长".into(),
                deadline: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(item.deadline, t0.report_due_on, "default deadline is the report-due date");
        items.push(item.id);
    }
    for item in &items {
        u.rectify
            .update_item(pb::UpdateRectificationRequest {
                item: item.clone(),
                status: pb::RectificationStatus::Done as i32,
                note: "已完成".into(),
                evidence: "退款凭证".into(),
            })
            .await
            .unwrap();
        let signed = c
            .rectify
            .sign_off(pb::SignOffRectificationRequest { item: item.clone(), note: "同意销号".into() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(signed.status, pb::RectificationStatus::SignedOff as i32);
    }
    let findings = c
        .findings
        .list_findings(pb::ListFindingsRequest { round: plan.round.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert!(findings.findings.iter().all(|f| f.status == pb::FindingStatus::SignedOff as i32));
    let closed = c
        .rounds
        .advance_round(pb::AdvanceRoundRequest { round: plan.round.clone(), to: pb::RoundStatus::Closed as i32 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(closed.status, pb::RoundStatus::Closed as i32);

    // Coverage: three of four planned units inspected.
    let ch = channel(node.addr()).await;
    let cov = OversightServiceClient::new(ch.clone())
        .get_coverage(pb::GetCoverageRequest { term: plan.term.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((cov.coverage[0].planned, cov.coverage[0].covered), (4, 3));
    assert_eq!(cov.coverage[0].percent, 75.0);
    assert_eq!(cov.coverage[0].uncovered, [plan.units[3].clone()]);

    // Every change is in the ledger with who and why; the exports open as workbooks.
    let ledger = LedgerServiceClient::new(ch.clone())
        .list_events(pb::ListEventsRequest { subject_id: items[0].clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let actions: Vec<&str> = ledger.events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["rectification.added", "rectification.updated", "rectification.signed_off"]);
    let by: Vec<(&str, &str)> = ledger
        .events
        .iter()
        .map(|e| e.actor.as_ref().map(|a| (a.display_name.as_str(), a.role_label.as_str())).unwrap())
        .collect();
    assert_eq!(by, [("李联络", "被巡察单位联络人"), ("李联络", "被巡察单位联络人"), ("赵主任", "巡察办主任")]);
    assert!(ledger.events.iter().all(|e| !e.actor.as_ref().unwrap().account.is_empty()), "the account is recorded");
    assert_eq!(ledger.events[2].node, "county/c01");
    for table in [pb::ExportTable::Ledger, pb::ExportTable::Rectification] {
        let mut stream = LedgerServiceClient::new(ch.clone())
            .export(pb::ExportRequest { table: table as i32 })
            .await
            .unwrap()
            .into_inner();
        // The file's name first, then its bytes, then the row count on the last piece.
        let first = stream.message().await.unwrap().expect("a first piece");
        assert!(first.file_name.ends_with(".xlsx") && first.content.is_empty(), "{first:?}");
        let (mut content, mut rows) = (Vec::new(), None);
        while let Some(piece) = stream.message().await.unwrap() {
            content.extend(piece.content);
            if piece.done {
                rows = Some(piece.rows);
            }
        }
        let rows = rows.expect("a last piece");
        let mut book: Xlsx<_> = Xlsx::new(Cursor::new(content)).unwrap();
        let sheet = book.worksheet_range_at(0).unwrap().unwrap();
        assert_eq!(sheet.height() as u32, rows + 1, "{table:?}: header plus one row per record");
        assert!(rows >= 2);
    }
    node.stop().await;
}

#[tokio::test]
async fn health_and_reflection_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let node = county(dir.path(), "c02").await;
    let ch = channel(node.addr()).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(ch.clone());
    let r = health
        .check(tonic_health::pb::HealthCheckRequest { service: "xuncha.v1.RoundService".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);

    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut reflection = ServerReflectionClient::new(ch);
    let req = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = reflection.server_reflection_info(tokio_stream::once(req)).await.unwrap().into_inner();
    let resp = stream.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = resp.message_response else {
        panic!("expected a service list")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for s in ["xuncha.v1.RoundService", "xuncha.v1.LedgerService", "grpc.health.v1.Health"] {
        assert!(names.iter().any(|n| n == s), "{s} missing from {names:?}");
    }
    node.stop().await;
}
