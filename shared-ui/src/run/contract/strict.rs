//! The checks `shell check --strict` adds: everything of `docs/CONTRACT.md` that can be seen
//! from outside the server. Security headers, `HEAD`, the request id's echo, the base path
//! in the fragments' own URLs, the signed user context (where the server shows the user),
//! the preview and `HEAD /healthz`. Each records lines in the [`Report`] of [`super::check`].

use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use reqwest::{Client, Response, StatusCode};

use super::report::{header_text, Report};
use super::{shared_cache_seconds, Manifest};
use crate::context::{ContextKey, UserContext};
use crate::headers;
use crate::settings::Secret;

/// The secret of `docs/context-vectors.json`: what the check signs with when it is given no
/// other (a server started with it shows whether it reads the context).
pub const VECTOR_SECRET: &str = "mosaic-test-vector-secret-0123456789";

/// Runs every strict check against the server at `base`, whose manifest is `manifest`.
pub(super) async fn run(
    report: &mut Report,
    client: &Client,
    base: &str,
    manifest: &Manifest,
    secret: &str,
) {
    security_headers(report, client, base, manifest).await;
    head(report, client, base, manifest).await;
    request_id(report, client, base).await;
    base_path(report, client, base, manifest).await;
    user_context(report, client, base, manifest, secret).await;
    preview(report, client, base).await;
}

fn get(client: &Client, base: &str, path: &str) -> reqwest::RequestBuilder {
    client.get(format!("{base}{path}"))
}

async fn security_headers(report: &mut Report, client: &Client, base: &str, m: &Manifest) {
    let mut paths = vec!["/manifest.json".to_owned(), "/".to_owned()];
    paths.extend(m.fragments.iter().map(|f| f.path.clone()));
    paths.push("/mf-contract-check-unknown".to_owned());
    for path in paths {
        let result = match get(client, base, &path).send().await {
            Err(e) => Err(format!("no answer: {e}")),
            Ok(res) => missing_security_headers(&res),
        };
        report.record(
            format!("GET {path}: security headers (nosniff, no framing)"),
            result,
        );
    }
}

/// `Ok` when the answer carries `nosniff` and forbids framing; else what is missing.
fn missing_security_headers(res: &Response) -> Result<String, String> {
    let nosniff = header_text(res, "x-content-type-options")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("nosniff"));
    let frame_options =
        header_text(res, "x-frame-options").is_some_and(|v| v.trim().eq_ignore_ascii_case("deny"));
    let frame_ancestors = header_text(res, CONTENT_SECURITY_POLICY)
        .is_some_and(|v| v.replace(' ', "").contains("frame-ancestors'none'"));
    let mut missing = Vec::new();
    if !nosniff {
        missing.push("X-Content-Type-Options: nosniff");
    }
    if !frame_options && !frame_ancestors {
        missing.push("X-Frame-Options: DENY (or CSP frame-ancestors 'none')");
    }
    if missing.is_empty() {
        Ok(String::new())
    } else {
        Err(format!("missing {}", missing.join(" and ")))
    }
}

async fn head(report: &mut Report, client: &Client, base: &str, m: &Manifest) {
    let mut paths: Vec<&str> = m.fragments.iter().map(|f| f.path.as_str()).collect();
    paths.push("/healthz");
    for path in paths {
        let result = match client.head(format!("{base}{path}")).send().await {
            Err(e) => Err(format!("no answer: {e}")),
            Ok(res) if res.status() != StatusCode::OK => Err(format!("answered {}", res.status())),
            Ok(res) => {
                let fragment = path != "/healthz";
                let content_type = header_text(&res, CONTENT_TYPE).unwrap_or_default();
                match res.bytes().await {
                    Ok(body) if !body.is_empty() => Err(format!("a body of {} bytes", body.len())),
                    Err(e) => Err(format!("body not read: {e}")),
                    Ok(_) if fragment && !content_type.starts_with("text/html") => {
                        Err(format!("Content-Type `{content_type}`, not text/html"))
                    }
                    Ok(_) => Ok(String::new()),
                }
            }
        };
        report.record(format!("HEAD {path} answers 200 without a body"), result);
    }
}

async fn request_id(report: &mut Report, client: &Client, base: &str) {
    let good = format!("mf-check.{}:1", hex::encode(rand::random::<[u8; 6]>()));
    let result = match get(client, base, "/manifest.json")
        .header(headers::REQUEST_ID, &good)
        .send()
        .await
    {
        Err(e) => Err(format!("no answer: {e}")),
        Ok(res) => match header_text(&res, headers::REQUEST_ID) {
            Some(id) if id == good => Ok(id),
            Some(id) => Err(format!("sent `{good}`, got back `{id}`")),
            None => Err("no x-request-id on the answer".to_owned()),
        },
    };
    report.record("a well-formed x-request-id is echoed", result);
    let bad = format!("bad/id {}", "x".repeat(130));
    let result = match get(client, base, "/manifest.json")
        .header(headers::REQUEST_ID, &bad)
        .send()
        .await
    {
        Err(e) => Err(format!("no answer: {e}")),
        Ok(res) => match header_text(&res, headers::REQUEST_ID) {
            Some(id) if id != bad && well_formed_request_id(&id) => Ok(id),
            Some(id) => Err(format!("sent a malformed id, got back `{id}`")),
            None => Err("no x-request-id on the answer".to_owned()),
        },
    };
    report.record("a malformed x-request-id is replaced", result);
}

