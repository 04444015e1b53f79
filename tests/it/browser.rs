//! The web app in a real headless Chromium (Debian's `chromium` and `chromium-driver`), driven
//! over WebDriver: sign in as a clerk, create a round through the form, see a refusal in
//! Chinese, sign in at a county while the city is out of reach; at a county, import a pool file
//! with a bad row, form a group from the suggestion and be refused a recusal, download the
//! 整改台账, record a finding while cut off; another county's node refuses the session; no UUID
//! in any page's visible text. Screenshots land in `target/screenshots/` for review.
//!
//! Without `chromedriver` on the PATH the tests say so and pass, unless
//! `XUNCHA_REQUIRE_BROWSER` is set (CI sets it, after installing the browser).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

use crate::federation::Federation;
use crate::fixtures::{ADMIN, ADMIN_PASSWORD, STAFF_PASSWORD, admin, eventually, tls_channel};
use crate::web::{city_with_clerk, has_uuid};
use crate::web_office::demo_county;

/// A headless Chromium under its own chromedriver; both end when this is dropped.
struct Chromium {
    client: Client,
    driver: tokio::process::Child,
    _profile: tempfile::TempDir,
    /// Where the browser saves downloads.
    downloads: tempfile::TempDir,
}

impl Chromium {
    /// None when there is no chromedriver and none is required.
    async fn start() -> Option<Self> {
        let Ok(driver_path) = which("chromedriver") else {
            assert!(
                std::env::var_os("XUNCHA_REQUIRE_BROWSER").is_none(),
                "XUNCHA_REQUIRE_BROWSER is set but chromedriver is not on the PATH"
            );
            eprintln!("browser tests skipped: no chromedriver (apt-get install chromium chromium-driver)");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = tokio::process::Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().unwrap();
        let downloads = tempfile::tempdir().unwrap();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    // The development CA is not in the browser's store; the HTML tests check the
                    // certificate chain with it.
                    "--ignore-certificate-errors",
                    "--window-size=1366,900", "--lang=zh-CN",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": {
                    "download.default_directory": downloads.path().display().to_string(),
                    "download.prompt_for_download": false,
                }
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = eventually("chromedriver to accept a session", Duration::from_secs(60), || {
            let (connector, caps, url) = (connector.clone(), caps.clone(), url.clone());
            async move { ClientBuilder::new(connector).capabilities(caps).connect(&url).await.ok() }
        })
        .await;
        Some(Self { client, driver, _profile: profile, downloads })
    }

    async fn stop(mut self) {
        let _ = self.client.close().await;
        let _ = self.driver.kill().await;
    }

    async fn sign_in(&self, url: &str, username: &str, password: &str) {
        let c = &self.client;
        c.goto(&format!("{url}login")).await.unwrap();
        c.find(Locator::Css("input[name=username]")).await.unwrap().send_keys(username).await.unwrap();
        c.find(Locator::Css("input[name=password]")).await.unwrap().send_keys(password).await.unwrap();
        c.find(Locator::Css("form.login button[type=submit]")).await.unwrap().click().await.unwrap();
        self.wait_for_text("总览").await;
    }

    /// The page's visible text; empty while a page is loading (its body not there yet).
    async fn text(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    async fn wait_for_text(&self, needle: &str) -> String {
        eventually(&format!("the page to show {needle}"), Duration::from_secs(30), || async {
            let t = self.text().await;
            t.contains(needle).then_some(t)
        })
        .await
    }

    /// Waits for a form's outcome to say `needle`; a refusal shown instead fails at once with
    /// its text.
    async fn wait_for_done(&self, needle: &str) -> String {
        eventually(&format!("the page to say {needle}"), Duration::from_secs(30), || async {
            if let Ok(alert) = self.client.find(Locator::Css("[role=alert]")).await {
                panic!("refused: {}", alert.text().await.unwrap_or_default());
            }
            let t = self.text().await;
            t.contains(needle).then_some(t)
        })
        .await
    }

    /// Saves a screenshot as `target/screenshots/<name>.png`.
    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// Sets a date input as its picker would (typed digits depend on the locale's order).
    async fn pick_date(&self, field: &str, iso: &str) {
        let script = "document.querySelector(`[name=${arguments[0]}]`).value = arguments[1];";
        self.client.execute(script, vec![field.into(), iso.into()]).await.unwrap();
    }

    async fn fill(&self, field: &str, value: &str) {
        let input = self.client.find(Locator::Css(&format!("[name={field}]"))).await.unwrap();
        input.clear().await.unwrap();
        input.send_keys(value).await.unwrap();
    }
}

impl Chromium {
    /// Waits for the browser to finish saving a file ending in `suffix`; its bytes.
    async fn downloaded(&self, suffix: &str) -> (String, Vec<u8>) {
        eventually(&format!("a {suffix} download"), Duration::from_secs(30), || async {
            let entries = std::fs::read_dir(self.downloads.path()).ok()?;
            entries.filter_map(Result::ok).find_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                name.ends_with(suffix).then(|| (name, std::fs::read(e.path()).unwrap()))
            })
        })
        .await
    }

    async fn click(&self, css: &str) {
        self.client.find(Locator::Css(css)).await.unwrap().click().await.unwrap();
    }

    async fn visit(&self, url: &str) -> String {
        self.client.goto(url).await.unwrap();
        eventually(&format!("{url} to load"), Duration::from_secs(30), || async {
            let t = self.text().await;
            (!t.is_empty()).then_some(t)
        })
        .await
    }
}

