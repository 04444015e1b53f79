//! Staff accounts through the real path: sign-in, sessions, the access layer on every method,
//! the role × permission matrix, scopes, lockout, and accounts made offline reaching the city.

use std::collections::BTreeMap;
use std::time::Duration;

use prost::Message;
use tonic::Code;
use tonic::transport::Channel;
use xuncha_api::access::{Access, access_of_path};
use xuncha_domain::authz::{RoleCode, permits};
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::account_service_client::AccountServiceClient;
use xuncha_proto::v1::auth_client::AuthClient;

use crate::federation::Federation;
use crate::fixtures::{
    ADMIN, ADMIN_PASSWORD, Clients, Conn, STAFF_PASSWORD, admin, county, eventually, grant, sign_in, staff,
    tls_channel, unsigned,
};
use crate::scenario::{days_from_today, plan_round};

/// Every `xuncha.v1` method path with its access rule.
fn methods() -> Vec<(String, Access)> {
    let set = prost_types::FileDescriptorSet::decode(xuncha_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut out = Vec::new();
    for file in set.file.iter().filter(|f| f.package() == "xuncha.v1") {
        for service in &file.service {
            for method in &service.method {
                let path = format!("/xuncha.v1.{}/{}", service.name(), method.name());
                let access = access_of_path(&path).unwrap_or_else(|| panic!("{path} has no access rule"));
                out.push((path, access));
            }
        }
    }
    out
}

/// Calls `path` with an empty message (the layer decides before any handler reads it).
async fn call_empty(conn: Conn, path: &str) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(conn);
    grpc.ready().await.unwrap();
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    let path: http::uri::PathAndQuery = path.parse().unwrap();
    match grpc.unary(tonic::Request::new(()), path, codec).await {
        Ok(_) => tonic::Status::ok(""),
        Err(s) => s,
    }
}

#[tokio::test]
async fn every_staff_method_wants_a_signed_in_person() {
    let dir = tempfile::tempdir().unwrap();
    let node = county(dir.path(), "c01").await;
    let raw = tls_channel(node.addr(), None).await.unwrap();
    let mut checked = 0;
    for (path, access) in methods() {
        if !matches!(access, Access::Staff(_) | Access::SignedIn) {
            continue;
        }
        for conn in [unsigned(raw.clone()), sign_in_bad(raw.clone())] {
            let status = call_empty(conn, &path).await;
            assert_eq!(status.code(), Code::Unauthenticated, "{path}: {status:?}");
            assert!(!status.message().is_empty());
        }
        checked += 1;
    }
    assert!(checked > 60, "only {checked} staff methods");
    node.stop().await;
}

fn sign_in_bad(raw: Channel) -> Conn {
    let token = format!("xct_{}", "0".repeat(64));
    tonic::service::interceptor::InterceptedService::new(raw, xuncha_wire::Bearer::new(&token).unwrap())
}

#[tokio::test]
async fn the_matrix_allows_and_refuses_every_method_as_the_domain_says() {
    let dir = tempfile::tempdir().unwrap();
    let node = county(dir.path(), "c01").await;
    let mut c = Clients::connect(node.addr()).await;
    let plan = plan_round(&mut c).await;
    let raw = tls_channel(node.addr(), None).await.unwrap();
    // One person per role, over a scope the role may have on this county.
    let mut people: BTreeMap<RoleCode, Conn> = BTreeMap::new();
    for role in RoleCode::ALL {
        let g = match role {
            RoleCode::GroupLeader | RoleCode::GroupMember => grant(role.code(), pb::ScopeKind::Group, &plan.group),
            RoleCode::UnitLiaison => grant(role.code(), pb::ScopeKind::Unit, &plan.units[0]),
            _ => grant(role.code(), pb::ScopeKind::County, "c01"),
        };
        let name = format!("p-{}", role.code().replace('_', "-"));
        people.insert(role, staff(&c.conn, raw.clone(), &name, role.label_zh(), vec![g]).await);
    }
    let mut rows = 0;
    for (path, access) in methods() {
        let (Access::Staff(p) | Access::StaffOrCertificate(p, _)) = access else { continue };
        let (allowed, refused): (Vec<RoleCode>, Vec<RoleCode>) = RoleCode::ALL.iter().partition(|r| permits(**r, p));
        // The narrowest role that holds the permission passes the layer.
        let narrowest = allowed.iter().min_by_key(|r| r.def().permissions.len()).unwrap();
        let status = call_empty(people[narrowest].clone(), &path).await;
        assert!(
            !matches!(status.code(), Code::PermissionDenied | Code::Unauthenticated),
            "{path}: {narrowest:?} holds {} but was refused: {status:?}",
            p.code()
        );
        // Every role without it is refused, naming the permission.
        for role in &refused {
            let status = call_empty(people[role].clone(), &path).await;
            assert_eq!(status.code(), Code::PermissionDenied, "{path} as {role:?}: {status:?}");
            assert_eq!(xuncha_wire::refused_permission(&status).as_deref(), Some(p.code()), "{path}");
        }
        assert!(!refused.is_empty(), "{path}: nobody is refused");
        rows += 1;
    }
    assert!(rows > 60, "only {rows} methods checked");
    node.stop().await;
}

