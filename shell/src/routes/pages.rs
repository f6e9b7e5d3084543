//! Full pages: `/`, the section paths, and the 404 page, composed on the server and
//! streamed.
//!
//! The head and the chrome up to the first slot go out at once; the user is resolved, the
//! fragments are fetched in parallel and each slot is written, in page order, as soon as
//! it and those before it are ready. Every fetch is bounded by the fragment timeout and by
//! the page's deadline, so one slow or dead service never holds the page past its budget.

use std::sync::Arc;
use std::time::Instant;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use futures_util::stream::{FuturesOrdered, StreamExt};
use shared_ui::components::NavItem;
use tracing::Instrument;

use crate::registry::Registry;
use crate::settings::SectionConfig;
use crate::upstream::{Filled, Status, Upstream};
use crate::views::{self, PageSpec, PageTemplate, SlotRef};

/// A slot answer the page must show instead of fetching it (a form answer with JavaScript
/// off): service, fragment, and the answer.
#[derive(Debug, Clone)]
pub struct Prefilled {
    /// The service.
    pub service: String,
    /// The fragment id.
    pub fragment: String,
    /// What to show.
    pub filled: Filled,
}

/// `GET /` and every section path.
pub async fn section(req: HttpRequest, up: web::Data<Upstream>) -> HttpResponse {
    match up.registry.section_at(req.path()).cloned() {
        Some(section) => compose(&req, up, Some(&section), StatusCode::OK, None),
        None => not_found(req, up).await,
    }
}

/// Any unknown path: the 404 page inside the chrome.
pub async fn not_found(req: HttpRequest, up: web::Data<Upstream>) -> HttpResponse {
    compose(&req, up, None, StatusCode::NOT_FOUND, None)
}

/// A fresh CSP nonce.
pub fn nonce() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// The page's Content-Security-Policy: only our own origin for scripts (and the nonce for
/// the import map), direct-mode services added to `connect-src`.
pub fn content_security_policy(nonce: &str, registry: &Registry) -> String {
    let mut connect = String::from("'self'");
    for origin in registry.direct_origins() {
        connect.push(' ');
        connect.push_str(&origin);
    }
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; \
         img-src 'self' data:; connect-src {connect}; frame-ancestors 'none'; \
         base-uri 'self'; form-action 'self'"
    )
}

fn nav(registry: &Registry, current: Option<&str>) -> Vec<NavItem> {
    registry
        .config
        .sections
        .iter()
        .map(|s| NavItem {
            href: s.path.clone(),
            label: s.title.clone(),
            current: Some(s.id.as_str()) == current,
        })
        .collect()
}

/// The query string passed on to the section's fragments, when it is plain enough to
/// forward (printable ASCII, no `#`, at most 1 KiB).
pub fn forwardable_query(req: &HttpRequest) -> Option<String> {
    let q = req.uri().query()?;
    let ok =
        !q.is_empty() && q.len() <= 1024 && q.bytes().all(|b| b.is_ascii_graphic() && b != b'#');
    ok.then(|| q.to_owned())
}

/// Composes and streams a page: a section, or the 404 page when `section` is `None`.
pub fn compose(
    req: &HttpRequest,
    up: web::Data<Upstream>,
    section: Option<&SectionConfig>,
    status: StatusCode,
    prefilled: Option<Prefilled>,
) -> HttpResponse {
    let started = Instant::now();
    let registry = Arc::clone(&up.registry);
    let config = &registry.config;
    let nonce = nonce();
    let title = match section {
        Some(s) => format!("{} · {}", s.title, config.brand),
        None => format!("Page not found · {}", config.brand),
    };
    let chrome: Vec<SlotRef> = config
        .chrome
        .iter()
        .map(|c| SlotRef {
            service: c.service.clone(),
            fragment: c.fragment.clone(),
            chrome: true,
        })
        .collect();
    let main: Vec<SlotRef> = section
        .map(|s| {
            s.slots
                .iter()
                .map(|sl| SlotRef {
                    service: sl.service.clone(),
                    fragment: sl.fragment.clone(),
                    chrome: false,
                })
                .collect()
        })
        .unwrap_or_default();
    let template = views::page_template(&PageSpec {
        brand: &config.brand,
        title,
        section_id: section.map(|s| s.id.as_str()),
        nav: nav(&registry, section.map(|s| s.id.as_str())),
        chrome,
        main,
        main_body: section.is_none().then(|| views::not_found(req.path())),
        stylesheets: registry.stylesheets(),
        controllers: registry.controllers(),
        nonce: &nonce,
        // The chrome is English; services answer in English too, whatever Accept-Language
        // says, so the document language stays `en`.
        lang: "en".to_owned(),
    });
    let query = forwardable_query(req);
    let retry = match (&query, section) {
        (Some(q), Some(s)) => format!("{}?{q}", s.path),
        (None, Some(s)) => s.path.clone(),
        (_, None) => "/".to_owned(),
    };
    let fwd = up.forwarded_without_user(req);
    let budget = config.page_budget;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);

    actix_web::rt::spawn(
        async move {
            let PageTemplate { segments, slots } = template;
            let mut segments = segments.into_iter();
            let send = |chunk: String| {
                let tx = tx.clone();
                async move { tx.send(Bytes::from(chunk)).await.is_ok() }
            };
            if !send(segments.next().unwrap_or_default()).await {
                return;
            }
            let deadline = started + budget;
            let fwd = up.with_user(fwd).await;
            let mut pending: FuturesOrdered<_> = slots
                .iter()
                .map(|slot| {
                    let up = up.clone();
                    let fwd = &fwd;
                    let prefilled = prefilled
                        .as_ref()
                        .filter(|p| p.service == slot.service && p.fragment == slot.fragment)
                        .map(|p| p.filled.clone());
                    let query = if slot.chrome { None } else { query.clone() };
                    async move {
                        if let Some(filled) = prefilled {
                            return filled;
                        }
                        match up.registry.service(&slot.service) {
                            Some(service) => {
                                up.fragment(
                                    fwd,
                                    service,
                                    &slot.fragment,
                                    query.as_deref(),
                                    deadline,
                                )
                                .await
                            }
                            None => Filled {
                                html: None,
                                status: Status::Unavailable,
                                ms: 0,
                            },
                        }
                    }
                })
                .collect();
            for slot in &slots {
                let Some(filled) = pending.next().await else {
                    break;
                };
                let title = up
                    .registry
                    .service(&slot.service)
                    .map(|s| s.display_name())
                    .unwrap_or_else(|| slot.service.clone());
                let markup = views::slot(slot, &filled, &title, &retry).into_string();
                if !send(markup).await || !send(segments.next().unwrap_or_default()).await {
                    return;
                }
            }
            tracing::info!(
                ms = started.elapsed().as_millis() as u64,
                slots = slots.len(),
                "page composed"
            );
        }
        // The fragments' log lines carry the request's span (its request id).
        .instrument(tracing::Span::current()),
    );

    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, actix_web::Error>(chunk), rx))
    });
    let mut res = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::VARY, "Cookie, Accept-Language"))
        .streaming(body);
    if let Ok(v) = HeaderValue::from_str(&content_security_policy(&nonce, &registry)) {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}
