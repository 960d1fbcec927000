//! Accounts over HTTP: the session (sign in and out, who am I, password change), users (server
//! administrators), API tokens (one's own), namespace members, the public flag and the audit
//! log. The session is a cookie: HttpOnly, SameSite=Lax, Secure when the request came over
//! HTTPS (directly or through a proxy that says so).
//! Must not: decide who may do what (the service checks) or keep session state.

use super::{ApiResult, HttpError, ListQuery, Who, decode, deleted, respond};
use crate::service::{SESSION_COOKIE, Service};
use app::model::*;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;

/// The `Set-Cookie` value of a session (an empty value and age 0 clear it).
pub fn session_cookie_header(headers: &HeaderMap, value: &str, max_age: i64) -> Result<HeaderValue, ApiError> {
    let https = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https");
    let secure = if https { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"))
        .map_err(|e| ApiError::internal(e.to_string()))
}

fn cookie(headers: &HeaderMap, value: &str, max_age: i64) -> Result<HeaderValue, HttpError> {
    session_cookie_header(headers, value, max_age).map_err(HttpError)
}

pub async fn sign_in(State(s): State<Service>, Who(who): Who, headers: HeaderMap, body: Bytes) -> ApiResult {
    if is_html_form(&headers) {
        return Ok(sign_in_from_page(&s, who.remote.clone(), &headers, &body).await);
    }
    let form: SignIn = decode(&headers, &body)?;
    let (secret, me) = s.sign_in(&form, who.remote.clone()).await?;
    let set = cookie(&headers, &secret, s.session_ttl_secs())?;
    let mut resp = respond(&headers, StatusCode::OK, &me)?;
    resp.headers_mut().insert(header::SET_COOKIE, set);
    Ok(resp)
}

fn is_html_form(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
}

/// The sign-in page's plain HTML form (it needs no JavaScript): signed in, the browser goes back
/// to the page it came from (`next`, a path on this site) or to the catalog; refused, back to `/signin` with the reason (and the user name) in the query,
/// where the page shows it at the password field. Only forms from this site are taken, so
/// another site cannot sign a visitor in to an account of its own.
async fn sign_in_from_page(s: &Service, remote: Option<String>, headers: &HeaderMap, body: &Bytes) -> axum::response::Response {
    // Field by field, so a form missing one still brings the user name back to the page.
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let form = SignIn { username: field("username"), password: field("password") };
    let next = Some(field("next")).filter(|n| is_local_path(n));
    let back = |form: &SignIn, message: &str| {
        // The name goes back to the page, but never more of it than a name can be.
        let user: String = form.username.chars().take(app::domain::accounts::MAX_USER_NAME_LEN).collect();
        let mut query = vec![("user", user.as_str()), ("error", message)];
        if let Some(n) = &next {
            query.push(("next", n.as_str()));
        }
        see_other(&format!("/signin?{}", serde_urlencoded::to_string(query).unwrap_or_default()))
    };
    // The CSRF rule of cookie-authenticated changes, applied though no session exists yet.
    if let Err(e) = super::edge::csrf_check(headers) {
        return HttpError(e).into_response();
    }
    if form.username.is_empty() || form.password.is_empty() {
        return back(&form, "Enter a user name and a password.");
    }
    match s.sign_in(&form, remote).await {
        Ok((secret, _)) => match cookie(headers, &secret, s.session_ttl_secs()) {
            Ok(set) => {
                let mut resp = see_other(next.as_deref().unwrap_or("/"));
                resp.headers_mut().insert(header::SET_COOKIE, set);
                resp
            }
            Err(e) => back(&form, e.0.message()),
        },
        Err(e) => back(&form, e.message()),
    }
}

/// A path on this site to go back to after signing in; anything else (`//host`, `/\host`, a
/// scheme, control characters) would make the form an open redirect.
fn is_local_path(p: &str) -> bool {
    p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') && !p.chars().any(char::is_control)
}

fn see_other(location: &str) -> axum::response::Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

pub async fn sign_out(State(s): State<Service>, Who(who): Who, headers: HeaderMap) -> ApiResult {
    s.sign_out(&who).await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(header::SET_COOKIE, cookie(&headers, "", 0)?);
    Ok(resp)
}

pub async fn who_am_i(State(s): State<Service>, Who(who): Who, headers: HeaderMap) -> ApiResult {
    respond(&headers, StatusCode::OK, &s.who_am_i(&who))
}

pub async fn change_password(State(s): State<Service>, Who(who): Who, headers: HeaderMap, body: Bytes) -> ApiResult {
    let change: PasswordChange = decode(&headers, &body)?;
    s.change_password(&who, &change).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn list_users(State(s): State<Service>, Who(who): Who, headers: HeaderMap) -> ApiResult {
    respond(&headers, StatusCode::OK, &s.list_users(&who).await?)
}

pub async fn create_user(State(s): State<Service>, Who(who): Who, headers: HeaderMap, body: Bytes) -> ApiResult {
    let new: NewUser = decode(&headers, &body)?;
    respond(&headers, StatusCode::CREATED, &s.create_user(&who, &new).await?)
}

pub async fn list_tokens(State(s): State<Service>, Who(who): Who, headers: HeaderMap) -> ApiResult {
    respond(&headers, StatusCode::OK, &s.list_tokens(&who).await?)
}

pub async fn create_token(State(s): State<Service>, Who(who): Who, headers: HeaderMap, body: Bytes) -> ApiResult {
    let spec: ApiToken = decode(&headers, &body)?;
    respond(&headers, StatusCode::CREATED, &s.create_token(&who, &spec).await?)
}

pub async fn revoke_token(State(s): State<Service>, Who(who): Who, headers: HeaderMap, Path(id): Path<String>, body: Bytes) -> ApiResult {
    no_preconditions(&headers, &body, "tokens")?;
    deleted(&headers, s.revoke_token(&who, &id).await?)
}

/// Tokens and members have no uid or resourceVersion a DeleteOptions precondition could name:
/// one is refused (400) rather than ignored, so a conditional delete never deletes blindly.
fn no_preconditions(headers: &HeaderMap, body: &Bytes, resource: &str) -> Result<(), HttpError> {
    let pre = super::delete_preconditions(headers, body)?;
    if pre.uid.is_some() || pre.resource_version.is_some() {
        return Err(HttpError(ApiError::bad_request(format!(
            "preconditions are not supported when deleting {resource}: they have no uid or resourceVersion"
        ))));
    }
    Ok(())
}

pub async fn list_members(State(s): State<Service>, Who(who): Who, headers: HeaderMap, Path(ns): Path<String>) -> ApiResult {
    respond(&headers, StatusCode::OK, &s.list_members(&who, &ns).await?)
}

#[derive(serde::Deserialize)]
struct RoleBody {
    role: String,
}

pub async fn set_member(
    State(s): State<Service>,
    Who(who): Who,
    headers: HeaderMap,
    Path((ns, user)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let b: RoleBody = decode(&headers, &body)?;
    respond(&headers, StatusCode::OK, &s.set_member(&who, &ns, &user, &b.role).await?)
}

pub async fn remove_member(
    State(s): State<Service>,
    Who(who): Who,
    headers: HeaderMap,
    Path((ns, user)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    no_preconditions(&headers, &body, "members")?;
    deleted(&headers, s.remove_member(&who, &ns, &user).await?)
}

pub async fn get_visibility(State(s): State<Service>, Who(who): Who, headers: HeaderMap, Path(ns): Path<String>) -> ApiResult {
    respond(&headers, StatusCode::OK, &s.get_visibility(&who, &ns).await?)
}

pub async fn set_visibility(State(s): State<Service>, Who(who): Who, headers: HeaderMap, Path(ns): Path<String>, body: Bytes) -> ApiResult {
    let v: Visibility = decode(&headers, &body)?;
    respond(&headers, StatusCode::OK, &s.set_visibility(&who, &ns, &v).await?)
}

pub async fn namespace_audit(
    State(s): State<Service>,
    Who(who): Who,
    headers: HeaderMap,
    Path(ns): Path<String>,
    Query(q): Query<ListQuery>,
    uri: axum::http::Uri,
) -> ApiResult {
    audit_page(&s, &who, &headers, Some(&ns), q, &uri).await
}

pub async fn server_audit(
    State(s): State<Service>,
    Who(who): Who,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
    uri: axum::http::Uri,
) -> ApiResult {
    audit_page(&s, &who, &headers, None, q, &uri).await
}

/// A page of the audit log: a JSON array of entries, newest first; when more remain, a
/// `Link: <…?limit=N&continue=T>; rel="next"` header names the next page (RFC 8288, as the OCI
/// distribution API pages tags).
async fn audit_page(
    s: &Service,
    who: &crate::service::Caller,
    headers: &HeaderMap,
    ns: Option<&str>,
    q: ListQuery,
    uri: &axum::http::Uri,
) -> ApiResult {
    let (entries, next) = s.audit_page(who, ns, q.limit, q.continue_token.as_deref()).await?;
    let mut resp = respond(headers, StatusCode::OK, &entries)?;
    if let Some(token) = next {
        let mut query = vec![("continue", token)];
        if let Some(l) = q.limit {
            query.insert(0, ("limit", l.to_string()));
        }
        let link = format!("<{}?{}>; rel=\"next\"", uri.path(), serde_urlencoded::to_string(query).unwrap_or_default());
        if let Ok(v) = HeaderValue::from_str(&link) {
            resp.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(resp)
}
