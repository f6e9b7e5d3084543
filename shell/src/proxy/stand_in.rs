//! Between steps 3 and 4: a `GET` the service failed (no answer, no answer in time, a 5xx)
//! gets the answer the page would give in its place, so a swap by the loader and a full
//! load of the same URL show the same thing; a good answer is kept for that on the way.
//!
//! - A declared asset: its last good copy ([`crate::asset_cache`]), else the error as
//!   before.
//! - A fragment: [`crate::fragments::Fragments::stand_in`], the function a page's slot uses
//!   too: the last good copy (200), else the manifest's fallback (200), else the shell's
//!   "unavailable" box with the failure's status (502, 504), whose Retry the loader follows
//!   in place.
//!
//! A browser's override (see [`crate::overrides`]) gets its declared fallback or the box,
//! never a shared copy, and none of its answers is kept.
//!
//! Each stand-in carries `x-mf-status` (`cached`, `fallback`, `unavailable`), which the
//! loader writes as the slot's `data-fragment-status`, and is counted in
//! `shell_proxy_stand_ins_total`.

use actix_web::http::header::{self, HeaderName};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;
use shared_ui::components;

use super::check::Checked;
use super::error::ProxyError;
use super::navigate::section_path;
use super::send::Answer;
use crate::asset_cache::Source;
use crate::fragments::cache::{cache_key, cacheable_for};
use crate::fragments::fetch::read_fragment;
use crate::metrics::StandIn;
use crate::slot::{Filled, Status, STATUS_HEADER};
use crate::state::Shell;

/// The shell's own answer for a `GET` the service failed, when it has one (a fragment
/// always does; an asset when a copy is held). `None`: relay what came, or the error.
pub async fn instead(
    req: &HttpRequest,
    up: &Shell,
    checked: &Checked,
    sent: &Result<Answer, ProxyError>,
) -> Option<HttpResponse> {
    if checked.is_post() {
        return None;
    }
    let failed = match sent {
        Ok(answer) if !answer.status.is_server_error() => return None,
        Ok(_) => StatusCode::BAD_GATEWAY,
        Err(error) => error.status(),
    };
    let service = &checked.service;
    if let Some(fragment) = service.fragment_at(&checked.path) {
        return Some(fragment_answer(req, up, checked, &fragment, failed).await);
    }
    if service.is_override() {
        return None;
    }
    let copy = up.assets.last_good(service.name(), &checked.path)?;
    tracing::warn!(service = %service.name(), path = %checked.path, "served the last good copy of an asset");
    up.metrics
        .stood_in(service.name(), StandIn::Asset, Status::Cached);
    Some(copy.respond(req))
}

/// Keeps a good (200) answer to a `GET`: an asset's copy, a fragment in the fragment cache
/// when its `Cache-Control` lets a shared cache keep it and it passes a page's checks.
pub async fn keep(req: &HttpRequest, up: &Shell, checked: &Checked, answer: &Answer) {
    // A browser's override is for that browser alone: nothing of it enters a shared cache.
    if checked.is_post() || answer.status != StatusCode::OK || checked.service.is_override() {
        return;
    }
    let service = &checked.service;
    if service.fragment_at(&checked.path).is_none() {
        let copy = (&answer.headers, &answer.body);
        up.assets.keep(Source::Proxy, service, &checked.path, copy);
        return;
    }
    let cacheable = answer
        .headers
        .get(reqwest::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .and_then(cacheable_for)
        .is_some();
    if !cacheable {
        return;
    }
    let mut res = http::Response::new(http_body_util::Full::new(answer.body.clone()));
    *res.headers_mut() = answer.headers.clone();
    if let Ok(fragment) = read_fragment(res).await {
        let key = fragment_key(req, up, checked).await;
        up.composer.fragments().remember(key, &fragment);
    }
}

/// The fragment's stand-in as an answer (see the module doc).
async fn fragment_answer(
    req: &HttpRequest,
    up: &Shell,
    checked: &Checked,
    fragment: &str,
    failed: StatusCode,
) -> HttpResponse {
    let service = &checked.service;
    // An override's own last good copies are never kept (see `keep`): its fallback only.
    let key = match service.is_override() {
        true => None,
        false => Some(fragment_key(req, up, checked).await),
    };
    let Filled { html, status, .. } =
        up.composer
            .fragments()
            .stand_in(service, fragment, key.as_deref());
    up.metrics
        .stood_in(service.name(), StandIn::Fragment, status);
    tracing::warn!(service = %service.name(), fragment, status = status.as_str(), "a fragment stood in for a failed fetch");
    let (code, body) = match html {
        Some(html) => (StatusCode::OK, html.to_bytes()),
        None => {
            let retry = section_path(up, service.name(), Some(fragment));
            let title = service.display_name();
            (
                failed,
                Bytes::from(components::unavailable(&title, &retry).into_string()),
            )
        }
    };
    HttpResponse::build(code)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((HeaderName::from_static(STATUS_HEADER), status.as_str()))
        .body(body)
}

/// The fragment cache's key of this request, as a page's slot would have it: the upstream
/// URL with the query, the user (the session lookup is cached) and the language.
async fn fragment_key(req: &HttpRequest, up: &Shell, checked: &Checked) -> String {
    let fwd = up.with_user(up.forwarded_without_user(req)).await;
    cache_key(&checked.upstream_url(), fwd.user_id, fwd.language())
}
