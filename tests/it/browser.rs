//! The web app in a real headless Chromium (Debian's `chromium` and `chromium-driver`), driven
//! over WebDriver: sign in as a clerk, create a round through the form, see a refusal in
//! Chinese, sign in at a county while the city is out of reach; no UUID in any page's visible
//! text. Screenshots land in `target/screenshots/` for review.
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

/// A headless Chromium under its own chromedriver; both end when this is dropped.
struct Chromium {
    client: Client,
    driver: tokio::process::Child,
    _profile: tempfile::TempDir,
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
                ]
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = eventually("chromedriver to accept a session", Duration::from_secs(60), || {
            let (connector, caps, url) = (connector.clone(), caps.clone(), url.clone());
            async move { ClientBuilder::new(connector).capabilities(caps).connect(&url).await.ok() }
        })
        .await;
        Some(Self { client, driver, _profile: profile })
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
