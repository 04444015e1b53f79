//! The office's web app over real HTTPS, as a browser without JavaScript uses it: sign-in and
//! its cookie, CSRF and origin checks, a round created through the form, a county's pages
//! while the city is out of reach, and no id anywhere in the visible text.

use std::time::Duration;

use reqwest::StatusCode;
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::unit_service_client::UnitServiceClient;

use crate::federation::Federation;
use crate::fixtures::{ADMIN, ADMIN_PASSWORD, STAFF_PASSWORD, admin, eventually, grant, staff, tls_channel};

/// A browser's stand-in: trusts the federation's CA, keeps cookies, follows redirects.
pub struct Browser {
    http: reqwest::Client,
    /// The same cookies, redirects not followed: to see what a response itself says.
    raw: reqwest::Client,
    base: String,
}

impl Browser {
    pub fn new(fed: &Federation, url: &str) -> Self {
        Self::trusting(&fed.operator().ca, url)
    }

    /// A browser that trusts the CA certificate (PEM) at `ca`.
    pub fn trusting(ca: &std::path::Path, url: &str) -> Self {
        let ca = std::fs::read(ca).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls::pki_types::pem::PemObject::pem_slice_iter(&ca) {
            roots.add(c.unwrap()).unwrap();
        }
        let tls = rustls::ClientConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let client = |redirect| {
            reqwest::Client::builder()
                .use_preconfigured_tls(tls.clone())
                .cookie_provider(jar.clone())
                .redirect(redirect)
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap()
        };
        let http = client(reqwest::redirect::Policy::limited(5));
        let raw = client(reqwest::redirect::Policy::none());
        Self { http, raw, base: url.trim_end_matches('/').to_string() }
    }

    pub async fn get(&self, path: &str) -> (StatusCode, reqwest::header::HeaderMap, String) {
        let r = self.http.get(format!("{}{path}", self.base)).send().await.unwrap();
        let (status, headers) = (r.status(), r.headers().clone());
        (status, headers, r.text().await.unwrap())
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
        let r = self.http.post(format!("{}{path}", self.base)).form(form).send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    }

    /// A download: its status, headers and bytes.
    pub async fn get_bytes(&self, path: &str) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
        let r = self.http.get(format!("{}{path}", self.base)).send().await.unwrap();
        let (status, headers) = (r.status(), r.headers().clone());
        (status, headers, r.bytes().await.unwrap().to_vec())
    }

    /// Posts a file as a form with a file field does (multipart), with the CSRF token.
    pub async fn post_file(&self, path: &str, csrf: &str, file_name: &str, bytes: Vec<u8>) -> (StatusCode, String) {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_string());
        let form = reqwest::multipart::Form::new().text("csrf", csrf.to_string()).part("file", part);
        let r = self.http.post(format!("{}{path}", self.base)).multipart(form).send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    }

    /// Posts as a page of another site would (its origin named).
    pub async fn post_from(&self, origin: &str, path: &str, form: &[(&str, &str)]) -> StatusCode {
        let r =
            self.http.post(format!("{}{path}", self.base)).header("origin", origin).form(form).send().await.unwrap();
        r.status()
    }

    /// Signs in through the form; the page it lands on.
    pub async fn sign_in(&self, username: &str, password: &str) -> (StatusCode, String) {
        let (_, _, form) = self.get("/login").await;
        let csrf = csrf_of(&form);
        self.post("/login", &[("username", username), ("password", password), ("csrf", &csrf)]).await
    }
}

/// The CSRF token of the first form on `html`.
pub fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
    html[at..].split('"').next().unwrap().to_string()
}

