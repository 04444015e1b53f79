//! A randomized run: random work on the city and the counties, with random partitions, cuts
//! and city leader kills; after healing, every shared record is identical on both sides. The
//! seed is printed; `XUNCHA_SEED=<seed>` replays a run.

use std::collections::BTreeSet;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use xuncha_domain::model::{CategoryGroup, LeadRoute, NoticeLevel, UnitKind};
use xuncha_domain::{Caller, Command};

use crate::federation::{COUNTIES, Federation};
use crate::fixtures::{admin_session, eventually};

/// Runs a city command through any live replica, retrying while a leader is elected.
async fn city_write(fed: &Federation, office: &Caller, cmd: Command) {
    eventually("a city write to go through", Duration::from_secs(60), || async {
        for id in fed.city.live() {
            match fed.city.node(id).api.execute(office.clone(), cmd.clone()).await {
                Ok(_) => return Some(()),
                Err(xuncha_api::ApiError::Domain(e)) => panic!("the city refused {}: {e}", cmd.name()),
                Err(_) => {}
            }
        }
        None
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_work_with_partitions_and_leader_kills_converges() {
    let seed: u64 = std::env::var("XUNCHA_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    eprintln!("sync_random: seed {seed} (replay with XUNCHA_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut fed = Federation::start(&COUNTIES).await;
    // Sessions are replicated: the city's administrator acts through any replica.
    let city_admin = admin_session(&fed.city.node(1).api).await;
    let mut admins = std::collections::BTreeMap::new();
    for c in COUNTIES {
        admins.insert(c, admin_session(&fed.county(c).api).await);
    }
    let mut offline = BTreeSet::new();
    let mut killed: Option<(u64, usize)> = None;
    for step in 0..80 {
        let county = COUNTIES[rng.random_range(0..COUNTIES.len())];
        match rng.random_range(0..12) {
            0..=3 => {
                let api = fed.county(county).api.clone();
                let kind = [UnitKind::CountyDepartment, UnitKind::Township, UnitKind::Village][rng.random_range(0..3)];
                let cmd =
                    xuncha_domain::term::RegisterUnit { name: format!("{county}-单位-{step}"), kind, parent: None };
                api.execute(admins[county].clone(), Command::RegisterUnit(cmd)).await.unwrap();
            }
            4 => {
                let code = format!("local.c{step}");
                let cmd = xuncha_domain::finding::AddCategory {
                    code,
                    name: format!("类别{step}"),
                    group: CategoryGroup::Other,
                    route: LeadRoute::FunctionalDepartment,
                };
                city_write(&fed, &city_admin, Command::AddCategory(cmd)).await;
            }
            5 | 6 => {
                let respond_by = xuncha_domain::common::office_date(chrono::Utc::now()) + chrono::Duration::days(20);
                let cmd = xuncha_domain::rectification::IssueNotice {
                    addressee: xuncha_domain::model::Addressee::County(
                        xuncha_domain::ids::CountyCode::parse("county", county).unwrap(),
                    ),
                    subject: xuncha_domain::model::NoticeSubject::General,
                    level: NoticeLevel::Supervision,
                    text: format!("第{step}号督办"),
                    respond_by,
                    escalates: None,
                };
                city_write(&fed, &city_admin, Command::IssueNotice(cmd)).await;
            }
            7 => {
                // The county answers a notice it has (if it has one yet).
                let api = fed.county(county).api.clone();
                let open = api
                    .engine()
                    .read(|s| s.notices.values().find(|n| !s.notice_responses.contains_key(&n.id)).map(|n| n.id))
                    .await;
                if let Some(notice) = open {
                    let cmd = xuncha_domain::rectification::RespondNotice { notice, text: "已部署整改".into() };
                    api.execute(admins[county].clone(), Command::RespondNotice(cmd)).await.unwrap();
                }
            }
            8 | 9 => {
                let on = !offline.contains(county);
                fed.offline(county, on);
                if on {
                    offline.insert(county);
                } else {
                    offline.remove(county);
                }
            }
            10 => fed.cut(county),
            _ => {
                if killed.is_none() {
                    let leader = fed.city.leader().await;
                    fed.city.kill(leader).await;
                    killed = Some((leader, step));
                }
            }
        }
        if let Some((id, at)) = killed
            && step >= at + 5
        {
            fed.city.restart(id).await;
            killed = None;
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..40))).await;
    }
    for county in COUNTIES {
        fed.offline(county, false);
    }
    if let Some((id, _)) = killed {
        fed.city.restart(id).await;
    }
    fed.converged().await;
}