#[tokio::test]
async fn a_liaison_acts_only_on_their_unit_and_a_member_only_in_their_group() {
    let dir = tempfile::tempdir().unwrap();
    let node = county(dir.path(), "c01").await;
    let mut c = Clients::connect(node.addr()).await;
    let plan = plan_round(&mut c).await;
    let raw = tls_channel(node.addr(), None).await.unwrap();
    let member_roles = vec![grant("group_member", pb::ScopeKind::Group, &plan.group)];
    let mut member = Clients::over(staff(&c.conn, raw.clone(), "member", "周组员", member_roles).await);
    // The member records at their group's target; the finding is theirs in the ledger.
    let mut findings = Vec::new();
    for t in &plan.targets[0..2] {
        let f = member
            .findings
            .record_finding(pb::RecordFindingRequest {
                target: t.clone(),
                category: "style.formalism".into(),
                title: "文山会海".into(),
                description: "会议多".into(),
                tags: vec![],
            })
            .await
            .unwrap()
            .into_inner();
        findings.push(f);
    }
    // A member may not give feedback (a leader's or the office's work).
    let refusal = member
        .rounds
        .give_feedback(pb::GiveFeedbackRequest { target: plan.targets[0].clone(), on: days_from_today(-5) })
        .await
        .unwrap_err();
    assert_eq!(refusal.code(), Code::PermissionDenied);
    for t in &plan.targets[0..2] {
        c.rounds.give_feedback(pb::GiveFeedbackRequest { target: t.clone(), on: days_from_today(-5) }).await.unwrap();
    }
    let liaison_roles = vec![grant("unit_liaison", pb::ScopeKind::Unit, &plan.units[0])];
    let mut liaison = Clients::over(staff(&c.conn, raw.clone(), "liaison", "吴联络", liaison_roles).await);
    let add = |f: &pb::Finding| pb::AddRectificationItemRequest {
        finding: f.id.clone(),
        kind: pb::RectificationKind::Measure as i32,
        measures: vec!["整改".into()],
        responsible_unit: "局党组".into(),
        ..Default::default()
    };
    liaison.rectify.add_item(add(&findings[0])).await.expect("their own unit's finding");
    let other = liaison.rectify.add_item(add(&findings[1])).await.unwrap_err();
    assert_eq!(other.code(), Code::PermissionDenied, "{other:?}");
    assert_eq!(xuncha_wire::refused_permission(&other).as_deref(), Some("rectification.plan"));
    // And they see only their unit's findings.
    let seen = liaison.findings.list_findings(pb::ListFindingsRequest::default()).await.unwrap().into_inner();
    assert_eq!(seen.findings.iter().map(|f| f.id.clone()).collect::<Vec<_>>(), [findings[0].id.clone()]);
    node.stop().await;
}

