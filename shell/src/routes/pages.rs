//! Full pages: `/`, the section paths, and the 404 page, composed on the server and
//! streamed.
//!
//! The head and the chrome up to the first slot go out at once; the user is resolved, the
//! fragments are fetched in parallel and each slot is written, in page order, as soon as
//! it and those before it are ready. Every fetch is bounded by the fragment timeout and by
//! the page's deadline, so one slow or dead service never holds the page past its budget.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use futures_util::stream::{FuturesOrdered, StreamExt};
use shared_ui::components::NavItem;

use crate::metrics::FragmentMetrics;
use crate::registry::Registry;
use crate::settings::SectionConfig;
use crate::upstream::{Filled, Status, Upstream};
use crate::views::{self, PageSpec, PageTemplate, SlotOpen, SlotRef};

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

/// The page's Content-Security-Policy: scripts from our own origin plus the one inline
/// script, the import map, by its sha256 (it is the same bytes on every page, so the head is
/// too, and can be rendered once); direct-mode services added to `connect-src`.
pub fn content_security_policy(registry: &Registry) -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(shared_ui::assets::import_map_json("").as_bytes());
    let hash = base64::engine::general_purpose::STANDARD.encode(digest);
    let mut connect = String::from("'self'");
    for origin in registry.direct_origins() {
        connect.push(' ');
        connect.push_str(&origin);
    }
    format!(
        "default-src 'self'; script-src 'self' 'sha256-{hash}'; style-src 'self'; \
         img-src 'self' data:; connect-src {connect}; frame-ancestors 'none'; \
         base-uri 'self'; form-action 'self'"
    )
}

/// A section's page cut at its slots, and its CSP: the same bytes for every request while
/// the registry's manifests stay the same ([`Registry::generation`]).
#[derive(Debug)]
pub struct RenderedPage {
    generation: u64,
    /// The static HTML between the slots (`slots.len() + 1` of them).
    segments: Vec<Bytes>,
    /// After slot `i`: its wrapper's closing tag and `segments[i + 1]`, in one piece.
    after: Vec<Bytes>,
    /// The slots, in document order.
    slots: Vec<SlotRef>,
    /// The Content-Security-Policy header.
    csp: Option<HeaderValue>,
    /// Each slot's metric handles, by slot.
    metrics: Vec<FragmentMetrics>,
    /// Each slot's wrapper opening tag, cut where its status and time go.
    opens: Vec<SlotOpen>,
}

/// Rendered pages by section id, rebuilt when the registry's generation moves on.
#[derive(Debug, Default)]
pub struct PageCache {
    pages: RwLock<HashMap<String, Arc<RenderedPage>>>,
}

impl PageCache {
    fn get(&self, up: &Upstream, section: &SectionConfig) -> Arc<RenderedPage> {
        let registry = &up.registry;
        let generation = registry.generation();
        if let Ok(pages) = self.pages.read() {
            if let Some(page) = pages
                .get(&section.id)
                .filter(|p| p.generation == generation)
            {
                return Arc::clone(page);
            }
        }
        let page = Arc::new(render(up, Some(section), None, generation));
        if let Ok(mut pages) = self.pages.write() {
            pages.insert(section.id.clone(), Arc::clone(&page));
        }
        page
    }
}

