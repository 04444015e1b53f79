//! Who is signed in, and the checks every form goes through.
//!
//! The session token the accounts hand out lives in a `__Host-` cookie (HttpOnly, Secure,
//! SameSite=Strict, Path=/). Forms carry a CSRF token: for a signed-in person, an HMAC of the
//! session token (so it needs no store and dies with the session); for the sign-in form, a
//! random value also set as a cookie (double submit). Posts from another origin are refused.

use std::collections::BTreeMap;

use axum::extract::{Form, FromRequest, FromRequestParts, Multipart, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;
use xuncha_domain::{NodeId, Principal};

use crate::App;

/// The session cookie's name on `node`: browsers share cookies across the ports of one host, so
/// each node (a replica, a county) keeps its own.
pub fn cookie_name(node: &NodeId) -> String {
    match node.county_code() {
        Some(code) => format!("__Host-xuncha-{code}"),
        None => "__Host-xuncha-city".to_string(),
    }
}

/// The sign-in form's double-submit cookie beside the session cookie.
pub fn login_cookie_name(session_cookie: &str) -> String {
    format!("{session_cookie}-login")
}

/// A cookie as every cookie of the app is set: host-only, HTTPS-only, out of scripts' reach,
/// never sent with a request another site starts.
pub fn set_cookie(name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let mut c = Cookie::build((name, value)).path("/").secure(true).http_only(true).same_site(SameSite::Strict);
    if let Some(s) = max_age {
        c = c.max_age(cookie::time::Duration::seconds(s));
    }
    HeaderValue::from_str(&c.build().to_string()).expect("cookie values are ASCII")
}

/// The value of cookie `name` in the request's headers.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

fn mac(session_token: &str) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(session_token.as_bytes()).expect("HMAC takes any key");
    m.update(b"xuncha-web-csrf-v1");
    m
}

/// The CSRF token of a session's forms.
pub fn csrf_token(session_token: &str) -> String {
    hex::encode(mac(session_token).finalize().into_bytes())
}

/// Whether `given` is the session's CSRF token (compared in constant time).
pub fn csrf_matches(session_token: &str, given: &str) -> bool {
    hex::decode(given).is_ok_and(|bytes| mac(session_token).verify_slice(&bytes).is_ok())
}

/// A new random value for the sign-in form's double submit.
pub fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// Whether a post came from this app's own pages: a browser names the origin of every post;
/// one naming another origin is a cross-site request.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        // Non-browser clients (and old browsers) send none; the CSRF token still holds.
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    origin == format!("https://{host}")
}

/// The signed-in person behind the request's session cookie, with the token (for CSRF).
pub struct Signed {
    pub who: Principal,
    pub token: String,
}

impl Signed {
    pub fn csrf(&self) -> String {
        csrf_token(&self.token)
    }
}

/// Not signed in (or the session ended): back to the sign-in page; or a password to change
/// first.
pub enum SignInFirst {
    Login,
    ChangePassword,
}

impl IntoResponse for SignInFirst {
    fn into_response(self) -> Response {
        match self {
            SignInFirst::Login => Redirect::to("/login").into_response(),
            SignInFirst::ChangePassword => Redirect::to("/password").into_response(),
        }
    }
}

impl FromRequestParts<App> for Signed {
    type Rejection = SignInFirst;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let token = cookie_value(&parts.headers, &app.cookie).ok_or(SignInFirst::Login)?;
        let who = app.api.auth().authenticate(&token).await.map_err(|_| SignInFirst::Login)?;
        // A reset password must be changed before anything else (as the API insists too).
        if who.must_change_password && !matches!(parts.uri.path(), "/password" | "/logout") {
            return Err(SignInFirst::ChangePassword);
        }
        Ok(Signed { who, token })
    }
}

/// A form posted by a signed-in person from this app's own pages, with the session's CSRF
/// token: checked before the handler runs, so no form can forget it.
pub struct Posted<T> {
    pub signed: Signed,
    pub form: T,
}

/// A form with no fields but its CSRF token (退出).
#[derive(Deserialize)]
pub struct NoFields {}

#[derive(Deserialize)]
struct WithCsrf<T> {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    form: T,
}

fn stale_form() -> Response {
    crate::pages::forbidden("表单已过期或来自其他网站,请刷新页面后重试。")
}

fn unreadable_form(why: impl std::fmt::Display) -> Response {
    tracing::info!(%why, "a form post was unreadable");
    crate::pages::bad_request("表单内容不完整或格式不对,请刷新页面后重试。")
}

/// The person behind a post that came from this app's own pages.
async fn signed_from_here(parts: &mut Parts, app: &App) -> Result<Signed, Response> {
    let signed = Signed::from_request_parts(parts, app).await.map_err(IntoResponse::into_response)?;
    if !same_origin(&parts.headers) {
        return Err(stale_form());
    }
    Ok(signed)
}

impl<T: DeserializeOwned + Send> FromRequest<App> for Posted<T> {
    type Rejection = Response;

    async fn from_request(req: Request, app: &App) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let signed = signed_from_here(&mut parts, app).await?;
        let Form(WithCsrf { csrf, form }) =
            Form::<WithCsrf<T>>::from_request(Request::from_parts(parts, body), app).await.map_err(unreadable_form)?;
        if !csrf_matches(&signed.token, &csrf) {
            return Err(stale_form());
        }
        Ok(Posted { signed, form })
    }
}

/// A file posted with a form (multipart), checked like [`Posted`].
pub struct Upload {
    pub signed: Signed,
    /// The file's name as the browser gave it, and its bytes.
    pub file: Option<(String, Vec<u8>)>,
}

impl FromRequest<App> for Upload {
    type Rejection = Response;

    async fn from_request(req: Request, app: &App) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let signed = signed_from_here(&mut parts, app).await?;
        let mut multipart =
            Multipart::from_request(Request::from_parts(parts, body), app).await.map_err(unreadable_form)?;
        let mut fields = BTreeMap::new();
        let mut file = None;
        while let Some(field) = multipart.next_field().await.map_err(unreadable_form)? {
            let name = field.name().unwrap_or_default().to_string();
            match field.file_name().map(str::to_string) {
                Some(file_name) => {
                    let bytes = field.bytes().await.map_err(unreadable_form)?;
                    file = Some((file_name, bytes.to_vec()));
                }
                None => {
                    let text = field.text().await.map_err(unreadable_form)?;
                    fields.insert(name, text);
                }
            }
        }
        if !csrf_matches(&signed.token, fields.get("csrf").map(String::as_str).unwrap_or_default()) {
            return Err(stale_form());
        }
        Ok(Upload { signed, file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csrf_token_belongs_to_its_session_only() {
        let a = csrf_token("xs_aaaa");
        assert!(csrf_matches("xs_aaaa", &a));
        assert!(!csrf_matches("xs_bbbb", &a));
        assert!(!csrf_matches("xs_aaaa", "not hex"));
        assert!(!csrf_matches("xs_aaaa", ""));
    }

    #[test]
    fn session_cookies_are_host_only_https_only_and_strict() {
        let c = set_cookie("__Host-xuncha-city", "v", None);
        let c = c.to_str().unwrap();
        for part in ["Path=/", "Secure", "HttpOnly", "SameSite=Strict"] {
            assert!(c.contains(part), "{c} lacks {part}");
        }
        assert!(!c.contains("Domain"), "{c}");
    }
}