#[tokio::test]
async fn sessions_end_on_disable_and_password_change_and_failures_lock_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = xuncha_node::CountyConfig::new("c01", dir.path(), "127.0.0.1:0".parse().unwrap());
    config.auth.slow_after_failures = 100;
    config.auth.lock_after_failures = 3;
    let node = xuncha_node::start_county(config).await.unwrap();
    let raw = tls_channel(node.addr(), None).await.unwrap();
    let head = admin(raw.clone()).await;
    let clerk_roles = vec![grant("office_clerk", pb::ScopeKind::County, "c01")];
    let clerk = staff(&head, raw.clone(), "clerk", "孙干部", clerk_roles).await;
    let mut auth = AuthClient::new(raw.clone());

    // A wrong password and an unknown name get the same answer.
    let wrong = auth
        .login(pb::LoginRequest { username: "clerk".into(), password: "not-the-password".into() })
        .await
        .unwrap_err();
    let unknown = auth
        .login(pb::LoginRequest { username: "nobody".into(), password: "whatever-it-is".into() })
        .await
        .unwrap_err();
    assert_eq!((wrong.code(), wrong.message()), (unknown.code(), unknown.message()));
    assert_eq!(wrong.code(), Code::Unauthenticated);
    // The third failure locks the name; even the right password waits.
    let _ = auth.login(pb::LoginRequest { username: "clerk".into(), password: "again-wrong-1".into() }).await;
    let _ = auth.login(pb::LoginRequest { username: "clerk".into(), password: "again-wrong-2".into() }).await;
    let locked =
        auth.login(pb::LoginRequest { username: "clerk".into(), password: STAFF_PASSWORD.into() }).await.unwrap_err();
    assert_eq!(locked.code(), Code::ResourceExhausted, "{locked:?}");
    // The session opened before the lockout still works: the lock is on signing in.
    AuthClient::new(clerk.clone()).who_am_i(pb::WhoAmIRequest {}).await.unwrap();

    // Two sessions of the administrator; a password change ends the other one.
    let second = sign_in(raw.clone(), ADMIN, ADMIN_PASSWORD).await.unwrap();
    AuthClient::new(head.clone())
        .change_password(pb::ChangePasswordRequest {
            old_password: ADMIN_PASSWORD.into(),
            new_password: "a-new-password-2027".into(),
        })
        .await
        .unwrap();
    let gone = AuthClient::new(second).who_am_i(pb::WhoAmIRequest {}).await.unwrap_err();
    assert_eq!(gone.code(), Code::Unauthenticated);
    let me = AuthClient::new(head.clone()).who_am_i(pb::WhoAmIRequest {}).await.unwrap().into_inner();
    assert_eq!(me.username, ADMIN);

    // Disabling the clerk stops their live token on its next call.
    AccountServiceClient::new(head.clone())
        .set_status(pb::SetAccountStatusRequest { account: "clerk".into(), active: false, reason: "调离".into() })
        .await
        .unwrap();
    let stopped = AuthClient::new(clerk).who_am_i(pb::WhoAmIRequest {}).await.unwrap_err();
    assert_eq!(stopped.code(), Code::Unauthenticated);

    // Logout ends the session.
    AuthClient::new(head.clone()).logout(pb::LogoutRequest {}).await.unwrap();
    let out = AuthClient::new(head).who_am_i(pb::WhoAmIRequest {}).await.unwrap_err();
    assert_eq!(out.code(), Code::Unauthenticated);
    node.stop().await;
}

#[tokio::test]
async fn sessions_expire_when_idle_and_after_their_lifetime() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = xuncha_node::CountyConfig::new("c01", dir.path(), "127.0.0.1:0".parse().unwrap());
    config.auth.session_idle_minutes = 60;
    config.auth.session_hours = 12;
    // The node judges sessions by this clock; the test moves it instead of waiting hours.
    let clock = config.auth.clock.clone();
    let node = xuncha_node::start_county(config).await.unwrap();
    let raw = tls_channel(node.addr(), None).await.unwrap();
    let refused = |s: tonic::Status, why: &str| {
        assert_eq!(s.code(), Code::Unauthenticated, "{s:?}");
        assert!(s.message().contains(why), "{s:?}");
    };

    // Idle: fifty-nine minutes without a call is fine, sixty-one is not.
    let head = admin(raw.clone()).await;
    clock.advance(chrono::Duration::minutes(59));
    AuthClient::new(head.clone()).who_am_i(pb::WhoAmIRequest {}).await.unwrap();
    clock.advance(chrono::Duration::minutes(61));
    refused(AuthClient::new(head).who_am_i(pb::WhoAmIRequest {}).await.unwrap_err(), "长时间未操作");

    // Absolute: busy every half hour, the session still ends twelve hours after sign-in.
    let busy = sign_in(raw.clone(), ADMIN, ADMIN_PASSWORD).await.unwrap();
    for _ in 0..23 {
        clock.advance(chrono::Duration::minutes(30));
        AuthClient::new(busy.clone()).who_am_i(pb::WhoAmIRequest {}).await.unwrap();
    }
    clock.advance(chrono::Duration::minutes(31));
    refused(AuthClient::new(busy).who_am_i(pb::WhoAmIRequest {}).await.unwrap_err(), "登录已过期");
    // Signing in again works.
    let again = sign_in(raw, ADMIN, ADMIN_PASSWORD).await.unwrap();
    AuthClient::new(again).who_am_i(pb::WhoAmIRequest {}).await.unwrap();
    node.stop().await;
}