/// Renders a page: a section, or the 404 page for `missing_path`.
fn render(
    up: &Upstream,
    section: Option<&SectionConfig>,
    missing_path: Option<&str>,
    generation: u64,
) -> RenderedPage {
    let registry = &up.registry;
    let config = &registry.config;
    let title = match section {
        Some(s) => format!("{} · {}", s.title, config.brand),
        None => format!("Page not found · {}", config.brand),
    };
    let slot_refs = |chrome: bool, list: Vec<(String, String)>| -> Vec<SlotRef> {
        list.into_iter()
            .map(|(service, fragment)| SlotRef {
                service,
                fragment,
                chrome,
            })
            .collect()
    };
    let chrome = slot_refs(
        true,
        config
            .chrome
            .iter()
            .map(|c| (c.service.clone(), c.fragment.clone()))
            .collect(),
    );
    let main = slot_refs(
        false,
        section
            .map(|s| {
                s.slots
                    .iter()
                    .map(|sl| (sl.service.clone(), sl.fragment.clone()))
                    .collect()
            })
            .unwrap_or_default(),
    );
    let PageTemplate { segments, slots } = views::page_template(&PageSpec {
        brand: &config.brand,
        title,
        section_id: section.map(|s| s.id.as_str()),
        nav: nav(registry, section.map(|s| s.id.as_str())),
        chrome,
        main,
        main_body: missing_path.map(views::not_found),
        stylesheets: registry.stylesheets(),
        controllers: registry.controllers(),
        // The chrome is English; services answer in English too, whatever Accept-Language
        // says, so the document language stays `en`.
        lang: "en".to_owned(),
    });
    let after = segments
        .iter()
        .skip(1)
        .map(|segment| Bytes::from(format!("{}{segment}", views::SLOT_CLOSE)))
        .collect();
    let metrics = slots
        .iter()
        .map(|slot| up.metrics.for_fragment(&slot.service, &slot.fragment))
        .collect();
    let opens = slots.iter().map(SlotOpen::new).collect();
    RenderedPage {
        generation,
        metrics,
        opens,
        after,
        segments: segments.into_iter().map(Bytes::from).collect(),
        slots,
        csp: HeaderValue::from_str(&content_security_policy(registry)).ok(),
    }
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
///
/// The section's head and chrome come from the [`PageCache`] and leave at once; the user is
/// resolved, every fragment is fetched at once, and the slots are written in page order,
/// each with the static HTML after it in the same chunk, and as many ready slots as there
/// are in one write.
pub fn compose(
    req: &HttpRequest,
    up: web::Data<Upstream>,
    section: Option<&SectionConfig>,
    status: StatusCode,
    prefilled: Option<Prefilled>,
) -> HttpResponse {
    let started = Instant::now();
    let page = match section {
        Some(section) => up.pages.get(&up, section),
        None => Arc::new(render(&up, None, Some(req.path()), 0)),
    };
    let query = forwardable_query(req);
    let retry: Arc<str> = match (&query, section) {
        (Some(q), Some(s)) => format!("{}?{q}", s.path).into(),
        (None, Some(s)) => s.path.as_str().into(),
        (_, None) => "/".into(),
    };
    let fwd = up.forwarded_without_user(req);
    let deadline = started + up.registry.config.page_budget;
    let head = page.segments.first().cloned().unwrap_or_default();
    let csp = page.csp.clone();
    let span = tracing::Span::current();

    // Once the head is out: the user, then every slot at once, in page order.
    let slots = futures_util::stream::once(async move {
        let fwd = Arc::new(up.with_user(fwd).await);
        let pending: FuturesOrdered<_> = page
            .slots
            .iter()
            .enumerate()
            .map(|(i, slot)| {
                let up = up.clone();
                let fwd = Arc::clone(&fwd);
                let page = Arc::clone(&page);
                let retry = Arc::clone(&retry);
                let prefilled = prefilled
                    .as_ref()
                    .filter(|p| p.service == slot.service && p.fragment == slot.fragment)
                    .map(|p| p.filled.clone());
                let query = if slot.chrome { None } else { query.clone() };
                async move {
                    let slot = &page.slots[i];
                    let filled = match (prefilled, up.registry.service(&slot.service)) {
                        (Some(filled), _) => filled,
                        (None, Some(service)) => {
                            let metrics = &page.metrics[i];
                            up.fragment(
                                &fwd,
                                service,
                                &slot.fragment,
                                query.as_deref(),
                                deadline,
                                metrics,
                            )
                            .await
                        }
                        (None, None) => Filled {
                            html: None,
                            status: Status::Unavailable,
                            ms: 0,
                        },
                    };
                    slot_chunks(&up, &page, i, &filled, &retry)
                }
            })
            .collect();
        pending
    })
    .flatten()
    // Each slot's parts (its opening tag, the fragment's own bytes, the static HTML up to the
    // next slot); actix-web gathers what is ready into one write.
    .flat_map(futures_util::stream::iter)
    .map(Ok::<_, actix_web::Error>);
    let logged = PageLog {
        started,
        span: span.clone(),
    };
    let body = futures_util::stream::once(std::future::ready(Ok::<_, actix_web::Error>(head)))
        .chain(slots)
        .chain(futures_util::stream::poll_fn(move |_| {
            logged.done();
            std::task::Poll::Ready(None)
        }));
    let body = tracing_futures_stream(Box::pin(body), span);
    let mut res = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::VARY, "Cookie, Accept-Language"))
        .streaming(body);
    if let Some(csp) = csp {
        res.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    res
}

/// A fragment's HTML as the bytes of a chunk, without copying it.
struct Html(Arc<str>);

impl AsRef<[u8]> for Html {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// The chunks of slot `i` of `page`: the wrapper's opening tag, the fragment (its own bytes)
/// and the static HTML after it; or the whole "unavailable" box.
fn slot_chunks(
    up: &Upstream,
    page: &RenderedPage,
    i: usize,
    filled: &Filled,
    retry: &str,
) -> Vec<Bytes> {
    let slot = &page.slots[i];
    let after = page.after[i].clone();
    match &filled.html {
        Some(html) => vec![
            Bytes::from(page.opens[i].render(filled)),
            Bytes::from_owner(Html(Arc::clone(html))),
            after,
        ],
        None => {
            let title = up
                .registry
                .service(&slot.service)
                .map(|s| s.display_name())
                .unwrap_or_else(|| slot.service.clone());
            let markup = views::slot(slot, filled, &title, retry).into_string();
            vec![Bytes::from(markup), page.segments[i + 1].clone()]
        }
    }
}

/// Logs "page composed" once, when the last slot is out.
struct PageLog {
    started: Instant,
    span: tracing::Span,
}

impl PageLog {
    fn done(&self) {
        self.span.in_scope(|| {
            tracing::info!(
                ms = self.started.elapsed().as_millis() as u64,
                "page composed"
            );
        });
    }
}

/// Polls `body` inside `span`, so the fragments' log lines carry the request's id.
fn tracing_futures_stream<S>(
    body: S,
    span: tracing::Span,
) -> impl futures_util::Stream<Item = S::Item>
where
    S: futures_util::Stream + Unpin,
{
    let mut body = body;
    futures_util::stream::poll_fn(move |cx| {
        let _entered = span.enter();
        body.poll_next_unpin(cx)
    })
}
