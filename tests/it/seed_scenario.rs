//! `xuncha up --scenario seed`: the situation the source documents describe, loaded as records
//! through the real path (three city replicas over raft, eleven county nodes syncing over mTLS),
//! and the city's figures computed from them.

use std::collections::BTreeMap;
use std::time::Duration;

use xuncha_domain::model::{AssignmentDecision, TargetKind};
use xuncha_node::demo::{CountyShape, DemoAccount, Scenario};
use xuncha_node::up::{DEMO_COUNTIES, UpOptions, demo_accounts_path, start_federation};

use crate::fixtures::eventually;
use crate::web::{Browser, has_uuid, visible_text};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_seed_scenario_holds_the_source_documents_figures() {
    let dir = tempfile::tempdir().unwrap();
    let opts = UpOptions { data: dir.path().to_path_buf(), base_port: 0, counties: 2, scenario: Scenario::Seed };
    let fed = start_federation(&opts).await.unwrap();
    assert_eq!(fed.counties.len(), 11, "the seed scenario runs every county");
    let city = &fed.city[0].api;

    // The city's own records: the pool, round five's problems and leads, the term plan.
    let (pool, round5_findings, round5_units, round5_leads) = city
        .engine()
        .read(|s| {
            let city_node = xuncha_domain::NodeId::city();
            let pool = s.persons.values().filter(|p| p.meta.owner == city_node).count();
            let r5 = s.rounds.values().find(|r| r.meta.owner == city_node && r.number == 5).expect("round five").id;
            let targets: Vec<_> = s.targets.values().filter(|t| t.round == r5).map(|t| t.id).collect();
            let findings = s.findings.values().filter(|f| targets.contains(&f.target)).count();
            let leads = s.leads.values().filter(|l| l.round == r5).count();
            (pool, findings, targets.len(), leads)
        })
        .await;
    assert_eq!(pool, 360, "a talent pool of 360");
    assert_eq!(
        (round5_findings, round5_units, round5_leads),
        (289, 9, 52),
        "round five: 289 problems at 9 units, 52 leads"
    );

    // Every county's linked units and revisits reach the city by sync: 39 and 61 in all.
    let expected: BTreeMap<String, (usize, usize)> = DEMO_COUNTIES
        .iter()
        .enumerate()
        .map(|(i, (code, _))| {
            let s = CountyShape::seed(i);
            (format!("county/{code}"), (s.linked, s.revisits))
        })
        .collect();
    assert_eq!(expected.values().map(|v| v.0).sum::<usize>(), 39);
    assert_eq!(expected.values().map(|v| v.1).sum::<usize>(), 61);
    let seen = eventually("every county's round at the city", Duration::from_secs(180), || async {
        let seen: BTreeMap<String, (usize, usize)> = city
            .engine()
            .read(|s| {
                let mut by_county = BTreeMap::new();
                for t in s.targets.values().filter(|t| !t.meta.owner.is_city()) {
                    let e = by_county.entry(t.meta.owner.to_string()).or_insert((0, 0));
                    match t.kind {
                        TargetKind::Linked => e.0 += 1,
                        TargetKind::Revisit => e.1 += 1,
                        _ => {}
                    }
                }
                by_county
            })
            .await;
        (seen == expected).then_some(seen)
    })
    .await;
    assert_eq!(seen.len(), 11);
    // Each county accepted the city's assignment and reported its progress.
    let answers = eventually("every county's answer at the city", Duration::from_secs(60), || async {
        let answers = city
            .engine()
            .read(|s| {
                s.assignment_responses
                    .values()
                    .filter(|r| r.decision == AssignmentDecision::Accepted && r.progress_percent == 40)
                    .count()
            })
            .await;
        (answers == 11).then_some(answers)
    })
    .await;
    assert_eq!(answers, 11);

    // The city's dashboard computes the term coverage from those records: 19 of 42 covered by
    // rounds five and six, 12 under inspection in round seven, 73.81% once it gives feedback.
    let accounts: Vec<DemoAccount> =
        serde_json::from_slice(&std::fs::read(demo_accounts_path(dir.path())).unwrap()).unwrap();
    let head = accounts.iter().find(|a| a.node == "city-1" && a.username == "head").expect("the city's head");
    let web = &fed.endpoints[0];
    let browser = Browser::trusting(&web.ca, &web.web);
    let (status, _) = browser.sign_in(&head.username, &head.password).await;
    assert!(status.is_success(), "{status}");
    let (_, _, html) = browser.get("/").await;
    assert!(html.contains("四届市委:已覆盖19/42个单位,正在巡察12个,本轮结束后覆盖73.81%"), "{}", visible_text(&html));
    for (_, name) in DEMO_COUNTIES {
        assert!(html.contains(name), "the overview names {name}");
    }
    assert!(!has_uuid(&visible_text(&html)));
    fed.stop().await;
}
