//! The composition engine: a full page (a section, or the 404 page) from the teams'
//! fragments, composed on the server and streamed.
//!
//! [`Composer::page`] takes the section's [`template::Template`] from the [`PageCache`]
//! (rendered once per registry generation), sends its head and chrome at once, resolves
//! the user ([`crate::session`]), fills every slot at once ([`crate::fragments`]) and
//! writes the slots in page order as they are ready ([`stream`]); async and lazy slots
//! never hold the others back ([`deferred`]). Every fetch is bounded by
//! the fragment timeout and by the page's deadline, so one slow or dead service never holds
//! the page past its budget.
//!
//! - [`template`]: the page cut at its slots, one [`template::SlotPlan`] per slot.
//! - [`cache`]: the template cache.
//! - [`stream`]: the streaming of one page.
//! - [`deferred`]: async and lazy slots: placeholders, late fragments, the page's nonce.

pub mod cache;
pub mod deferred;
pub mod stream;
pub mod template;

use std::sync::Arc;
use std::time::Instant;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;
use tokio::sync::OnceCell;

pub use self::cache::PageCache;
use self::stream::PageRun;
use crate::forwarded::Forwarded;
use crate::fragments::Fragments;
use crate::metrics::ShellMetrics;
use crate::overrides::Lineup;
use crate::registry::Registry;
use crate::session::Sessions;
use crate::settings::SectionConfig;
use crate::slot::Filled;
use crate::views;

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

/// Composes pages: the registry, the session lookups, the fragments and the template
/// cache.
#[derive(Debug)]
pub struct Composer {
    registry: Arc<Registry>,
    sessions: Arc<Sessions>,
    fragments: Fragments,
    metrics: Arc<ShellMetrics>,
    pages: PageCache,
}

impl Composer {
    /// A composer with empty caches.
    pub fn new(
        registry: Arc<Registry>,
        sessions: Arc<Sessions>,
        metrics: Arc<ShellMetrics>,
    ) -> Self {
        Self {
            fragments: Fragments::new(Arc::clone(&registry), Arc::clone(&metrics)),
            registry,
            sessions,
            metrics,
            pages: PageCache::default(),
        }
    }

    /// The fragment fetches and their cache (the proxy's stand-ins share them).
    pub fn fragments(&self) -> &Fragments {
        &self.fragments
    }

    /// Forgets the cached fragments ([`crate::dev`]: a team restarted with new markup).
    pub fn forget_fragments(&self) {
        self.fragments.forget_cached();
    }

    /// Composes and streams a page with `status`: `section`, or the 404 page when `None`;
    /// `prefilled` stands in one slot. A browser with overrides (`lineup` not empty) gets
    /// a page of its own, rendered for it and never cached, with the overrides' banner.
    pub fn page(
        self: &Arc<Self>,
        req: &HttpRequest,
        section: Option<&SectionConfig>,
        status: StatusCode,
        prefilled: Option<Prefilled>,
        lineup: Lineup,
    ) -> HttpResponse {
        let started = Instant::now();
        let template = if lineup.is_empty() {
            self.pages.get(section, self.registry.generation(), || {
                template::render(&self.registry, &self.metrics, section, &lineup)
            })
        } else {
            Arc::new(template::render(
                &self.registry,
                &self.metrics,
                section,
                &lineup,
            ))
        };
        // A page with async slots gets a nonce of its own, for the scripts that move them.
        let (csp, move_script) = match &template.late {
            Some(late) => {
                let nonce = deferred::nonce();
                (late.csp(&nonce), Bytes::from(views::move_script(&nonce)))
            }
            None => (template.csp.clone(), Bytes::new()),
        };
        let run = PageRun {
            composer: Arc::clone(self),
            template,
            fwd: Forwarded::from_request(req, &self.registry.config.common.trusted_proxies),
            with_user: OnceCell::new(),
            query: forwardable_query(req),
            prefilled,
            expand: deferred::expanded_slot(req.uri().query()),
            move_script,
            deadline: started + self.registry.config.page_budget,
            lineup,
        };
        // Static values: not checked and copied again at every page.
        let mut res = HttpResponse::build(status)
            .insert_header((
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ))
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .insert_header((
                header::VARY,
                HeaderValue::from_static("Cookie, Accept-Language"),
            ))
            .streaming(stream::body(run, started));
        if let Some(csp) = csp {
            res.headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, csp);
        }
        res
    }
}

/// The query string passed on to the section's fragments, when it is plain enough to
/// forward (printable ASCII, no `#`, at most 1 KiB), without the shell's own `mf-slot`.
pub fn forwardable_query(req: &HttpRequest) -> Option<String> {
    let q = req.uri().query()?;
    let ok =
        !q.is_empty() && q.len() <= 1024 && q.bytes().all(|b| b.is_ascii_graphic() && b != b'#');
    ok.then(|| q.to_owned()).and_then(deferred::without_expand)
}