fn which(program: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(program)).find(|p| p.is_file()))
        .ok_or(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_clerk_creates_a_round_in_chromium_and_a_county_works_while_the_city_is_down() {
    let Some(browser) = Chromium::start().await else {
        return;
    };
    let fed = Federation::start(&["anping"]).await;
    let (leader, url) = city_with_clerk(&fed).await;
    let city = fed.city.node(leader);

    browser.sign_in(&url, "wangli", STAFF_PASSWORD).await;
    let overview = browser.wait_for_text("安平县").await;
    assert!(overview.contains("王丽"), "{overview}");
    assert!(!has_uuid(&overview), "{overview}");
    browser.screenshot("city-overview").await;

    // The round form: dates out of order are refused in Chinese and the form keeps its values.
    browser.client.goto(&format!("{url}rounds")).await.unwrap();
    browser.client.find(Locator::Css("select[name=term] option:nth-child(2)")).await.unwrap().click().await.unwrap();
    browser.fill("number", "8").await;
    browser.fill("name", "2027年第一轮巡察").await;
    browser.pick_date("enter_on", "2027-03-01").await;
    browser.pick_date("leave_on", "2027-02-01").await;
    browser.pick_date("feedback_on", "2027-05-20").await;
    browser.client.find(Locator::Css("form.card button[type=submit]")).await.unwrap().click().await.unwrap();
    let alert = browser.client.wait().for_element(Locator::Css("[role=alert]")).await.unwrap().text().await.unwrap();
    assert!(alert.starts_with("撤离日期") && alert.contains("早于进驻日期"), "a refusal in Chinese: {alert}");
    let refused = browser.text().await;
    assert!(!has_uuid(&refused), "{refused}");
    browser.screenshot("round-refused").await;
    assert_eq!(city.replica.engine.read(|s| s.rounds.len()).await, 0);

    browser.pick_date("leave_on", "2027-04-30").await;
    browser.client.find(Locator::Css("form.card button[type=submit]")).await.unwrap().click().await.unwrap();
    let created = browser.wait_for_text("已创建第八轮").await;
    assert!(created.contains("2027年3月1日") && created.contains("草拟"), "{created}");
    assert!(!has_uuid(&created), "{created}");
    browser.screenshot("rounds").await;
    let held = city.replica.engine.read(|s| s.rounds.values().map(|r| r.name.clone()).collect::<Vec<_>>()).await;
    assert_eq!(held, vec!["2027年第一轮巡察".to_string()]);

    // A county cut off from the city still serves its pages, saying so.
    let county = fed.county("anping");
    admin(tls_channel(county.addr(), Some(&fed.operator())).await.unwrap()).await;
    fed.offline("anping", true);
    let county_url = county.web.as_ref().unwrap().url();
    browser.sign_in(&county_url, ADMIN, ADMIN_PASSWORD).await;
    let banner = eventually("the county's banner", Duration::from_secs(60), || async {
        browser.client.goto(&county_url).await.unwrap();
        let t = browser.text().await;
        t.contains("与市委巡察办的连接已中断").then_some(t)
    })
    .await;
    assert!(banner.contains("安平县委巡察办"), "{banner}");
    assert!(!has_uuid(&banner), "{banner}");
    browser.screenshot("county-offline").await;
    browser.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_county_office_imports_staffs_exports_and_records_offline_in_chromium() {
    let Some(browser) = Chromium::start().await else {
        return;
    };
    let fed = Federation::start(&["anping", "qinghe"]).await;
    let demo = demo_county(&fed, "anping", "安平县").await;
    let url = demo.county.web.as_ref().unwrap().url();
    browser.sign_in(&url, &demo.head.username, &demo.head.password).await;

    // 人才库: a file with a bad row is refused, the row named.
    let header = ["姓名", "性别", "出生年份", "职级", "来源", "工作单位", "专长", "组长库"];
    let row = |name: &str, year: &str| {
        [name, "男", year, "科员", "巡察办", "县审计局", "审计", "否"].map(String::from).to_vec()
    };
    let file = tempfile::Builder::new().suffix(".xlsx").tempfile().unwrap();
    let bytes =
        xuncha_api::tabular::write_xlsx("人才库", &header, &[row("孙新", "1984"), row("李新", "19八4")]).unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    browser.visit(&format!("{url}pool")).await;
    let input = browser.client.find(Locator::Css("input[type=file]")).await.unwrap();
    input.send_keys(&file.path().display().to_string()).await.unwrap();
    browser.click("form[action='/pool/import'] button[type=submit]").await;
    let refused = browser.wait_for_text("未导入任何人员").await;
    assert!(refused.contains("第3行") && refused.contains("出生年份"), "{refused}");
    assert!(!has_uuid(&refused), "{refused}");
    browser.screenshot("pool-import-refused").await;

    // The filters narrow the list in place (htmx): the page is not reloaded, the address follows.
    let (q, matching) = demo
        .county
        .engine
        .read(|s| {
            let name = s.persons.values().filter(|p| p.active).map(|p| p.name.clone()).min().unwrap();
            let n = s.persons.values().filter(|p| p.active && (p.name.contains(&name) || p.work_unit.contains(&name)));
            (name.clone(), n.count())
        })
        .await;
    browser.visit(&format!("{url}pool")).await;
    browser.client.execute("window.stayed = true", vec![]).await.unwrap();
    browser.fill("q", &q).await;
    let count_rows = "return document.querySelectorAll('#results tbody tr').length";
    eventually("the list narrowed in place", Duration::from_secs(30), || async {
        let n = browser.client.execute(count_rows, vec![]).await.unwrap().as_u64().unwrap_or(0) as usize;
        (n == matching).then_some(())
    })
    .await;
    let stayed = browser.client.execute("return window.stayed === true", vec![]).await.unwrap();
    assert_eq!(stayed, serde_json::Value::Bool(true), "the page was reloaded instead of updated in place");
    let address = browser.client.current_url().await.unwrap();
    assert!(address.query().is_some_and(|query| query.contains("q=")), "{address}");
    browser.screenshot("pool-filtered-in-place").await;

    // 巡察组: the suggestion with its reasons; the insider chosen is refused in Chinese.
    let round = demo.new_round().await;
    let (unit, unit_name, insider, insider_name) = demo.insider().await;
    browser.visit(&format!("{url}groups?round={round}")).await;
    browser.fill("name", "第一巡察组").await;
    browser.click(&format!("input[name=unit_{unit}]")).await;
    browser.click("#step1 button[type=submit]").await;
    let suggestion = browser.wait_for_text("第二步").await;
    assert!(suggestion.contains("组长库成员") && suggestion.contains("需回避"), "{suggestion}");
    assert!(!has_uuid(&suggestion), "{suggestion}");
    // The second step in view: the people with their reasons.
    browser.client.execute("document.getElementById('step2').scrollIntoView()", vec![]).await.unwrap();
    browser.screenshot("group-suggestion").await;
    browser.click(&format!("input[name=member_{insider}]")).await;
    browser.click("#step2 button[type=submit]").await;
    let alert = browser.client.wait().for_element(Locator::Css("[role=alert]")).await.unwrap().text().await.unwrap();
    assert!(alert.contains(&format!("需回避:{insider_name}在{unit_name}工作")), "{alert}");
    browser.screenshot("group-recusal-refused").await;
    assert_eq!(demo.county.engine.read(move |s| s.groups_of_round(round).count()).await, 0);
    browser.click(&format!("input[name=member_{insider}]")).await;
    browser.click("#step2 button[type=submit]").await;
    let formed = browser.wait_for_text("已组建第一巡察组").await;
    assert!(formed.contains(&unit_name), "{formed}");
    assert_eq!(demo.county.engine.read(move |s| s.groups_of_round(round).count()).await, 1);

    // 整改台账: the export is saved by the browser and reads back whole.
    let ledger = browser.visit(&format!("{url}rectification")).await;
    assert!(!has_uuid(&ledger), "{ledger}");
    browser.screenshot("rectification").await;
    browser.click("a[href='/rectification.xlsx']").await;
    let (name, bytes) = browser.downloaded(".xlsx").await;
    assert!(name.starts_with("整改台账"), "{name}");
    let table = xuncha_api::tabular::read_xlsx(&bytes).unwrap();
    let held = demo.county.engine.read(|s| s.rectifications.len()).await;
    assert_eq!(table.rows.len(), held);
    // Its print view: every item, and a button that prints (bound by the page's own script, as
    // the CSP forbids inline handlers; the print dialog itself is replaced here).
    browser.click("a[href='/rectification/print']").await;
    let printable = browser.wait_for_text("打印于").await;
    assert!(printable.contains(&format!("共{held}条")) && !has_uuid(&printable), "{printable}");
    browser.screenshot("rectification-print").await;
    browser.client.execute("window.print = () => { window.printed = true; }", vec![]).await.unwrap();
    browser.click("button[data-print]").await;
    let printed = browser.client.execute("return window.printed === true", vec![]).await.unwrap();
    assert_eq!(printed, serde_json::Value::Bool(true), "the 打印 button printed nothing");

    // 督办: a notice to an inspected unit, issued from its page.
    browser.visit(&format!("{url}notices")).await;
    browser.click("select[name=addressee] option:nth-child(2)").await;
    browser.pick_date("respond_by", &crate::scenario::days_from_today(7)).await;
    let text = browser.client.find(Locator::Css("form[method=post][action='/notices'] [name=text]")).await.unwrap();
    text.send_keys("请于一周内书面报告整改进展").await.unwrap();
    browser.click("form[method=post][action='/notices'] button[type=submit]").await;
    let issued = browser.wait_for_done("已发出督办").await;
    assert!(
        issued.contains("请于一周内书面报告整改进展") && issued.contains("待回复") && !has_uuid(&issued),
        "{issued}"
    );
    browser.screenshot("notices").await;

    // Cut off from the city, a finding is recorded and kept.
    fed.offline("anping", true);
    eventually("the county's banner", Duration::from_secs(60), || async {
        let t = browser.visit(&format!("{url}findings")).await;
        t.contains("与市委巡察办的连接已中断").then_some(())
    })
    .await;
    browser.click("select[name=target] option:nth-child(2)").await;
    browser.click("select[name=category] option:nth-child(2)").await;
    browser.fill("title", "村务公开不及时").await;
    browser.fill("description", "2026年第三季度财务收支未公开").await;
    browser.click("form[action='/findings'] button[type=submit]").await;
    let recorded = browser.wait_for_done("已记录问题「村务公开不及时」").await;
    assert!(!has_uuid(&recorded), "{recorded}");
    browser.screenshot("finding-recorded-offline").await;
    let kept = demo.county.engine.read(|s| s.findings.values().any(|f| f.title == "村务公开不及时")).await;
    assert!(kept);

    // No main page shows an id.
    for page in
        ["", "plan", "rounds", "linkage", "pool", "findings", "rectification", "notices", "secondments", "ledger"]
    {
        let text = browser.visit(&format!("{url}{page}")).await;
        assert!(!has_uuid(&text), "/{page}: {text}");
    }
    browser.screenshot("ledger").await;
    fed.offline("anping", false);

    // The city's overview charts the county once its records arrive.
    let (_, city_url) = city_with_clerk(&fed).await;
    browser.sign_in(&city_url, "wangli", STAFF_PASSWORD).await;
    let overview = eventually("the county in the city's charts", Duration::from_secs(60), || async {
        let t = browser.visit(&city_url).await;
        (t.contains("各地整改事项状态") && t.contains("安平县")).then_some(t)
    })
    .await;
    assert!(!has_uuid(&overview), "{overview}");
    browser.screenshot("city-overview-charts").await;

    // Another county's node does not know this county's session: its pages ask to sign in,
    // and this county's office head cannot sign in there.
    let qinghe = fed.county("qinghe").web.as_ref().unwrap().url();
    browser.visit(&format!("{qinghe}pool")).await;
    let current = browser.client.current_url().await.unwrap();
    assert_eq!(current.path(), "/login", "{current}");
    browser.fill("username", &demo.head.username).await;
    browser.fill("password", &demo.head.password).await;
    browser.click("form.login button[type=submit]").await;
    let refused = browser.wait_for_text("用户名或密码错误").await;
    assert!(!refused.contains("人才库"), "{refused}");
    browser.stop().await;
}
