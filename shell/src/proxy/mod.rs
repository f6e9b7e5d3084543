//! `/svc/{service}/{path…}`: the same-origin proxy to a registered service.
//!
//! It is never an open proxy. The upstream URL is built only from the registry's base URL
//! and a path that (1) is read from the RAW request URI, (2) passes
//! [`shared_ui::contract::is_safe_path`] (no `%`, `..`, `//`, `@`, `:`, backslash or control
//! character, so no encoded traversal or host can slip through) and (3) equals a path the
//! service's manifest declares: fragments and assets for `GET`/`HEAD`, actions for `POST`.
//! Everything else is a 4xx with a message saying why.
//!
//! Trust between teams (`docs/SECURITY.md`): a service's answer is relayed, its reach is not.
//! The browser's cookies go to the session service only, and only the session service's
//! `Set-Cookie` comes back; a `Location` passes only when it is a path on this site (else
//! 502); of the other answer headers only an allowlist ([`relay::RELAYED_ANSWER_HEADERS`])
//! passes; an interim answer (1xx, such as `101 Switching Protocols`) is never relayed
//! (502): the proxy asks no service for an upgrade. Of the request, only
//! [`send::FORWARDED_REQUEST_HEADERS`] pass, and no client-supplied `x-mf-*` header (the
//! loader flag is re-set by the shell as `x-mf-loader: 1`). A service-worker script fetch
//! is refused, so no service can install a worker on the shell's origin. The request body
//! is capped at [`send::MAX_BODY_BYTES`], the answer at 4 MiB (read as a stream), and the
//! whole exchange at the proxy timeout. A loader's form post that also sends `x-mf-form`
//! gets a re-rendered form (4xx, HTML) as 200 with the real status in `x-mf-form-status`
//! ([`relay::FORM_STATUS`]), so the browser logs no network error for it. With JavaScript off, a browser that posts a form
//! here gets the answer inside the full page of its section (status kept), and a browser
//! that navigates to a fragment URL is sent to its section.
//!
//! A request goes through four steps, one module each, in this order:
//! 1. [`check`]: the request against the registry and the service's manifest;
//! 2. [`navigate`]: browsers navigating here with JavaScript off are sent to a section;
//! 3. [`send`]: the body read, the request sent (retried, timed out), the answer read;
//!    [`stand_in`]: a `GET` the service failed gets what a page would show instead (an
//!    asset's last good copy; a fragment's copy, fallback or "unavailable" box), and a good
//!    answer is kept for that;
//! 4. [`relay`]: the answer passed on (an asset's `Cache-Control` vouched for against the
//!    content hash its URL asks for, [`relay::vouch`]), or, for a JS-off form, the page
//!    built around it ([`navigate::form_page`]).
//!
//! Each step stops with a [`Refusal`] (the request's fault) or a [`ProxyError`] (the
//! service's); [`error`] turns either into the answer.

pub mod check;
pub mod error;
pub mod navigate;
pub mod relay;
pub mod send;
pub mod stand_in;

use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use shared_ui::headers;
use tracing::Instrument;

pub use check::{parse_target, Target};
pub use error::{ProxyError, Refusal};
pub use relay::is_site_path;

use crate::metrics::Overridden;
use crate::overrides::Lineup;
use crate::state::Shell;
use check::Checked;
use error::Stop;
use navigate::{is_navigation, FormAnswer};

/// The proxy handler, for every method (anything but GET, HEAD and POST is a 405), with
/// the browser's overrides. Counts the answers to requests for a registered service
/// (`shell_proxy_requests_total`), or, for an overridden one, the request as overridden.
pub async fn proxy(req: HttpRequest, payload: web::Payload, up: web::Data<Shell>) -> HttpResponse {
    let lineup = up.lineup(&req).await;
    let res = forward(&req, payload, &up, &lineup)
        .instrument(lineup.span())
        .await
        .unwrap_or_else(|stop| stop.error_response());
    if let Ok(target) = parse_target(req.uri().path()) {
        if lineup.overrides(target.service) {
            up.metrics.overridden(target.service, Overridden::Proxy);
        } else if up.registry.service(target.service).is_some() {
            // A form answer relayed as 200 for the loader counts with its real status.
            let status = res
                .headers()
                .get(relay::FORM_STATUS)
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .unwrap_or_else(|| res.status().as_u16());
            up.metrics.proxied(target.service, status);
        }
    }
    res
}

/// The four steps, in order.
async fn forward(
    req: &HttpRequest,
    payload: web::Payload,
    up: &web::Data<Shell>,
    lineup: &Lineup,
) -> Result<HttpResponse, Stop> {
    let started = Instant::now();
    let checked = Checked::new(req, up, lineup)?;
    if let Some(file) = checked.shared_asset() {
        return Ok(shared_ui::assets::shared().respond(req, file));
    }
    checked.ready(up).await?;
    let navigation = is_navigation(req);
    checked.permitted(req, navigation)?;
    if let Some(redirect) = navigate::redirect(up, &checked, navigation) {
        return Ok(redirect);
    }
    let body = send::read_body(req, payload).await?;
    let sent = send::send(req, up, &checked, body).await;
    if let Some(res) = stand_in::instead(req, up, &checked, &sent).await {
        return Ok(res);
    }
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    // With JavaScript off, a form post comes back as the page, even when it failed.
    let form = navigation && checked.is_post();
    let mut answer = match sent {
        Ok(answer) => answer,
        Err(error) if form => {
            let failed = FormAnswer::Failed(error.status());
            return Ok(navigate::form_page(req, up, &checked, failed, ms, lineup));
        }
        Err(error) => return Err(error.into()),
    };
    let service = &checked.service;
    tracing::info!(
        service = %service.name(),
        path = %checked.path,
        status = answer.status.as_u16(),
        ms,
        "proxied"
    );
    if let Some(v) = answer
        .headers
        .get(headers::FRAGMENT_VERSION)
        .and_then(|v| v.to_str().ok())
    {
        up.notice_version(service, Some(v));
    }
    stand_in::keep(req, up, &checked, &answer).await;
    relay::vouch(up, &checked, &mut answer);
    if form && !answer.status.is_redirection() {
        let answered = FormAnswer::Answered(&answer);
        let mut res = navigate::form_page(req, up, &checked, answered, ms, lineup);
        relay::finish(&mut res, req, up, &checked, &answer.headers, ms);
        return Ok(res);
    }
    relay::relay(req, up, &checked, answer, ms).map_err(Stop::from)
}