fn well_formed_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// The values of the URL attributes (`href`, `src`, `action`, `formaction`) in `html`.
fn url_attributes(html: &str) -> Vec<&str> {
    let mut urls = Vec::new();
    for attribute in [" href=\"", " src=\"", " action=\"", " formaction=\""] {
        let mut rest = html;
        while let Some(at) = rest.find(attribute) {
            rest = &rest[at + attribute.len()..];
            let end = rest.find('"').unwrap_or(rest.len());
            urls.push(&rest[..end]);
        }
    }
    urls
}

/// Whether `path` (no query) is one of the service's own: declared, or under `/assets/`.
fn own_path(m: &Manifest, path: &str) -> bool {
    path.starts_with("/assets/")
        || m.fragments.iter().any(|f| f.path == path)
        || m.actions.iter().any(|a| a == path)
        || m.assets.css.iter().any(|c| c == path)
        || m.assets.controllers.iter().any(|c| c.module == path)
}

async fn base_path(report: &mut Report, client: &Client, base: &str, m: &Manifest) {
    let prefix = format!("/svc/{}", m.name);
    for f in &m.fragments {
        let name = format!("GET {} with x-mf-base-path: own URLs are prefixed", f.path);
        let body = match fetch_text(client, base, &f.path, &[(headers::BASE_PATH, &prefix)]).await {
            Ok(body) => body,
            Err(e) => {
                report.record(name, Err(e));
                continue;
            }
        };
        let unprefixed: Vec<&str> = url_attributes(&body)
            .into_iter()
            .filter(|url| {
                let path = url.split(['?', '#']).next().unwrap_or_default();
                own_path(m, path)
            })
            .collect();
        let prefixed = url_attributes(&body)
            .into_iter()
            .filter(|u| u.starts_with(&format!("{prefix}/")))
            .count();
        report.record(
            name,
            if unprefixed.is_empty() {
                Ok(format!("{prefixed} own URLs, each prefixed"))
            } else {
                Err(format!("not prefixed with {prefix}: {unprefixed:?}"))
            },
        );
        let evil = "//mf-check.evil.example";
        let name = format!("GET {}: an unsafe x-mf-base-path is not used", f.path);
        let result = match fetch_text(client, base, &f.path, &[(headers::BASE_PATH, evil)]).await {
            Ok(body) if body.contains(evil) => Err(format!("`{evil}` appears in the answer")),
            Ok(_) => Ok(String::new()),
            Err(e) => Err(e),
        };
        report.record(name, result);
    }
}

