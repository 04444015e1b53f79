//! 登录, 退出, 修改密码.

use super::*;

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/password", get(password_page).post(change_password))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    site_name: String,
    csrf: String,
    username: String,
    error: Option<String>,
}

async fn login_page(State(app): State<App>) -> Response {
    login_form(&app, String::new(), None, StatusCode::OK)
}

fn login_form(app: &App, username: String, error: Option<String>, status: StatusCode) -> Response {
    let csrf = session::random_token();
    let cookie = session::set_cookie(&session::login_cookie_name(&app.cookie), &csrf, Some(3600));
    let body = page(LoginPage { site_name: app.site.name_zh.clone(), csrf, username, error });
    (status, [(header::SET_COOKIE, cookie)], body).into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    csrf: String,
}

async fn login(
    State(app): State<App>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let expected = session::cookie_value(&headers, &session::login_cookie_name(&app.cookie));
    if !session::same_origin(&headers) || expected.as_ref().is_none_or(|e| e.is_empty() || *e != f.csrf) {
        tracing::info!(origin = ?headers.get(header::ORIGIN), "a sign-in form was refused: stale or from another origin");
        let why = Some("登录表单已过期,请重新输入。".to_string());
        return login_form(&app, f.username, why, StatusCode::FORBIDDEN);
    }
    match app.api.auth().login(&f.username, &f.password, Some(peer.ip())).await {
        Ok(signed) => {
            let max_age = (signed.expires_at - Utc::now()).num_seconds().max(0);
            let cookie = session::set_cookie(&app.cookie, &signed.token, Some(max_age));
            let clear = session::set_cookie(&session::login_cookie_name(&app.cookie), "", Some(0));
            let mut r = Redirect::to("/").into_response();
            r.headers_mut().append(header::SET_COOKIE, cookie);
            r.headers_mut().append(header::SET_COOKIE, clear);
            r
        }
        Err(e) => {
            let status = match &e {
                ApiError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNAUTHORIZED,
            };
            let why = match &e {
                ApiError::Domain(d) => d.reason.clone(),
                other => refusal(other),
            };
            login_form(&app, f.username, Some(why), status)
        }
    }
}

async fn logout(State(app): State<App>, posted: Posted<NoFields>) -> Response {
    let signed = posted.signed;
    if let Err(e) = app.api.auth().logout(&signed.who).await {
        tracing::warn!(error = %e, "signing out failed");
    }
    let clear = session::set_cookie(&app.cookie, "", Some(0));
    ([(header::SET_COOKIE, clear)], Redirect::to("/login")).into_response()
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    frame: Frame,
    must: bool,
    error: Option<String>,
    done: bool,
}

async fn password_page(State(app): State<App>, signed: Signed) -> Response {
    let frame = Frame::of(&app, &signed, "/password").await;
    page(PasswordPage { frame, must: signed.who.must_change_password, error: None, done: false })
}

#[derive(Deserialize)]
struct PasswordForm {
    old_password: String,
    new_password: String,
    repeat: String,
}

async fn change_password(State(app): State<App>, posted: Posted<PasswordForm>) -> Response {
    let Posted { signed, form: f } = posted;
    let frame = Frame::of(&app, &signed, "/password").await;
    let must = signed.who.must_change_password;
    if f.new_password != f.repeat {
        let error = Some("两次输入的新密码不一致。".to_string());
        return (StatusCode::UNPROCESSABLE_ENTITY, page(PasswordPage { frame, must, error, done: false }))
            .into_response();
    }
    match app.api.auth().change_password(&signed.who, &f.old_password, &f.new_password).await {
        Ok(()) => page(PasswordPage { frame, must: false, error: None, done: true }),
        Err(e) => {
            let error = Some(refusal(&e));
            (StatusCode::UNPROCESSABLE_ENTITY, page(PasswordPage { frame, must, error, done: false })).into_response()
        }
    }
}
