//! A county office's daily work through its web app over real HTTPS, on a county seeded with
//! the demo's records: the talent pool (filters, an XLSX import refused row by row, export read
//! back), forming a group from the staffing suggestion with a recusal refused in Chinese,
//! findings recorded while the city is out of reach, and the 整改台账's progress, 销号, 督办
//! with escalation and export, the 台账 with its filters, chain check and export, and the
//! city's overview of the county.

use std::time::Duration;

use reqwest::StatusCode;
use xuncha_api::tabular::{read_xlsx, write_xlsx};
use xuncha_domain::common::DateWindow;
use xuncha_domain::model::{NoticeLevel, Rank, RectificationStatus, Specialty, TargetKind};
use xuncha_domain::term::CreateTerm;
use xuncha_domain::{Caller, Command};
use xuncha_node::CountyHandle;

use crate::federation::Federation;
use crate::fixtures::STAFF_PASSWORD;
use crate::fixtures::eventually;
use crate::scenario::days_from_today;
use crate::web::{Browser, city_with_clerk, csrf_of, has_uuid, visible_text};
use xuncha_store::LedgerFilter;

/// A county seeded with the demo's records, and its office head.
pub struct DemoCounty<'f> {
    pub county: &'f CountyHandle,
    pub head: xuncha_node::demo::DemoAccount,
    /// Every account the demo made, with its password.
    pub accounts: Vec<xuncha_node::demo::DemoAccount>,
    /// The head as a caller of the county's API, for set-up the pages do not cover.
    pub caller: Caller,
}

pub async fn demo_county<'f>(fed: &'f Federation, code: &str, name: &str) -> DemoCounty<'f> {
    let county = fed.county(code);
    let accounts = xuncha_node::demo::seed_county(&county.api, name, 7).await.unwrap();
    let head = accounts.iter().find(|a| a.username == "head").expect("the demo's office head").clone();
    let signed = county.api.auth().login(&head.username, &head.password, None).await.unwrap();
    DemoCounty { county, head, accounts, caller: Caller::Session(xuncha_api::auth::session_key(&signed.token)) }
}

impl DemoCounty<'_> {
    /// The head signed in at the county's web app.
    async fn browser(&self, fed: &Federation) -> Browser {
        self.browser_of(fed, "head").await
    }

    /// The demo account `username` signed in at the county's web app.
    async fn browser_of(&self, fed: &Federation, username: &str) -> Browser {
        let account = self.accounts.iter().find(|a| a.username == username).expect("a demo account");
        let browser = Browser::new(fed, &self.county.web.as_ref().unwrap().url());
        let (status, page) = browser.sign_in(&account.username, &account.password).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        browser
    }

    /// A term running from today for five years (the demo's ends in 2026), and a round 7 of it
    /// a month ahead; the round's id.
    pub async fn new_round(&self) -> xuncha_domain::ids::RoundId {
        let today = self.county.api.today();
        let window = DateWindow { from: today, to: today + chrono::Duration::days(5 * 365) };
        let term = CreateTerm { name: "十五届县委".into(), window };
        self.county.api.execute(self.caller.clone(), Command::CreateTerm(term)).await.unwrap();
        let term = self.county.engine.read(|s| s.terms.values().find(|t| t.name == "十五届县委").unwrap().id).await;
        let day = |n| today + chrono::Duration::days(n);
        let round = xuncha_domain::round::CreateRound {
            term,
            number: 7,
            name: "十五届县委第七轮巡察".into(),
            dates: xuncha_domain::model::RoundDates { enter_on: day(30), leave_on: day(60), feedback_on: day(90) },
            report_due_months: None,
            group_size: None,
        };
        self.county.api.execute(self.caller.clone(), Command::CreateRound(round)).await.unwrap();
        self.county.engine.read(|s| s.rounds.values().find(|r| r.number == 7).unwrap().id).await
    }

    /// A unit with a pool member working in it: (unit, its name, the person, their name).
    pub async fn insider(&self) -> (xuncha_domain::ids::UnitId, String, xuncha_domain::ids::PersonId, String) {
        self.county
            .engine
            .read(|s| {
                let p =
                    s.persons.values().find(|p| p.active && p.home_unit.is_some()).expect("someone works in a unit");
                let u = &s.units[&p.home_unit.unwrap()];
                (u.id, u.name.clone(), p.id, p.name.clone())
            })
            .await
    }
}