/// A 200 answer's body, with these request headers.
async fn fetch_text(
    client: &Client,
    base: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<String, String> {
    let (_, body) = fetch(client, base, path, headers).await?;
    Ok(body)
}

/// A 200 answer's `Cache-Control` and body, with these request headers.
async fn fetch(
    client: &Client,
    base: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<(String, String), String> {
    let mut request = get(client, base, path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let res = request
        .send()
        .await
        .map_err(|e| format!("no answer: {e}"))?;
    if res.status() != StatusCode::OK {
        return Err(format!("answered {}", res.status()));
    }
    let cache_control = header_text(&res, CACHE_CONTROL).unwrap_or_default();
    let body = res
        .text()
        .await
        .map_err(|e| format!("body not read: {e}"))?;
    Ok((cache_control, body))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The context values the check sends: one valid, then ones that must read as signed out.
fn contexts(secret: &str, user: &UserContext) -> (String, Vec<(&'static str, String)>) {
    let key = ContextKey::new(Secret::new(secret.to_owned()));
    let now = now_secs();
    let valid = key.sign_with_expiry(user, now + 60);
    let (payload, tag) = valid.split_once('.').unwrap_or_default();
    let other = ContextKey::new(Secret::new(format!("{secret}-forged")));
    let bad = vec![
        ("an expired", key.sign_with_expiry(user, now)),
        ("a forged", other.sign_with_expiry(user, now + 60)),
        ("an unsigned", payload.to_owned()),
        ("a padded (malformed)", format!("{payload}.{tag}=")),
        ("a non-canonical (malformed)", non_canonical(payload, tag)),
    ];
    (valid, bad)
}

/// `payload.tag` with the unused low bits of the tag's last character set: the same bytes
/// to a lax base64 decoder, malformed to a strict one.
fn non_canonical(payload: &str, tag: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut tag = tag.as_bytes().to_vec();
    if let Some(last) = tag.last_mut() {
        let at = ALPHABET.iter().position(|c| c == last).unwrap_or(0);
        *last = ALPHABET[at | 1];
    }
    format!("{payload}.{}", String::from_utf8_lossy(&tag))
}

async fn user_context(
    report: &mut Report,
    client: &Client,
    base: &str,
    m: &Manifest,
    secret: &str,
) {
    let user = UserContext {
        id: 424_242,
        name: format!("Mf <check> {}", hex::encode(rand::random::<[u8; 3]>())),
        plan: "pro".to_owned(),
        since: None,
        changed: None,
    };
    let shown = maud::html! { (user.name) }.into_string();
    let (valid, bad) = contexts(secret, &user);
    let mut paths: Vec<(&str, bool)> = m
        .fragments
        .iter()
        .map(|f| (f.path.as_str(), true))
        .collect();
    paths.push(("/", false));
    let mut showing = Vec::new();
    for (path, is_fragment) in paths {
        let name = format!("GET {path} with a signed user context");
        let (cache_control, body) =
            match fetch(client, base, path, &[(headers::USER_CONTEXT, &valid)]).await {
                Ok(answer) => answer,
                Err(e) => {
                    report.record(name, Err(e));
                    continue;
                }
            };
        if body.contains(&user.name) {
            report.record(name, Err("the user's name is not escaped".to_owned()));
        } else if body.contains(&shown) {
            showing.push(path);
            let result = match shared_cache_seconds(&cache_control) {
                Some(s) if is_fragment => Err(format!(
                    "shows the user but `Cache-Control: {cache_control}` lets a shared cache keep it for {s} s: send private or no-store"
                )),
                _ => Ok(format!("shows the user, escaped; Cache-Control: {cache_control}")),
            };
            report.record(name, result);
        }
    }
    if showing.is_empty() {
        let note = "no answer shows the signed-in user: not visible from outside (run the server with the check's secret to check it)";
        report.record("the signed user context", Ok(note.to_owned()));
        return;
    }
    for path in showing {
        for (what, value) in &bad {
            let name = format!("GET {path} with {what} context reads as signed out");
            let result =
                match fetch_text(client, base, path, &[(headers::USER_CONTEXT, value)]).await {
                    Ok(body) if body.contains(&shown) => Err("the user is shown".to_owned()),
                    Ok(_) => Ok(String::new()),
                    Err(e) => Err(e),
                };
            report.record(name, result);
        }
    }
}

async fn preview(report: &mut Report, client: &Client, base: &str) {
    let result = match get(client, base, "/").send().await {
        Err(e) => Err(format!("no answer: {e}")),
        Ok(res) if res.status() != StatusCode::OK => Err(format!("answered {}", res.status())),
        Ok(res) => {
            let content_type = header_text(&res, CONTENT_TYPE).unwrap_or_default();
            let csp = header_text(&res, CONTENT_SECURITY_POLICY);
            let body = res.text().await.unwrap_or_default();
            if !content_type.starts_with("text/html") {
                Err(format!("Content-Type `{content_type}`, not text/html"))
            } else if !super::contains_document(&body) {
                Err("not a whole document (no <html>)".to_owned())
            } else {
                csp_allows_no_inline_script(csp.as_deref())
            }
        }
    };
    report.record("GET / (the preview): a page with a CSP", result);
}

fn csp_allows_no_inline_script(csp: Option<&str>) -> Result<String, String> {
    let Some(csp) = csp else {
        return Err("no Content-Security-Policy".to_owned());
    };
    let scripts = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("script-src "))
        .or_else(|| {
            csp.split(';')
                .map(str::trim)
                .find(|d| d.starts_with("default-src "))
        });
    match scripts {
        Some(d) if d.contains("'unsafe-inline'") || d.contains("'unsafe-eval'") => {
            Err(format!("`{d}` allows inline script or eval"))
        }
        Some(_) => Ok(String::new()),
        None => Err("the CSP has neither script-src nor default-src".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_attributes_are_found_in_order_of_kind() {
        let html = r#"<a href="/svc/x/a">a</a><form action="/actions/b"><img src="/assets/c.png">"#;
        assert_eq!(
            url_attributes(html),
            vec!["/svc/x/a", "/assets/c.png", "/actions/b"]
        );
    }

    #[test]
    fn the_non_canonical_context_differs_from_the_valid_one() {
        let key = ContextKey::new(Secret::new(VECTOR_SECRET.to_owned()));
        let user = UserContext {
            id: 1,
            name: "a".into(),
            plan: "b".into(),
            since: None,
            changed: None,
        };
        let valid = key.sign_with_expiry(&user, u64::MAX);
        let (payload, tag) = valid.split_once('.').unwrap();
        let bad = non_canonical(payload, tag);
        assert_ne!(bad, valid);
        assert_eq!(key.verify(&bad), None);
    }

    #[test]
    fn a_csp_allowing_inline_script_is_refused() {
        assert!(csp_allows_no_inline_script(Some("default-src 'self'")).is_ok());
        assert!(csp_allows_no_inline_script(Some("script-src 'self' 'unsafe-inline'")).is_err());
        assert!(csp_allows_no_inline_script(None).is_err());
    }
}