#[tokio::test]
async fn a_county_signs_staff_in_while_cut_off_and_its_accounts_reach_the_city() {
    let fed = Federation::start(&["anping", "qinghe"]).await;
    let op = fed.operator();
    let anping = fed.county("anping").addr();
    let raw = tls_channel(anping, Some(&op)).await.unwrap();
    fed.offline("anping", true);
    // Cut off: the county makes an account, signs it in, and it works.
    let head = admin(raw.clone()).await;
    let clerk_roles = vec![grant("office_clerk", pb::ScopeKind::County, "anping")];
    let clerk = Clients::over(staff(&head, raw.clone(), "clerk", "孙干部", clerk_roles).await);
    let mut units = clerk.units.clone();
    units
        .register_unit(pb::RegisterUnitRequest {
            name: "安平县审计局".into(),
            kind: pb::UnitKind::CountyDepartment as i32,
            parent: String::new(),
        })
        .await
        .expect("the county works while cut off");
    fed.offline("anping", false);
    // Back online: the accounts reach the city, read-only, as name@county.
    let leader = fed.city.leader().await;
    let engine = fed.city.node(leader).replica.engine.clone();
    eventually("anping's accounts at the city", Duration::from_secs(60), || async {
        let n = engine.read(|s| s.accounts.values().filter(|a| a.meta.owner.as_str() == "county/anping").count()).await;
        (n == 2).then_some(())
    })
    .await;
    fed.converged().await;

    // At the city, anping's clerk sees anping's records and not qinghe's.
    let city_raw = tls_channel(fed.city.addrs[&leader], Some(&op)).await.unwrap();
    let q_raw = tls_channel(fed.county("qinghe").addr(), Some(&op)).await.unwrap();
    let q_head = Clients::over(admin(q_raw).await);
    let mut q_units = q_head.units.clone();
    q_units
        .register_unit(pb::RegisterUnitRequest {
            name: "清河县水利局".into(),
            kind: pb::UnitKind::CountyDepartment as i32,
            parent: String::new(),
        })
        .await
        .unwrap();
    eventually("qinghe's unit at the city", Duration::from_secs(60), || async {
        engine.read(|s| s.units.values().any(|u| u.name == "清河县水利局").then_some(())).await
    })
    .await;
    let at_city = Clients::over(sign_in(city_raw, "clerk@anping", STAFF_PASSWORD).await.unwrap());
    let seen = at_city.units.clone().list_units(pb::ListUnitsRequest::default()).await.unwrap().into_inner();
    let names: Vec<&str> = seen.units.iter().map(|u| u.name.as_str()).collect();
    assert!(names.contains(&"安平县审计局"), "{names:?}");
    assert!(!names.contains(&"清河县水利局"), "another county's unit leaked: {names:?}");
    // Nor may they change what the city owns.
    let mut cat = pb::finding_service_client::FindingServiceClient::new(at_city.conn.clone());
    let refused = cat
        .add_category(pb::AddCategoryRequest {
            code: "local.x".into(),
            name: "测试".into(),
            group: pb::CategoryGroup::Other as i32,
            route: pb::LeadRoute::FunctionalDepartment as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
}
