//! Filling one slot with a team's fragment: from the fragment cache when a fresh copy is
//! there, else from the service within the slot's budget, else the last good copy, the
//! service's declared fallback or the shell's "unavailable" box. [`Fragments::fill`] never
//! fails; why a fetch failed is a [`FragmentError`], logged with its `reason` and counted
//! (`shell_fragment_failures_total`).
//!
//! - [`fetch`]: one `GET` and the checks an answer must pass.
//! - [`cache`]: the fragment cache (one refetch per expiry, stale copies for failures).
//! - [`error`]: the [`FragmentError`] enum.

pub mod cache;
pub mod error;
pub mod fetch;

use std::sync::Arc;
use std::time::Instant;

pub use error::FragmentError;

use self::cache::{cache_key, Cached, FragmentCache};
use self::fetch::FragmentAnswer;
use crate::forwarded::Forwarded;
use crate::metrics::{Cache, FragmentMetrics, ShellMetrics};
use crate::registry::{Registry, Service};
use crate::slot::{Filled, Status};

/// What one slot asks for: whose fragment, for which request, by when.
#[derive(Debug, Clone, Copy)]
pub struct FragmentRequest<'a> {
    /// What the upstream request carries (user, language, request id…).
    pub fwd: &'a Forwarded,
    /// The service.
    pub service: &'a Arc<Service>,
    /// The fragment id.
    pub fragment: &'a str,
    /// The page's query string, passed on (main slots only).
    pub query: Option<&'a str>,
    /// The page's deadline: the fetch gets `min(fragment timeout, time left)`.
    pub deadline: Instant,
}

/// Fragment fetches with their cache, shared by the workers.
#[derive(Debug)]
pub struct Fragments {
    registry: Arc<Registry>,
    cache: FragmentCache,
    metrics: Arc<ShellMetrics>,
}

impl Fragments {
    /// An empty cache.
    pub fn new(registry: Arc<Registry>, metrics: Arc<ShellMetrics>) -> Self {
        Self {
            registry,
            cache: FragmentCache::default(),
            metrics,
        }
    }

    /// Forgets every cached fragment ([`crate::dev`]: a team restarted with new markup).
    pub fn forget_cached(&self) {
        self.cache.clear();
    }

    /// Fills a slot (see the module doc). Never fails. Counted in `metrics`, logged.
    pub async fn fill(&self, ask: &FragmentRequest<'_>, metrics: &FragmentMetrics) -> Filled {
        let started = Instant::now();
        let filled = self.fill_untimed(ask, metrics).await;
        let took = started.elapsed();
        metrics.record(filled.status, took);
        let filled = Filled {
            ms: took.as_millis() as u64,
            ..filled
        };
        tracing::info!(
            service = %ask.service.name(),
            fragment = ask.fragment,
            ms = filled.ms,
            status = filled.status.as_str(),
            "fragment"
        );
        filled
    }

    async fn fill_untimed(&self, ask: &FragmentRequest<'_>, metrics: &FragmentMetrics) -> Filled {
        let service = ask.service;
        let Some(url) = service.fragment_upstream(ask.fragment, ask.query) else {
            return self.undeclared(ask);
        };
        // A browser's override never reads nor fills the shared cache (nor its last good
        // copies): its fragments are for that browser alone.
        if service.is_override() {
            return match self.fetch(ask, &url).await {
                Ok(answer) => {
                    service.notice_version(answer.version.as_deref());
                    Filled::with(answer.body, Status::Ok)
                }
                Err(error) => self.failed(ask, metrics, &error, None),
            };
        }
        // The key is made only when the cache may hold something under it (see
        // `FragmentCache::is_empty`), or to store an answer.
        let make_key = || cache_key(&url, ask.fwd.user_id, ask.fwd.language());
        let key = (!self.cache.is_empty()).then(make_key);
        // Held until this fetch ends: the refresh of a stale copy (see `cache`).
        let _refresh = match key.as_deref().map(|k| self.cache.lookup(k)) {
            Some(Cached::Serve(html)) => {
                self.metrics.cache(Cache::Fragment, true);
                return Filled::with(html, Status::Ok);
            }
            Some(Cached::Fetch(refresh)) => refresh,
            None => None,
        };
        self.metrics.cache(Cache::Fragment, false);
        match self.fetch(ask, &url).await {
            Ok(answer) => {
                metrics.answered();
                service.notice_version(answer.version.as_deref());
                if let Some(ttl) = answer.fresh_for {
                    self.cache
                        .store(key.unwrap_or_else(make_key), &answer.body, ttl);
                }
                Filled::with(answer.body, Status::Ok)
            }
            Err(error) => {
                // Stored into meanwhile, the cache may hold a last good copy after all.
                let key = key.or_else(|| (!self.cache.is_empty()).then(make_key));
                self.failed(ask, metrics, &error, key.as_deref())
            }
        }
    }