/// What a person sees of `html`: the text outside tags (attributes, scripts and styles left out).
pub fn visible_text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Whether `text` holds anything shaped like a UUID.
pub fn has_uuid(text: &str) -> bool {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(35)).any(|i| {
        b[i..i + 36].iter().enumerate().all(|(j, c)| match j {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
    })
}

/// Readies the city for a clerk: a term to plan rounds in, and 王丽 (`wangli`, 巡察办干部 of the
/// city office, password `STAFF_PASSWORD`). Returns the leader's id and its web app's address.
pub async fn city_with_clerk(fed: &Federation) -> (u64, String) {
    let leader = fed.city.leader().await;
    let node = fed.city.node(leader);
    let raw = tls_channel(node.addr(), Some(&fed.operator())).await.unwrap();
    let head = admin(raw.clone()).await;
    UnitServiceClient::new(head.clone())
        .create_term(pb::CreateTermRequest {
            name: "十四届市委".into(),
            window: Some(pb::DateWindow { from: "2026-01-01".into(), to: "2030-12-31".into() }),
        })
        .await
        .unwrap();
    staff(&head, raw, "wangli", "王丽", vec![grant("office_clerk", pb::ScopeKind::City, "")]).await;
    (leader, node.web.as_ref().expect("the replica serves the web app").url())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_clerk_signs_in_and_creates_a_round_through_the_city_web_app() {
    let fed = Federation::start(&["anping"]).await;
    let (leader, url) = city_with_clerk(&fed).await;
    let node = fed.city.node(leader);
    let browser = Browser::new(&fed, &url);

    // Not signed in: every page leads to the sign-in form, which sets its double-submit cookie.
    let (status, headers, login) = browser.get("/rounds").await;
    assert_eq!(status, StatusCode::OK);
    assert!(login.contains("登录") && login.contains("市委巡察办"), "{login}");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");

    // A wrong password, a forged form and a cross-site post are refused, in Chinese.
    let (status, page) = browser.sign_in("wangli", "wrong-password-1").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("用户名或密码错误"), "{page}");
    let (status, page) =
        browser.post("/login", &[("username", "wangli"), ("password", STAFF_PASSWORD), ("csrf", "forged")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("登录表单已过期"), "{page}");

    // Signed in: the session cookie is host-only, HTTPS-only, hidden from scripts, strict.
    let (_, _, form) = browser.get("/login").await;
    let csrf = csrf_of(&form);
    let r = browser
        .raw
        .post(format!("{url}login"))
        .form(&[("username", "wangli"), ("password", STAFF_PASSWORD), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("__Host-xuncha-city="))
        .expect("a session cookie");
    for part in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(part), "{cookie} lacks {part}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
    let overview = eventually("the county's first contact on the overview", Duration::from_secs(60), || async {
        let (_, _, page) = browser.get("/").await;
        page.contains("安平县").then_some(page)
    })
    .await;
    assert!(overview.contains("王丽") && overview.contains("总览"), "{overview}");
    assert!(!has_uuid(&visible_text(&overview)), "{overview}");

    let (status, _, rounds) = browser.get("/rounds").await;
    assert_eq!(status, StatusCode::OK);
    let csrf = csrf_of(&rounds);
    let round = |number: &'static str, leave: &'static str| {
        vec![
            ("term", term_value(&rounds)),
            ("number", number.to_string()),
            ("name", "2027年第一轮巡察".to_string()),
            ("enter_on", "2027-03-01".to_string()),
            ("leave_on", leave.to_string()),
            ("feedback_on", "2027-05-20".to_string()),
        ]
    };
    let with = |mut f: Vec<(&'static str, String)>, csrf: &str| {
        f.push(("csrf", csrf.to_string()));
        f
    };
    let as_refs = |f: &Vec<(&'static str, String)>| f.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
    let post = |f: Vec<(&'static str, String)>| {
        let b = &browser;
        async move {
            let f = as_refs(&f);
            let r = b.http.post(format!("{}/rounds", b.base)).form(&f).send().await.unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };

    // A forged token and another site's post change nothing.
    let (status, _) = post(with(round("8", "2027-04-30"), "00")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let forged = as_refs(&with(round("8", "2027-04-30"), &csrf));
    let forged: Vec<(&str, &str)> = forged.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(browser.post_from("https://evil.example", "/rounds", &forged).await, StatusCode::FORBIDDEN);
    // Dates out of order: refused, the form kept, the field named in Chinese.
    let (status, page) = post(with(round("8", "2027-02-01"), &csrf)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("role=\"alert\"") && page.contains("2027年第一轮巡察"), "{page}");
    assert!(visible_text(&page).contains("撤离日期2027-02-01早于进驻日期"), "{page}");
    let held = node.replica.engine.read(|s| s.rounds.len()).await;
    assert_eq!(held, 0, "a refused form changes nothing");

    let (status, page) = post(with(round("8", "2027-04-30"), &csrf)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("已创建第八轮"), "{page}");
    let text = visible_text(&page);
    assert!(text.contains("第八轮") && text.contains("2027年3月1日") && text.contains("草拟"), "{text}");
    assert!(!has_uuid(&text), "a UUID is visible: {text}");
    let created =
        node.replica.engine.read(|s| s.rounds.values().map(|r| (r.number, r.name.clone())).collect::<Vec<_>>()).await;
    assert_eq!(created, vec![(8, "2027年第一轮巡察".to_string())]);

    // Signing out ends the session: the old cookie no longer opens a page.
    let (status, _) = browser.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, after) = browser.get("/rounds").await;
    assert!(after.contains("name=\"password\""), "signed out: {after}");
}

/// The value of the first term offered in the round form.
fn term_value(html: &str) -> String {
    let select = &html[html.find("name=\"term\"").expect("a term field")..];
    let options: Vec<&str> = select.split("<option value=\"").skip(1).map(|o| o.split('"').next().unwrap()).collect();
    options.into_iter().find(|v| !v.is_empty()).expect("a term to choose").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_county_serves_its_pages_while_the_city_is_out_of_reach() {
    let fed = Federation::start(&["anping", "qinghe"]).await;
    let county = fed.county("anping");
    let raw = tls_channel(county.addr(), Some(&fed.operator())).await.unwrap();
    admin(raw).await;
    let url = county.web.as_ref().expect("the county serves the web app").url();
    let browser = Browser::new(&fed, &url);
    let (status, page) = browser.sign_in(ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("总览") && page.contains("安平县委巡察办"), "{page}");
    // One county's session opens nothing at another county's node, even under its cookie name.
    let qinghe = fed.county("qinghe");
    admin(tls_channel(qinghe.addr(), Some(&fed.operator())).await.unwrap()).await;
    let token = county.api.auth().login(ADMIN, ADMIN_PASSWORD, None).await.unwrap().token;
    let other = qinghe.web.as_ref().unwrap().url();
    let r = Browser::new(&fed, &other)
        .raw
        .get(&other)
        .header("cookie", format!("__Host-xuncha-qinghe={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/login");

    fed.offline("anping", true);
    let text = eventually("the county to show the city out of reach", Duration::from_secs(60), || async {
        let (_, _, page) = browser.get("/").await;
        page.contains("与市委巡察办的连接已中断").then_some(page)
    })
    .await;
    assert!(text.contains("待上报的变更"), "{text}");
    assert!(!has_uuid(&visible_text(&text)));
    fed.offline("anping", false);
    eventually("the banner to go once the link is back", Duration::from_secs(60), || async {
        let (_, _, page) = browser.get("/").await;
        (!page.contains("连接已中断")).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_rectification_ledger_lists_items_overdue_first_and_filters_them() {
    let fed = Federation::start(&["anping"]).await;
    let county = fed.county("anping");
    let accounts = xuncha_node::demo::seed_county(&county.api, "安平县", 1000).await.unwrap();
    let head = accounts.iter().find(|a| a.username == "head").expect("the demo's office head");
    let today = county.api.today();
    let (held, late) = county
        .engine
        .read(move |s| {
            let late = s.rectifications.values().filter(|i| i.status.is_pending() && i.deadline < today).count();
            (s.rectifications.len(), late)
        })
        .await;
    assert!(held > 0 && late > 0, "the demo has items, some overdue: {held} {late}");

    let browser = Browser::new(&fed, &county.web.as_ref().unwrap().url());
    let (status, _) = browser.sign_in(&head.username, &head.password).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, page) = browser.get("/rectification").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let text = visible_text(&page);
    assert!(text.contains(&format!("共{held}项,逾期未完成{late}项")), "{text}");
    assert_eq!(page.matches("<tr class=\"overdue\">").count(), late.min(100), "overdue rows highlighted");
    let first_row = &page[page.find("<tbody>").unwrap()..];
    assert!(
        first_row.trim_start_matches("<tbody>").trim_start().starts_with("<tr class=\"overdue\">"),
        "overdue first"
    );
    assert!(!has_uuid(&text), "{text}");
    assert!(text.contains("未开始"), "statuses in Chinese: {text}");
    for english in ["open", "in_progress", "signed_off", "long_term"] {
        assert!(!text.contains(english), "{english} shown: {text}");
    }

    let (_, _, only) = browser.get("/rectification?overdue=1").await;
    let rows = only.matches("<tr").count() - 1; // the header row
    assert_eq!(rows, late.min(100));
    assert_eq!(only.matches("<tr class=\"overdue\">").count(), rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reset_password_is_changed_on_the_web_before_anything_else() {
    use xuncha_proto::v1::account_service_client::AccountServiceClient;
    let fed = Federation::start(&["anping"]).await;
    let county = fed.county("anping");
    let raw = tls_channel(county.addr(), Some(&fed.operator())).await.unwrap();
    let head = admin(raw.clone()).await;
    staff(&head, raw, "sunli", "孙丽", vec![grant("office_clerk", pb::ScopeKind::County, "anping")]).await;
    let reset = "Reset-By-Admin-2026";
    AccountServiceClient::new(head)
        .reset_password(pb::ResetPasswordRequest { account: "sunli".into(), new_password: reset.into() })
        .await
        .unwrap();

    let browser = Browser::new(&fed, &county.web.as_ref().unwrap().url());
    let (status, page) = browser.sign_in("sunli", reset).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("您的密码已被重置"), "sent to change it first: {page}");
    let (_, _, rounds) = browser.get("/rounds").await;
    assert!(rounds.contains("您的密码已被重置"), "every page leads there: {rounds}");

    let csrf = csrf_of(&page);
    let form = |old: &'static str, new: &'static str, repeat: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("old_password", old.into()),
            ("new_password", new.into()),
            ("repeat", repeat.into()),
        ]
    };
    let post = |f: Vec<(&'static str, String)>| {
        let b = &browser;
        async move {
            let r = b.http.post(format!("{}/password", b.base)).form(&f).send().await.unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    let (status, page) = post(form("wrong-old-password", "New-Secret-2026-x", "New-Secret-2026-x")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(visible_text(&page).contains("原密码:原密码不正确") || page.contains("原密码不正确"), "{page}");
    let (status, page) = post(form("Reset-By-Admin-2026", "New-Secret-2026-x", "New-Secret-2026-y")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("两次输入的新密码不一致"), "{page}");
    let (status, page) = post(form("Reset-By-Admin-2026", "New-Secret-2026-x", "New-Secret-2026-x")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("密码已修改"), "{page}");
    let (status, _, rounds) = browser.get("/rounds").await;
    assert_eq!(status, StatusCode::OK);
    assert!(rounds.contains("<h1>轮次</h1>"), "{rounds}");
    assert!(county.api.auth().login("sunli", "New-Secret-2026-x", None).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_county_whose_web_port_is_taken_fails_to_start_and_frees_its_api_port() {
    let fed = Federation::start(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let api = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut config = xuncha_node::CountyConfig::new("intruder", dir.path(), api);
    config.tls = Some(fed.tls(xuncha_node::certs::Identity::County("intruder".into())));
    config.web_listen = Some(taken.local_addr().unwrap());
    let refused = xuncha_node::start_county(config.clone()).await.err().expect("the start fails");
    assert!(format!("{refused:#}").contains("web app"), "{refused:#}");
    // Nothing of the failed start is left serving: its API port is free, and a start with a
    // free web port succeeds on the same data.
    drop(std::net::TcpListener::bind(api).expect("the API port was let go"));
    config.web_listen = Some("127.0.0.1:0".parse().unwrap());
    let county = xuncha_node::start_county(config).await.expect("the county starts");
    assert!(county.web.is_some());
    county.stop().await;
}