/// The value of every input on `html` whose name starts with `prefix` and that is checked.
fn checked(html: &str, prefix: &str) -> Vec<String> {
    html.split("<input")
        .skip(1)
        .map(|tag| tag.split('>').next().unwrap())
        .filter(|tag| tag.contains(" checked"))
        .filter_map(|tag| {
            let name = tag.split("name=\"").nth(1)?.split('"').next()?;
            name.starts_with(prefix).then(|| {
                if prefix == "leader" { tag.split("value=\"").nth(1).unwrap().split('"').next().unwrap() } else { name }
                    .to_string()
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_pool_filters_imports_with_bad_rows_named_and_exports() {
    let fed = Federation::start(&["anping"]).await;
    let demo = demo_county(&fed, "anping", "安平县").await;
    let (county, browser) = (demo.county, demo.browser(&fed).await);
    let (held, finance) = county
        .engine
        .read(|s| {
            let active = s.persons.values().filter(|p| p.active);
            let finance = active.clone().filter(|p| p.specialties.contains(&Specialty::Finance)).count();
            (active.count(), finance)
        })
        .await;

    let (status, _, page) = browser.get("/pool").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let text = visible_text(&page);
    assert!(text.contains(&format!("共{held}人")), "{text}");
    assert!(!has_uuid(&text), "{text}");
    let (_, _, page) = browser.get("/pool?specialty=%E8%B4%A2%E5%8A%A1").await; // 财务
    assert!(visible_text(&page).contains(&format!("共{finance}人")), "filtered by specialty");
    let (_, _, page) = browser.get("/pool?age_min=200").await;
    assert!(page.contains("没有符合条件的人员"), "an age filter that nobody meets");

    // A file with a bad row: every problem named by row and column, nobody imported.
    let header = ["姓名", "性别", "出生年份", "职级", "来源", "工作单位", "专长", "组长库"];
    let row = |name: &str, year: &str, rank: &str| {
        [name, "女", year, rank, "巡察办", "县审计局", "审计", "否"].map(String::from).to_vec()
    };
    let bad = write_xlsx("人才库", &header, &[row("赵新", "1985", "科员"), row("钱新", "十九八五", "处长")]).unwrap();
    let csrf = csrf_of(&page);
    let (status, page) = browser.post_file("/pool/import", &csrf, "新入库.xlsx", bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    let text = visible_text(&page);
    assert!(text.contains("有2处问题,未导入任何人员"), "{text}");
    assert!(text.contains("第3行") && text.contains("出生年份") && text.contains("职级"), "{text}");
    assert!(text.contains("“十九八五”不是年份"), "the reason in Chinese: {text}");
    let now = county.engine.read(|s| s.persons.values().filter(|p| p.active).count()).await;
    assert_eq!(now, held, "a refused file imports nobody");

    let good = write_xlsx("人才库", &header, &[row("赵新", "1985", "科员"), row("钱新", "1986", "副科")]).unwrap();
    let (status, page) = browser.post_file("/pool/import", &csrf, "新入库.xlsx", good).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(visible_text(&page).contains("已从「新入库.xlsx」导入2人"), "{page}");

    // The export holds what the page lists, in the import's columns.
    let (status, headers, bytes) = browser.get_bytes("/pool.xlsx").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-disposition"].to_str().unwrap().contains("attachment"));
    let table = read_xlsx(&bytes).unwrap();
    assert_eq!(table.header[..3], ["姓名", "性别", "出生年份"]);
    assert_eq!(table.rows.len(), held + 2);
    assert!(table.rows.iter().any(|r| r[0] == "钱新" && r[2] == "1986" && r[3] == "副科"));

    // The filters update the list in place where scripts run (htmx, served from this node).
    let (_, _, page) = browser.get("/pool").await;
    assert!(page.contains(r#"<script src="/assets/htmx.min.js" defer>"#) && page.contains(r##"hx-target="#results""##));
    let (status, headers, js) = browser.get("/assets/htmx.min.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/javascript"));
    assert!(js.contains(r#"version:"2.0.10""#));

    // The print view lists what the filters select, says which filters, and can be printed.
    let (status, _, page) = browser.get("/pool/print?rank=%E5%89%AF%E7%A7%91").await; // 副科
    assert_eq!(status, StatusCode::OK, "{page}");
    let 副科 = county
        .engine
        .read(|s| s.persons.values().filter(|p| p.active && p.rank == Rank::DeputySectionHead).count())
        .await;
    assert_eq!(print_rows(&page), 副科);
    let text = visible_text(&page);
    assert!(
        text.contains("人才库名册") && text.contains("职级:副科") && text.contains(&format!("共{副科}条")),
        "{text}"
    );
    assert!(page.contains("data-print") && !has_uuid(&text), "{text}");
}

/// The data rows of a print view's table.
fn print_rows(page: &str) -> usize {
    page.find("<tbody>").map(|at| page[at..].matches("<tr>").count()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_group_is_formed_from_the_suggestion_and_a_recusal_is_refused_in_chinese() {
    let fed = Federation::start(&["anping"]).await;
    let demo = demo_county(&fed, "anping", "安平县").await;
    let (county, browser) = (demo.county, demo.browser(&fed).await);
    // A new round to staff (made through the form, in a term that runs from today), and a unit
    // of the county with a pool member working in it.
    let today = county.api.today();
    let window = DateWindow { from: today, to: today + chrono::Duration::days(5 * 365) };
    let term = CreateTerm { name: "十五届县委".into(), window };
    county.api.execute(demo.caller.clone(), Command::CreateTerm(term)).await.unwrap();
    let term = county.engine.read(|s| s.terms.values().find(|t| t.name == "十五届县委").unwrap().id.to_string()).await;
    let (unit, unit_name, insider, insider_name) = demo.insider().await;
    let (_, _, page) = browser.get("/rounds").await;
    let csrf = csrf_of(&page);
    let form = [
        ("csrf", csrf.as_str()),
        ("term", term.as_str()),
        ("number", "7"),
        ("name", "十四届县委第七轮巡察"),
        ("enter_on", &days_from_today(30)),
        ("leave_on", &days_from_today(60)),
        ("feedback_on", &days_from_today(90)),
    ];
    let (status, page) = browser.post("/rounds", &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let round = county.engine.read(|s| s.rounds.values().find(|r| r.number == 7).unwrap().id).await;

    // Addresses name the round by its number, not its id.
    assert!(page.contains("href=\"/groups?round=7\""), "{page}");
    let step2 = format!("/groups?round=7&name=%E7%AC%AC%E4%B8%80%E5%B7%A1%E5%AF%9F%E7%BB%84&unit_{unit}=1&suggest=1");
    let (status, _, page) = browser.get(&step2).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let text = visible_text(&page);
    assert!(text.contains("第二步") && text.contains("组长库成员"), "the suggestion with its reasons: {text}");
    assert!(text.contains(&format!("需回避:{insider_name}在{unit_name}工作")), "{text}");
    assert!(!has_uuid(&text), "{text}");
    let leader = checked(&page, "leader");
    let members = checked(&page, "member_");
    assert_eq!(leader.len(), 1, "a leader suggested");
    assert!(!members.is_empty() && !members.contains(&format!("member_{insider}")), "{members:?}");

    // Choosing the insider is refused before anything is saved, in Chinese.
    let csrf = csrf_of(&page);
    let unit_key = format!("unit_{unit}");
    let round_text = round.to_string();
    let base = vec![
        ("csrf", csrf.clone()),
        ("round", round_text.clone()),
        ("name", "第一巡察组".to_string()),
        ("kind", "常规巡察".to_string()),
        ("leader", leader[0].clone()),
        (unit_key.as_str(), "1".to_string()),
    ];
    let mut with_insider = base.clone();
    let insider_key = format!("member_{insider}");
    with_insider.push((insider_key.as_str(), "1".into()));
    for m in &members[1..] {
        with_insider.push((m.as_str(), "1".into()));
    }
    let refs = |f: &[(&str, String)]| f.iter().map(|(k, v)| (k.to_string(), v.clone())).collect::<Vec<_>>();
    let post = |f: Vec<(String, String)>| {
        let b = &browser;
        async move {
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            b.post("/groups", &pairs).await
        }
    };
    let (status, page) = post(refs(&with_insider)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    let text = visible_text(&page);
    assert!(text.contains(&format!("未保存。需回避:{insider_name}在{unit_name}工作")), "{text}");
    assert!(checked(&page, "member_").contains(&insider_key), "the person's choices are kept");
    assert_eq!(county.engine.read(move |s| s.groups_of_round(round).count()).await, 0, "nothing saved");

    // The suggestion as it stands is saved: the group and its target.
    let mut suggested = base.clone();
    for m in &members {
        suggested.push((m.as_str(), "1".into()));
    }
    let (status, page) = post(refs(&suggested)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(visible_text(&page).contains("已组建第一巡察组"), "{page}");
    let (groups, targets) = county
        .engine
        .read(move |s| {
            let g: Vec<_> = s.groups_of_round(round).map(|g| (g.name.clone(), g.members.len())).collect();
            let t: Vec<_> = s.targets_of_round(round).map(|t| t.unit).collect();
            (g, t)
        })
        .await;
    assert_eq!(groups, vec![("第一巡察组".to_string(), members.len())]);
    assert_eq!(targets, vec![unit]);
    assert!(visible_text(&page).contains(&unit_name), "the group's target listed");

    // The round's next step (批准), then its dates amended: refused without a reason.
    let (_, _, page) = browser.get("/rounds").await;
    assert!(visible_text(&page).contains("批准"), "the next step offered");
    let csrf = csrf_of(&page);
    let (status, page) =
        browser.post("/rounds/advance", &[("csrf", &csrf), ("round", &round_text), ("to", "approved")]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(visible_text(&page).contains("轮次已批准"), "{page}");
    let status_now = county.engine.read(move |s| s.rounds[&round].status).await;
    assert_eq!(status_now, xuncha_domain::model::RoundStatus::Approved);
    let (enter, leave, feedback) = (days_from_today(31), days_from_today(61), days_from_today(91));
    let dates = |reason: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("round", round_text.clone()),
            ("enter_on", enter.clone()),
            ("leave_on", leave.clone()),
            ("feedback_on", feedback.clone()),
            ("reason", reason.to_string()),
        ]
    };
    let post_dates = |f: Vec<(&'static str, String)>| {
        let b = &browser;
        async move {
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            b.post("/rounds/dates", &pairs).await
        }
    };
    let (status, page) = post_dates(dates("")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(visible_text(&page).contains("变更计划须填写调整原因"), "{page}");
    let (status, page) = post_dates(dates("市委统一调整进驻时间")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let moved = county.engine.read(move |s| s.rounds[&round].dates.enter_on.to_string()).await;
    assert_eq!(moved, enter);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_county_records_findings_offline_and_works_its_rectification_ledger() {
    let fed = Federation::start(&["anping"]).await;
    let demo = demo_county(&fed, "anping", "安平县").await;
    let (county, browser) = (demo.county, demo.browser(&fed).await);

    // Cut off from the city, the county records a finding; it reaches the city once back.
    fed.offline("anping", true);
    eventually("the county to see the city out of reach", Duration::from_secs(60), || async {
        let (_, _, page) = browser.get("/findings").await;
        page.contains("连接已中断").then_some(())
    })
    .await;
    let (_, _, page) = browser.get("/findings").await;
    let text = visible_text(&page);
    assert!(text.contains("问题与线索") && !has_uuid(&text), "{text}");
    let target = page.split("name=\"target\"").nth(1).unwrap().split("<option value=\"").nth(2).unwrap();
    let target = target.split('"').next().unwrap().to_string();
    let category = page.split("name=\"category\"").nth(1).unwrap().split("<option value=\"").nth(2).unwrap();
    let category = category.split('"').next().unwrap().to_string();
    let csrf = csrf_of(&page);
    let finding = |title: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("target", target.clone()),
            ("category", category.clone()),
            ("title", title.to_string()),
            ("description", "2026年以来3笔公务接待无公函".to_string()),
        ]
    };
    let post = |path: &'static str, f: Vec<(&'static str, String)>| {
        let b = &browser;
        async move {
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            b.post(path, &pairs).await
        }
    };
    let (status, page) = post("/findings", finding("")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "an empty title is refused: {page}");
    assert!(visible_text(&page).contains("不能为空"), "{page}");
    let (status, page) = post("/findings", finding("公务接待无公函")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(visible_text(&page).contains("已记录问题「公务接待无公函」"), "{page}");
    let id = county
        .engine
        .read(|s| s.findings.values().find(|f| f.title == "公务接待无公函").map(|f| f.id))
        .await
        .expect("the finding is saved at the county");
    // Its number: the county's next, shown on the page, the same at the city once it arrives.
    let (reference, numbers) = county
        .engine
        .read(move |s| {
            let mine: Vec<_> = s.findings.values().map(|f| f.reference).collect();
            (s.findings[&id].reference, mine)
        })
        .await;
    let distinct: std::collections::BTreeSet<_> = numbers.iter().collect();
    assert_eq!(distinct.len(), numbers.len(), "every finding of the county has its own number");
    assert_eq!(reference.number as usize, numbers.len(), "the latest finding takes the next number");
    let (_, _, listed) = browser.get("/findings").await;
    assert!(visible_text(&listed).contains(&reference.cite("问题")), "the number shown: {listed}");
    fed.offline("anping", false);
    let leader = fed.city.leader().await;
    let city = fed.city.node(leader);
    let at_city = eventually("the finding to reach the city", Duration::from_secs(60), || async {
        city.replica.engine.read(move |s| s.findings.get(&id).map(|f| f.reference)).await
    })
    .await;
    assert_eq!(at_city, reference, "the number is the same on every node");

    // The ledger: progress on a pending item, 销号 of a done one, 督办 then 约谈 on one item.
    let (pending, done, held) = county
        .engine
        .read(|s| {
            let pending = s.rectifications.values().find(|i| i.status == RectificationStatus::Open).unwrap().id;
            let done = s.rectifications.values().find(|i| i.status == RectificationStatus::Done).unwrap().id;
            (pending, done, s.rectifications.len())
        })
        .await;
    let (_, _, page) = browser.get("/rectification").await;
    let csrf = csrf_of(&page);
    let form = |pairs: &[(&'static str, String)]| {
        let mut f = vec![("csrf", csrf.clone())];
        f.extend_from_slice(pairs);
        f
    };
    let (status, page) = post(
        "/rectification/progress",
        form(&[("item", pending.to_string()), ("status", "整改中".into()), ("note", "已制定整改方案".into())]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(visible_text(&page).contains("已记录整改进展"), "{page}");
    let (status, page) = post("/rectification/sign-off", form(&[("item", done.to_string())])).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(visible_text(&page).contains("已销号"), "{page}");
    let notice = |text: &'static str| {
        form(&[("item", pending.to_string()), ("text", text.into()), ("respond_by", "2099-01-31".into())])
    };
    let (status, page) = post("/rectification/notice", notice("请于月底前报送整改进展")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(visible_text(&page).contains("已发出督办"), "{page}");
    let (status, page) = post("/rectification/notice", notice("逾期未改,约谈主要负责人")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(visible_text(&page).contains("已发出约谈"), "escalated: {page}");
    let (states, levels) = county
        .engine
        .read(move |s| {
            let states = (s.rectifications[&pending].status, s.rectifications[&done].status);
            let mut notices: Vec<_> = s
                .notices
                .values()
                .filter(|n| n.subject == xuncha_domain::model::NoticeSubject::Rectification(pending))
                .map(|n| (n.level, n.escalates.is_some()))
                .collect();
            notices.sort();
            (states, notices)
        })
        .await;
    assert_eq!(states, (RectificationStatus::InProgress, RectificationStatus::SignedOff));
    assert_eq!(levels, vec![(NoticeLevel::Supervision, false), (NoticeLevel::Admonition, true)]);

    // The export holds every item the page counts.
    let (status, _, bytes) = browser.get_bytes("/rectification.xlsx").await;
    assert_eq!(status, StatusCode::OK);
    let table = read_xlsx(&bytes).unwrap();
    assert_eq!(table.rows.len(), held);
    assert_eq!(table.header[..3], ["编号", "节点", "轮次"]);
    assert!(table.rows.iter().all(|r| r[1] == "安平县委巡察办"), "the node by its name: {:?}", table.rows[0]);
    assert!(table.rows.iter().any(|r| r[11] == "已销号"));
    // So does the print view, in the same columns, with the 销号 visible.
    let (status, _, page) = browser.get("/rectification/print").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(print_rows(&page), held);
    assert!(page.contains("<th>编号</th>") && page.contains("<td>已销号</td>"), "{page}");
    // The findings too: every one in the export and the print view, leads in words.
    let findings = county.engine.read(|s| s.findings.len()).await;
    let (status, _, bytes) = browser.get_bytes("/findings.xlsx").await;
    assert_eq!(status, StatusCode::OK);
    let table = read_xlsx(&bytes).unwrap();
    assert_eq!((table.header[0].as_str(), table.rows.len()), ("编号", findings));
    assert!(table.rows.iter().any(|r| r[8].contains("移交纪委监委")), "{:?}", table.rows[0]);
    assert!(table.rows.iter().all(|r| !r.iter().any(|c| has_uuid(c))));
    let (_, _, page) = browser.get("/findings/print").await;
    assert_eq!(print_rows(&page), findings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_ledger_filters_by_kind_person_and_period_checks_its_chains_and_exports() {
    let fed = Federation::start(&["anping"]).await;
    let demo = demo_county(&fed, "anping", "安平县").await;
    let (county, browser) = (demo.county, demo.browser(&fed).await);
    let store = county.engine.store();
    let all = store.ledger_page(&LedgerFilter { limit: 100_000, ..LedgerFilter::default() }).await.unwrap();
    let rounds = all.iter().filter(|e| e.subject_kind == xuncha_domain::record::Kind::Round).count();
    assert!(rounds > 0 && all.len() > rounds);

    let (status, _, page) = browser.get("/ledger").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let text = visible_text(&page);
    assert!(!has_uuid(&text), "{text}");
    assert_eq!(page.matches("<tr>").count() - 1, all.len().min(100), "a page of 100");
    // By record kind: only round events.
    let (_, _, page) = browser.get("/ledger?kind=%E8%BD%AE%E6%AC%A1").await; // 轮次
    let body = &page[page.find("<tbody>").unwrap()..];
    assert_eq!(body.matches("<tr>").count(), rounds.min(100));
    assert_eq!(body.matches("<td>轮次</td>").count(), rounds.min(100), "every row a round's");
    // By person: the office head's own changes.
    let head = county.engine.read(|s| s.accounts.values().find(|a| a.username == "head").unwrap().id.to_string()).await;
    let theirs = all.iter().filter(|e| e.actor.account.map(|a| a.to_string()) == Some(head.clone())).count();
    let (_, _, page) = browser.get(&format!("/ledger?person={head}")).await;
    assert_eq!(page[page.find("<tbody>").unwrap()..].matches("<tr>").count(), theirs.min(100));
    // A period before anything happened holds nothing; a bad date is refused in Chinese.
    let (_, _, page) = browser.get("/ledger?from=2000-01-01&to=2000-12-31").await;
    assert!(page.contains("没有符合条件的记录"), "{page}");
    let (status, _, page) = browser.get("/ledger?from=2000-13-01").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(visible_text(&page).contains("请填写日期"), "{page}");
    // The chains check out.
    let (_, _, page) = browser.get("/ledger?verify=1").await;
    assert!(visible_text(&page).contains("链条完整") && !page.contains("断裂"), "{page}");
    // The export holds every event the filters select, without ids.
    let (status, _, bytes) = browser.get_bytes("/ledger.xlsx?kind=%E8%BD%AE%E6%AC%A1").await;
    assert_eq!(status, StatusCode::OK);
    let table = read_xlsx(&bytes).unwrap();
    assert_eq!(table.header, ["时间", "节点", "操作人", "角色", "对象", "事项", "原因"]);
    assert_eq!(table.rows.len(), rounds);
    assert!(table.rows.iter().all(|r| r[1] == "安平县委巡察办" && r[4] == "轮次" && !r.iter().any(|c| has_uuid(c))));
    // The print view: every selected event, the filters in words.
    let (status, _, page) = browser.get("/ledger/print?kind=%E8%BD%AE%E6%AC%A1&from=2000-01-01").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(print_rows(&page), rounds);
    let text = visible_text(&page);
    assert!(text.contains("对象:轮次") && text.contains("从2000年1月1日") && !has_uuid(&text), "{text}");
    // Someone without the ledger's permission prints nothing.
    let liaison = demo.browser_of(&fed, "liaison1").await;
    let (status, _, page) = liaison.get("/ledger/print").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!page.contains("<tbody>"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_city_overview_charts_each_countys_coverage_and_rectification() {
    let fed = Federation::start(&["anping"]).await;
    let demo = demo_county(&fed, "anping", "安平县").await;
    let (leader, url) = city_with_clerk(&fed).await;
    let city = fed.city.node(leader);
    let items = demo.county.engine.read(|s| s.rectifications.len()).await;
    eventually("the county's records to reach the city", Duration::from_secs(60), || async {
        let held = city
            .replica
            .engine
            .read(|s| s.rectifications.values().filter(|i| i.meta.owner.county_code() == Some("anping")).count())
            .await;
        (held == items).then_some(())
    })
    .await;
    let browser = Browser::new(&fed, &url);
    let (status, _) = browser.sign_in("wangli", STAFF_PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, page) = browser.get("/").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("<svg") && page.contains("各地巡察全覆盖进度") && page.contains("各地整改事项状态"),
        "{page}"
    );
    let text = visible_text(&page);
    assert!(text.contains("安平县") && !has_uuid(&text), "{text}");
    // The county's figures equal the ones taken from its records.
    let (covered, planned, overdue) = demo
        .county
        .engine
        .read(|s| {
            let today = xuncha_domain::common::office_date(chrono::Utc::now());
            let term = s.terms.values().next().unwrap();
            let c = xuncha_domain::oversight::coverage(s, term);
            let late = s.rectifications.values().filter(|i| i.status.is_pending() && i.deadline < today).count();
            (c.covered, c.planned, late)
        })
        .await;
    let row = &page[page.find("<td>安平县").expect("the county's row")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains(&format!("({covered}/{planned})")), "{row}");
    assert!(row.contains(&format!("<td class=\"num\">{overdue}</td>")), "{row}");
    assert!(page.contains(&format!("{items}项,逾期{overdue}")), "the chart's figure for the county");
}

/// The city's demo records on its raft leader and the demo county 安平县; the county's head
/// signed in at the county's web app and the city's head at the leader's.
async fn city_and_county(fed: &Federation) -> (DemoCounty<'_>, Browser, Browser) {
    let leader = fed.city.leader().await;
    let city = fed.city.node(leader);
    let accounts = xuncha_node::demo::seed_city(&city.api, &[("anping", "安平县")], 3).await.unwrap();
    let city_head = accounts.iter().find(|a| a.username == "head").unwrap();
    let demo = demo_county(fed, "anping", "安平县").await;
    let county = demo.browser(fed).await;
    let at_city = Browser::new(fed, &city.web.as_ref().unwrap().url());
    let (status, _) = at_city.sign_in(&city_head.username, &city_head.password).await;
    assert_eq!(status, StatusCode::OK);
    (demo, county, at_city)
}

/// Takes a step on the assignment `id` through the form at `path`, as the page's forms post it.
async fn act(browser: &Browser, id: &str, path: &str, pairs: &[(&str, &str)]) -> (StatusCode, String) {
    let (_, _, page) = browser.get("/linkage").await;
    let csrf = csrf_of(&page);
    let mut form = vec![("csrf", csrf.as_str()), ("assignment", id)];
    form.extend_from_slice(pairs);
    browser.post(path, &form).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn linked_assignments_go_down_and_reports_come_up_through_the_web_apps() {
    let fed = Federation::start(&["anping"]).await;
    let (demo, county, at_city) = city_and_county(&fed).await;
    let city = fed.city.node(fed.city.leader().await);

    // The city's assignment reaches the county, which sees it in Chinese.
    eventually("the assignment to reach the county", Duration::from_secs(60), || async {
        demo.county.engine.read(|s| (!s.assignments.is_empty()).then_some(())).await
    })
    .await;
    let page = eventually("the assignment at the county", Duration::from_secs(60), || async {
        let (_, _, page) = county.get("/linkage").await;
        page.contains("对照市委第七轮巡察7个联动单位").then_some(page)
    })
    .await;
    let text = visible_text(&page);
    assert!(text.contains("已下达") && !has_uuid(&text), "{text}");
    let id = demo.county.engine.read(|s| s.assignments.keys().next().unwrap().to_string()).await;
    let ok = |(status, page): (StatusCode, String), says: &str| {
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(visible_text(&page).contains(says), "{says}: {page}");
    };
    ok(act(&county, &id, "/linkage/respond", &[("accept", "1")]).await, "已接收联动任务");
    ok(
        act(&county, &id, "/linkage/progress", &[("percent", "50"), ("note", "已进驻7个对应单位")]).await,
        "已报送进度50%",
    );
    let report = [("summary", "对7个对应单位开展联动巡察"), ("units_inspected", "7"), ("problems_found", "12")];
    ok(act(&county, &id, "/linkage/report", &report).await, "已报送联动巡察报告");

    // At the city: a return needs comments; the county resubmits; the city accepts.
    eventually("the report at the city", Duration::from_secs(60), || async {
        let (_, _, page) = at_city.get("/linkage").await;
        (page.contains("对7个对应单位开展联动巡察") && page.contains("审核通过")).then_some(())
    })
    .await;
    let (status, page) = act(&at_city, &id, "/linkage/review", &[("accept", "0"), ("comments", "")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(visible_text(&page).contains("退回报告须填写意见"), "{page}");
    ok(
        act(&at_city, &id, "/linkage/review", &[("accept", "0"), ("comments", "请补充问题线索移交情况")]).await,
        "报告已退回",
    );
    eventually("the return at the county", Duration::from_secs(60), || async {
        let (_, _, page) = county.get("/linkage").await;
        page.contains("请补充问题线索移交情况").then_some(())
    })
    .await;
    ok(act(&county, &id, "/linkage/report", &report).await, "已报送联动巡察报告");
    eventually("the second report at the city", Duration::from_secs(60), || async {
        let (_, _, page) = at_city.get("/linkage").await;
        page.contains("已重新报送").then_some(())
    })
    .await;
    ok(act(&at_city, &id, "/linkage/review", &[("accept", "1")]).await, "报告已审核通过");
    let (_, _, page) = at_city.get("/linkage").await;
    let text = visible_text(&page);
    assert!(text.contains("已审核通过") && text.contains("安平县") && !has_uuid(&text), "{text}");

    // A new plan for round 7 and an assignment from it, through the city's forms.
    let r7 = city.replica.engine.read(|s| s.rounds.values().find(|r| r.number == 7).unwrap().id).await;
    let (_, _, step2) = at_city.get(&format!("/linkage?round={r7}")).await;
    let unit = step2.split("name=\"unit_").nth(1).expect("the round's targets offered").split('"').next().unwrap();
    let (csrf, round) = (csrf_of(&step2), r7.to_string());
    let unit_key = format!("unit_{unit}");
    let form = [("csrf", csrf.as_str()), ("round", round.as_str()), ("name", "专项联动方案"), (unit_key.as_str(), "1")];
    let (status, page) = at_city.post("/linkage/plan", &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(visible_text(&page).contains("已印发「专项联动方案」"), "{page}");
    let plan =
        city.replica.engine.read(|s| s.linkage_plans.values().find(|p| p.name == "专项联动方案").unwrap().id).await;
    let (plan, due) = (plan.to_string(), days_from_today(20));
    let form = [
        ("csrf", csrf.as_str()),
        ("plan", plan.as_str()),
        ("county", "anping"),
        ("tasks", "对本地对应单位开展专项联动巡察"),
        ("due_on", due.as_str()),
    ];
    let (status, page) = at_city.post("/linkage/issue", &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(visible_text(&page).contains("已向安平县下达联动任务"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_term_plan_shows_coverage_and_takes_new_terms_and_units() {
    let fed = Federation::start(&["anping"]).await;
    let demo = demo_county(&fed, "anping", "安平县").await;
    let (county, browser) = (demo.county, demo.browser(&fed).await);
    let (covered, planned) = county
        .engine
        .read(|s| {
            let c = xuncha_domain::oversight::coverage(s, s.terms.values().next().unwrap());
            (c.covered, c.planned)
        })
        .await;
    let (status, _, page) = browser.get("/plan").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let text = visible_text(&page);
    assert!(text.contains("十四届县委") && text.contains(&format!("规划巡察{planned}个单位")), "{text}");
    assert!(text.contains(&format!("已覆盖{covered}个")) && !has_uuid(&text), "{text}");

    let csrf = csrf_of(&page);
    let (status, page) = browser
        .post("/plan/term", &[("csrf", &csrf), ("name", "十五届县委"), ("from", "2027-01-01"), ("to", "2026-12-31")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(visible_text(&page).contains("晚于结束日期"), "{page}");
    let (status, page) = browser
        .post("/plan/term", &[("csrf", &csrf), ("name", "十五届县委"), ("from", "2027-01-01"), ("to", "2031-12-31")])
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(visible_text(&page).contains("已新建届次「十五届县委」"), "{page}");
    let (status, page) =
        browser.post("/plan/unit", &[("csrf", &csrf), ("name", "安平县医疗保障局"), ("kind", "县直部门")]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let (term, unit) = county
        .engine
        .read(|s| {
            let t = s.terms.values().find(|t| t.name == "十五届县委").unwrap().id;
            let u = s.units.values().find(|u| u.name == "安平县医疗保障局").unwrap().id;
            (t, u)
        })
        .await;
    let (term_text, add) = (term.to_string(), format!("add_{unit}"));
    let (status, page) = browser.post("/plan/units", &[("csrf", &csrf), ("term", &term_text), (&add, "1")]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(visible_text(&page).contains("增加1个单位"), "{page}");
    let planned = county.engine.read(move |s| s.terms[&term].planned_units.contains(&unit)).await;
    assert!(planned);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_cli_names_findings_and_items_by_their_numbers() {
    let fed = Federation::start(&["anping"]).await;
    let demo = demo_county(&fed, "anping", "安平县").await;
    let signed = demo.county.api.auth().login(&demo.head.username, &demo.head.password, None).await.unwrap();
    let raw = crate::fixtures::tls_channel(demo.county.addr(), Some(&fed.operator())).await.unwrap();
    let conn =
        tonic::service::interceptor::InterceptedService::new(raw, xuncha_wire::Bearer::new(&signed.token).unwrap());
    let (item, item_ref, finding, finding_ref) = demo
        .county
        .engine
        .read(|s| {
            let i = s.rectifications.values().find(|i| i.reference.number == 3).unwrap();
            let f = s.findings.values().find(|f| f.reference.number == 5).unwrap();
            (i.id.to_string(), i.reference, f.id.to_string(), f.reference)
        })
        .await;
    // As offices write them, and as people type them without the special brackets.
    for text in [item_ref.cite("整改"), format!("整改[{}]3", item_ref.year)] {
        assert_eq!(xuncha_client::refs::rectification_item(&conn, &text).await.unwrap(), item, "{text}");
    }
    assert_eq!(xuncha_client::refs::finding(&conn, &finding_ref.cite("问题")).await.unwrap(), finding);
    assert_eq!(xuncha_client::refs::finding(&conn, &finding).await.unwrap(), finding, "an id is taken as it is");
    let missing = xuncha_client::refs::rectification_item(&conn, "整改〔1999〕1号").await.unwrap_err();
    assert!(missing.to_string().contains("没有编号为整改〔1999〕1号的记录"), "{missing}");

    // Rounds, units, persons, groups, targets and leads by the names offices use.
    let (round5, unit, unit_name, person, person_name, group, target, lead_finding, lead) = demo
        .county
        .engine
        .read(|s| {
            let r = s.rounds.values().find(|r| r.number == 5).unwrap();
            let t = s.targets.values().find(|t| t.round == r.id && t.kind == TargetKind::Regular).unwrap();
            let u = &s.units[&t.unit];
            let g = &s.groups[&t.group];
            let p = s.persons.values().find(|p| p.active).unwrap();
            let l = s.leads.values().next().unwrap();
            let f = &s.findings[&l.finding];
            (
                r.id.to_string(),
                u.id.to_string(),
                u.name.clone(),
                p.id.to_string(),
                p.name.clone(),
                (g.id.to_string(), g.name.clone()),
                t.id.to_string(),
                f.reference.cite("问题"),
                l.id.to_string(),
            )
        })
        .await;
    use xuncha_client::refs;
    for text in ["第五轮", "5", "五", "十四届县委第五轮巡察"] {
        assert_eq!(refs::round(&conn, text).await.unwrap(), round5, "{text}");
    }
    assert_eq!(refs::unit(&conn, &unit_name).await.unwrap(), unit);
    assert_eq!(refs::person(&conn, &person_name).await.unwrap(), person);
    assert_eq!(refs::group(&conn, &format!("第五轮:{}", group.1)).await.unwrap(), group.0);
    assert_eq!(refs::group_in(&conn, &round5, &group.1).await.unwrap(), group.0);
    assert_eq!(refs::target(&conn, &format!("第五轮:{unit_name}")).await.unwrap(), target);
    assert_eq!(refs::lead(&conn, &lead_finding).await.unwrap(), lead);
    // A group name every round uses is ambiguous without the round, and says which ones.
    let ambiguous = refs::group(&conn, "第一巡察组").await.unwrap_err().to_string();
    assert!(ambiguous.contains("对应2个巡察组") && ambiguous.contains("第五轮"), "{ambiguous}");
    let unknown = refs::unit(&conn, "不存在的单位").await.unwrap_err().to_string();
    assert!(unknown.contains("没有名为“不存在的单位”的单位"), "{unknown}");
    // Tables name nodes as offices do, and show no ids.
    let nodes = refs::NodeLabels::of(&conn).await.unwrap();
    assert_eq!((nodes.label("city"), nodes.label("county/anping")), ("市委巡察办".into(), "安平县".into()));
    let rounds = xuncha_proto::v1::round_service_client::RoundServiceClient::new(conn.clone())
        .list_rounds(xuncha_proto::v1::ListRoundsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .rounds;
    let table = xuncha_client::rounds_table(&rounds, &nodes);
    assert!(table.contains("安平县") && !table.contains("county/") && !has_uuid(&table), "{table}");
    // A liaison may not read the node's status, yet is shown nodes by name too (from WhoAmI).
    let liaison = demo.accounts.iter().find(|a| a.username.starts_with("liaison")).unwrap();
    let signed = demo.county.api.auth().login(&liaison.username, &liaison.password, None).await.unwrap();
    let raw = crate::fixtures::tls_channel(demo.county.addr(), Some(&fed.operator())).await.unwrap();
    let conn =
        tonic::service::interceptor::InterceptedService::new(raw, xuncha_wire::Bearer::new(&signed.token).unwrap());
    let status = xuncha_proto::v1::node_service_client::NodeServiceClient::new(conn.clone())
        .get_status(xuncha_proto::v1::GetStatusRequest {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
    let nodes = refs::NodeLabels::of(&conn).await.unwrap();
    assert_eq!((nodes.me(), nodes.label("county/anping")), ("county/anping", "安平县".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_notice_is_answered_by_its_addressee_and_closed_by_its_issuer() {
    let fed = Federation::start(&["anping"]).await;
    let demo = demo_county(&fed, "anping", "安平县").await;
    let head = demo.browser(&fed).await;
    // The unit whose liaison will answer, and another liaison's unit.
    let liaisons: Vec<(String, xuncha_domain::ids::UnitId, String)> = demo
        .county
        .engine
        .read(|s| {
            let mut out: Vec<_> = s
                .accounts
                .values()
                .filter(|a| a.username.starts_with("liaison"))
                .filter_map(|a| match a.grants.first().map(|g| &g.scope) {
                    Some(xuncha_domain::authz::Scope::Unit(u)) => {
                        Some((a.username.clone(), *u, s.units[u].name.clone()))
                    }
                    _ => None,
                })
                .collect();
            out.sort();
            out
        })
        .await;
    assert!(liaisons.len() >= 2, "the demo has liaisons of two units: {liaisons:?}");
    let (liaison, unit, unit_name) = liaisons[0].clone();
    let (other, other_unit, _) = liaisons[1].clone();
    assert_ne!(unit, other_unit);

    // The office issues a general notice to the unit from the 督办 page.
    let (status, _, page) = head.get("/notices").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(&format!("value=\"unit:{unit}\">{unit_name}</option>")), "{page}");
    let csrf = csrf_of(&page);
    let (addressee, respond_by) = (format!("unit:{unit}"), days_from_today(7));
    let form = [
        ("csrf", csrf.as_str()),
        ("addressee", addressee.as_str()),
        ("level", "督办"),
        ("respond_by", respond_by.as_str()),
        ("text", "请于一周内书面报告整改进展"),
    ];
    let (status, page) = head.post("/notices", &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let text = visible_text(&page);
    assert!(
        text.contains("已发出督办") && text.contains("请于一周内书面报告整改进展") && text.contains("待回复"),
        "{text}"
    );
    assert!(text.contains(&unit_name) && !has_uuid(&text), "{text}");
    // A refusal in Chinese, and nothing saved: a reply date already past.
    let past = days_from_today(-1);
    let late_form = [form[0], form[1], form[2], ("respond_by", past.as_str()), form[4]];
    let (status, page) = head.post("/notices", &late_form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(visible_text(&page).contains("回复期限"), "{page}");
    let ours = demo
        .county
        .engine
        .read(|s| {
            s.notices.values().filter(|n| n.text == "请于一周内书面报告整改进展").map(|n| n.id).collect::<Vec<_>>()
        })
        .await;
    assert_eq!(ours.len(), 1, "one notice saved, the refused one not: {ours:?}");
    let notice = ours[0];

    // The other unit's liaison does not see it; the addressed unit's liaison answers it.
    let (_, _, page) = demo.browser_of(&fed, &other).await.get("/notices").await;
    assert!(!visible_text(&page).contains("请于一周内书面报告整改进展"), "{page}");
    let answerer = demo.browser_of(&fed, &liaison).await;
    // The liaison's 总览: what waits on them, and none of the county's overall figures.
    let (_, _, page) = answerer.get("/").await;
    assert!(page.contains("<div class=\"value\">1</div><div class=\"label\">待回复督办</div>"), "{page}");
    assert!(!visible_text(&page).contains("已覆盖"), "a liaison sees no term coverage: {page}");
    let (_, _, page) = head.get("/").await;
    assert!(visible_text(&page).contains("已覆盖") && !page.contains("待回复督办"), "{page}");
    let (status, _, page) = answerer.get("/notices").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("action=\"/notices/respond\"") && !page.contains("action=\"/notices/close\""), "{page}");
    assert!(!page.contains("<h2>发出督办</h2>"), "a liaison issues no notices");
    let csrf = csrf_of(&page);
    let id = notice.to_string();
    let (status, page) = answerer.post("/notices/close", &[("csrf", &csrf), ("notice", &id)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a liaison may not close: {page}");
    let answer = [("csrf", csrf.as_str()), ("notice", id.as_str()), ("text", "已制定整改措施三条,正在落实")];
    let (status, page) = answerer.post("/notices/respond", &answer).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(visible_text(&page).contains("已回复督办"), "{page}");

    // The office reads the answer and closes the notice.
    let (_, _, page) = head.get("/notices?open=1").await;
    assert!(!page.contains("action=\"/notices/respond\""), "the issuer closes, the unit answers: {page}");
    let text = visible_text(&page);
    assert!(text.contains("已制定整改措施三条,正在落实") && text.contains("已回复,待办结"), "{text}");
    let csrf = csrf_of(&page);
    let (status, page) = head.post("/notices/close", &[("csrf", &csrf), ("notice", &id)]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(visible_text(&page).contains("督办已办结"), "{page}");
    let closed =
        demo.county.engine.read(move |s| s.notices[&notice].status == xuncha_domain::model::NoticeStatus::Closed).await;
    assert!(closed);
    let (_, _, page) = head.get("/notices?open=1").await;
    assert!(!visible_text(&page).contains("请于一周内书面报告整改进展"), "closed notices leave the open list");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_city_notice_to_a_county_is_answered_there_and_the_answer_comes_up() {
    let fed = Federation::start(&["anping"]).await;
    let (demo, county, at_city) = city_and_county(&fed).await;

    // The city presses the county's office.
    let (_, _, page) = at_city.get("/notices").await;
    assert!(page.contains("value=\"county:anping\">安平县巡察办</option>"), "{page}");
    let (csrf, respond_by) = (csrf_of(&page), days_from_today(10));
    let form = [
        ("csrf", csrf.as_str()),
        ("addressee", "county:anping"),
        ("level", "约谈"),
        ("respond_by", respond_by.as_str()),
        ("text", "联动巡察进度滞后,请说明原因"),
    ];
    let (status, page) = at_city.post("/notices", &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(visible_text(&page).contains("已发出约谈"), "{page}");

    // It reaches the county by sync, where the office answers it.
    let page = eventually("the notice at the county", Duration::from_secs(60), || async {
        let (_, _, page) = county.get("/notices").await;
        page.contains("联动巡察进度滞后,请说明原因").then_some(page)
    })
    .await;
    let text = visible_text(&page);
    assert!(text.contains("市委巡察办") && text.contains("约谈") && !has_uuid(&text), "{text}");
    assert!(!page.contains("action=\"/notices/close\""), "the county cannot close the city's notice");
    let id = demo.county.engine.read(|s| s.notices.keys().next().unwrap().to_string()).await;
    let csrf = csrf_of(&page);
    let answer = [("csrf", csrf.as_str()), ("notice", id.as_str()), ("text", "已调整力量,下周完成全部对应单位")];
    let (status, page) = county.post("/notices/respond", &answer).await;
    assert_eq!(status, StatusCode::OK, "{page}");

    // The answer comes up; the city closes the notice, and the county sees it closed.
    let page = eventually("the answer at the city", Duration::from_secs(60), || async {
        let (_, _, page) = at_city.get("/notices").await;
        page.contains("已调整力量,下周完成全部对应单位").then_some(page)
    })
    .await;
    let csrf = csrf_of(&page);
    let (status, page) = at_city.post("/notices/close", &[("csrf", &csrf), ("notice", &id)]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    eventually("the notice closed at the county", Duration::from_secs(60), || async {
        let (_, _, page) = county.get("/notices").await;
        page.contains("已办结").then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_city_asks_a_county_to_second_a_person_and_the_county_answers() {
    let fed = Federation::start(&["anping"]).await;
    let (demo, county, at_city) = city_and_county(&fed).await;

    // A person of the county's pool, offered at the city once the roster has come up.
    let (person, name) = demo
        .county
        .engine
        .read(|s| {
            let p = s.persons.values().find(|p| p.active && p.meta.owner.county_code() == Some("anping")).unwrap();
            (p.id, p.name.clone())
        })
        .await;
    let page = eventually("the county's person offered at the city", Duration::from_secs(60), || async {
        let (_, _, page) = at_city.get(&format!("/secondments?q={}", urlencode(&name))).await;
        page.contains(&format!("value=\"{person}\"")).then_some(page)
    })
    .await;
    assert!(page.contains(&format!("{name}(安平县,")), "named with the county: {page}");
    let (csrf, person_text) = (csrf_of(&page), person.to_string());
    let (from, to) = (days_from_today(400), days_from_today(430));
    let form = [
        ("csrf", csrf.as_str()),
        ("person", person_text.as_str()),
        ("from", to.as_str()),
        ("to", from.as_str()),
        ("purpose", "参加市委第八轮巡察"),
    ];
    // The period backwards is refused in Chinese; then the request goes.
    let (status, page) = at_city.post("/secondments", &form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(visible_text(&page).contains("结束日期"), "{page}");
    let form = [form[0], form[1], ("from", from.as_str()), ("to", to.as_str()), form[4]];
    let (status, page) = at_city.post("/secondments", &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let text = visible_text(&page);
    assert!(text.contains("已发出抽调申请") && text.contains("待答复") && !has_uuid(&text), "{text}");

    // The county sees it, may not refuse without a reason, and agrees.
    let page = eventually("the request at the county", Duration::from_secs(60), || async {
        let (_, _, page) = county.get("/secondments").await;
        page.contains("参加市委第八轮巡察").then_some(page)
    })
    .await;
    assert!(page.contains("action=\"/secondments/decide\"") && !page.contains("id=\"request\""), "{page}");
    let id = demo.county.engine.read(|s| s.secondment_requests.keys().next().unwrap().to_string()).await;
    let csrf = csrf_of(&page);
    let refuse = [("csrf", csrf.as_str()), ("request", id.as_str()), ("approve", "0"), ("reason", "")];
    let (status, page) = county.post("/secondments/decide", &refuse).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(visible_text(&page).contains("拒绝须说明理由"), "{page}");
    let agree = [("csrf", csrf.as_str()), ("request", id.as_str()), ("approve", "1"), ("reason", "")];
    let (status, page) = county.post("/secondments/decide", &agree).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(visible_text(&page).contains("已同意抽调"), "{page}");
    eventually("the answer at the city", Duration::from_secs(60), || async {
        let (_, _, page) = at_city.get("/secondments").await;
        page.contains("已同意(").then_some(())
    })
    .await;
}

fn urlencode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}