    /// A fetch that failed: counted, logged, and its slot filled by a fallback (the last
    /// good copy under `key` first, when there is one).
    fn failed(
        &self,
        ask: &FragmentRequest<'_>,
        metrics: &FragmentMetrics,
        error: &FragmentError,
        key: Option<&str>,
    ) -> Filled {
        let reason = error.reason();
        metrics.failed(reason, error.to_string(), ask.fwd.trace_id());
        tracing::warn!(service = %ask.service.name(), fragment = ask.fragment, reason, %error, "fragment failed");
        self.stand_in(ask.service, ask.fragment, key)
    }

    /// Keeps a good answer that came another way (the loader's fetch through the proxy)
    /// as the page would keep it: under `key`, when its `Cache-Control` allows it.
    pub fn remember(&self, key: String, answer: &FragmentAnswer) {
        if let Some(ttl) = answer.fresh_for {
            self.cache.store(key, &answer.body, ttl);
        }
    }

    /// `GET url` within `min(fragment timeout, time left before the deadline)`.
    async fn fetch(
        &self,
        ask: &FragmentRequest<'_>,
        url: &str,
    ) -> Result<FragmentAnswer, FragmentError> {
        let budget = self
            .registry
            .config
            .fragment_timeout
            .min(ask.deadline.saturating_duration_since(Instant::now()));
        let with_cookies = self.registry.is_session_service(ask.service);
        let headers = || ask.fwd.headers(ask.service, with_cookies);
        tokio::time::timeout(budget, fetch::fetch(url, ask.service.origin(), headers))
            .await
            .unwrap_or_else(|_| Err(FragmentError::Timeout(budget)))
    }

    /// A fragment the service's manifest does not declare, or not yet: no path is guessed.
    fn undeclared(&self, ask: &FragmentRequest<'_>) -> Filled {
        let (service, fragment) = (ask.service, ask.fragment);
        if service.manifest().is_none() {
            // Not known yet (down, or not started): ask again.
            service.notice_version(None);
            tracing::info!(service = %service.name(), fragment, "the manifest is not known yet");
        } else {
            tracing::warn!(service = %service.name(), fragment, "the manifest does not declare this fragment");
        }
        self.stand_in(service, fragment, None)
    }

    /// What stands in for a fragment whose fetch failed: the last good copy (under `key`,
    /// [`cache_key`]), else the declared fallback, else the "unavailable" box. The one
    /// answer to a failure, for a page's slot and for the loader's fetch through the proxy
    /// alike.
    pub fn stand_in(&self, service: &Service, fragment: &str, key: Option<&str>) -> Filled {
        if let Some(html) = key.and_then(|k| self.cache.last_good(k)) {
            return Filled::with(html, Status::Cached);
        }
        match service.fragment(fragment).and_then(|f| f.fallback) {
            Some(fallback) => Filled::with(fallback.into(), Status::Fallback),
            None => Filled::unavailable(),
        }
    }
}
