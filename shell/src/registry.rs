//! The registry: the configured services and the last good manifest of each.
//!
//! A manifest is read at start (a service that is down then does not stop the shell); one
//! that is not known yet is read again with a short backoff ([`START_BACKOFF`]: 200 ms,
//! doubling, at most 2 s apart) until it is, so the services can start in any order. It is
//! read again when a fragment answer carries a different `x-fragment-version`, and every
//! `manifest_refresh` seconds. A failed read keeps the last good manifest. Until a
//! service's manifest is known, its slots show the "unavailable" box: no fragment path is
//! guessed. Refreshes of one service never overlap and are spaced at least
//! [`MIN_REFRESH_GAP`] apart when triggered by traffic.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use reqwest::header::HeaderValue;
use serde_json::{json, Value};
use shared_ui::contract::{asset_path, ContractError, ControllerAsset, FragmentSpec, Manifest};

use crate::body::{read_capped, BodyError};
use crate::client::pool::Origin;
use crate::settings::{Config, SectionConfig, ServiceConfig};
use crate::slot::SlotMode;

/// The delays between reads of a manifest not known yet: the first, the growth factor and
/// the longest (200 ms, 400 ms, 800 ms, 1.6 s, then every 2 s).
pub const START_BACKOFF: (Duration, u32, Duration) =
    (Duration::from_millis(200), 2, Duration::from_secs(2));

/// Traffic-triggered refreshes of one service are at least this far apart.
pub const MIN_REFRESH_GAP: Duration = Duration::from_millis(500);
/// Time a manifest read gets.
pub const MANIFEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest manifest read, in bytes.
const MAX_MANIFEST_BYTES: usize = 256 * 1024;

/// Whose assets a page links: every service's, or only those of the services with a slot
/// on it (a page's head blocks on its stylesheets, so it names only the ones it shows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// Every service.
    All,
    /// These services, by name.
    Only(Vec<String>),
}

impl Shown {
    /// Whether `service`'s assets belong on the page.
    pub fn includes(&self, service: &str) -> bool {
        match self {
            Shown::All => true,
            Shown::Only(names) => names.iter().any(|n| n == service),
        }
    }
}

/// One registered service and what the shell knows of it.
#[derive(Debug)]
pub struct Service {
    /// Its configuration.
    pub config: ServiceConfig,
    manifest: RwLock<Option<Arc<Manifest>>>,
    /// `/svc/{name}`, made once.
    proxy_base: String,
    /// The same as the `x-mf-base-path` value of every upstream request.
    base_path_header: HeaderValue,
    /// Where its fragment requests go, parsed once ([`Origin::of_base`]).
    origin: Option<Origin>,
    /// The registry's generation, moved on when this manifest changes.
    generation: Arc<Generation>,
    refreshing: AtomicBool,
    last_attempt: Mutex<Option<Instant>>,
    /// Manifest reads so far (`shell_manifest_reads_total`).
    pub reads: ManifestReads,
    /// Whether this is a browser's override of a registered service ([`Self::overriding`]),
    /// not the registered service itself.
    overriding: bool,
    /// The last read: when it ended, and why it failed (`None`: it gave a manifest).
    last_read: Mutex<Option<(Instant, Option<String>)>>,
    /// When a manifest was last read well.
    last_good: Mutex<Option<Instant>>,
}

/// Manifest reads of one service, good and failed.
#[derive(Debug, Default)]
pub struct ManifestReads {
    /// Reads that gave a valid manifest.
    pub ok: AtomicU64,
    /// Reads that failed (no answer, a bad status, an invalid manifest).
    pub failed: AtomicU64,
}

impl Service {
    fn new(config: ServiceConfig, generation: Arc<Generation>) -> Self {
        let proxy_base = format!("/svc/{}", config.name);
        Self {
            // A valid name (a-z, 0-9, `-`) makes a valid header value.
            base_path_header: HeaderValue::from_str(&proxy_base)
                .unwrap_or_else(|_| HeaderValue::from_static("/svc")),
            proxy_base,
            origin: Origin::of_base(&config.url),
            config,
            manifest: RwLock::new(None),
            generation,
            refreshing: AtomicBool::new(false),
            last_attempt: Mutex::new(None),
            reads: ManifestReads::default(),
            overriding: false,
            last_read: Mutex::new(None),
            last_good: Mutex::new(None),
        }
    }

    /// A browser's override of the registered service `config.name` (`crate::overrides`):
    /// the same name and `/svc/` base path, its own URL, manifest and generation, no
    /// direct mode. Its manifest must name the service; it is never the session service.
    pub fn overriding(name: &str, url: &str) -> Self {
        let config = ServiceConfig {
            name: name.to_owned(),
            url: url.to_owned(),
            public_url: None,
        };
        Self {
            overriding: true,
            ..Self::new(config, Arc::new(Generation::new()))
        }
    }

    /// Whether this is a browser's override rather than the registered service.
    pub fn is_override(&self) -> bool {
        self.overriding
    }

    /// The service name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The last good manifest, if one was ever read.
    pub fn manifest(&self) -> Option<Arc<Manifest>> {
        self.manifest.read().map(|m| m.clone()).unwrap_or_default()
    }

    /// The path of a fragment, as the manifest declares it; `None` while the manifest is
    /// unknown or when it does not declare the fragment.
    pub fn fragment_path(&self, id: &str) -> Option<String> {
        self.manifest()
            .and_then(|m| m.fragment(id).map(|f| f.path.clone()))
    }

    /// The absolute upstream URL of a fragment, with `?query` when a query is given (not
    /// empty); `None` as for [`Self::fragment_path`]. Joined from the path where the
    /// manifest holds it: copying the path first cost an allocation a fragment (issue 26).
    pub fn fragment_upstream(&self, id: &str, query: Option<&str>) -> Option<String> {
        let manifest = self.manifest()?;
        let path = &manifest.fragment(id)?.path;
        Some(self.join(path, query.filter(|q| !q.is_empty())))
    }

    /// The fragment's spec, when the manifest is known and declares it.
    pub fn fragment(&self, id: &str) -> Option<FragmentSpec> {
        self.manifest().and_then(|m| m.fragment(id).cloned())
    }

    /// The service's name with a capital, for boxes like "Pricing is unavailable".
    pub fn display_name(&self) -> String {
        let mut chars = self.config.name.chars();
        match chars.next() {
            Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
            None => String::new(),
        }
    }

    /// Where its `http://` fragment requests go, parsed once: `None` for another scheme.
    pub fn origin(&self) -> Option<&Origin> {
        self.origin.as_ref()
    }

    /// The absolute upstream URL of a service-relative path (already checked).
    pub fn upstream(&self, path: &str) -> String {
        self.join(path, None)
    }

    /// The base URL, `path` and `?query` in one string. Joined by hand: `format!` cost a
    /// page about 2,000 instructions (issue 26).
    fn join(&self, path: &str, query: Option<&str>) -> String {
        let base = &self.config.url;
        let extra = query.map_or(0, |q| q.len() + 1);
        let mut url = String::with_capacity(base.len() + path.len() + extra);
        url.push_str(base);
        url.push_str(path);
        if let Some(q) = query {
            url.push('?');
            url.push_str(q);
        }
        url
    }

    /// Where the browser fetches this service's URLs: `/svc/{name}` or, in direct mode, its
    /// public origin.
    pub fn browser_base(&self) -> String {
        match &self.config.public_url {
            Some(public) => public.clone(),
            None => self.proxy_base(),
        }
    }

    /// `/svc/{name}`: the base path the shell serves this service under.
    pub fn proxy_base(&self) -> String {
        self.proxy_base.clone()
    }

    /// `/svc/{name}`, borrowed.
    pub fn proxy_base_path(&self) -> &str {
        &self.proxy_base
    }

    /// `/svc/{name}` as a header value (`x-mf-base-path`), made once.
    pub fn base_path_header(&self) -> &HeaderValue {
        &self.base_path_header
    }

    /// Whether the manifest declares `path` for `GET` (fragments, CSS, controllers; an
    /// asset by its path, whatever content hash the manifest gives it).
    pub fn declares_get(&self, path: &str) -> bool {
        self.manifest().is_some_and(|m| {
            m.fragments.iter().any(|f| f.path == path)
                || m.assets.css.iter().any(|c| asset_path(c) == path)
                || m.assets
                    .controllers
                    .iter()
                    .any(|c| asset_path(&c.module) == path)
        })
    }

    /// Whether the manifest declares `path` as a form action (`POST`).
    pub fn declares_action(&self, path: &str) -> bool {
        self.manifest()
            .is_some_and(|m| m.actions.iter().any(|a| a == path))
    }

    /// The id of the fragment served at `path`, if it is one.
    pub fn fragment_at(&self, path: &str) -> Option<String> {
        self.manifest().and_then(|m| {
            m.fragments
                .iter()
                .find(|f| f.path == path)
                .map(|f| f.id.clone())
        })
    }

    /// Reads the manifest now; keeps the last good one on failure. Returns whether a
    /// manifest is known afterwards.
    pub async fn refresh(&self, client: &reqwest::Client) -> bool {
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return self.manifest().is_some();
        }
        if let Ok(mut last) = self.last_attempt.lock() {
            *last = Some(Instant::now());
        }
        let result = fetch_manifest(client, &self.config.url).await;
        self.note_read(result.as_ref().err().map(ToString::to_string));
        match result {
            Ok(manifest) if self.overriding && manifest.name != self.config.name => {
                self.reads.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(service = %self.config.name, url = %self.config.url, manifest_name = %manifest.name, "the override's manifest names another service; not used");
            }
            Ok(manifest) => {
                self.reads.ok.fetch_add(1, Ordering::Relaxed);
                if manifest.name != self.config.name {
                    tracing::warn!(
                        service = %self.config.name,
                        manifest_name = %manifest.name,
                        "the manifest names another service; using it under the registered name"
                    );
                }
                let changed = self
                    .manifest()
                    .is_none_or(|old| old.version != manifest.version);
                if changed {
                    tracing::info!(service = %self.config.name, version = %manifest.version, "manifest loaded");
                }
                if let Ok(mut slot) = self.manifest.write() {
                    *slot = Some(Arc::new(manifest));
                }
                if changed {
                    self.generation.advance();
                }
            }
            Err(why) => {
                self.reads.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(service = %self.config.name, %why, "manifest not read; keeping the last good one");
            }
        }
        self.refreshing.store(false, Ordering::Release);
        self.manifest().is_some()
    }

    fn note_read(&self, error: Option<String>) {
        let now = Instant::now();
        if error.is_none() {
            if let Ok(mut good) = self.last_good.lock() {
                *good = Some(now);
            }
        }
        if let Ok(mut last) = self.last_read.lock() {
            *last = Some((now, error));
        }
    }

    /// How long ago a manifest was last read well, if ever.
    pub fn manifest_age(&self) -> Option<Duration> {
        let good = (*self.last_good.lock().ok()?)?;
        Some(good.elapsed())
    }

    /// The last manifest read, if any: how long ago it ended, and its error.
    pub fn last_read(&self) -> Option<(Duration, Option<String>)> {
        let (at, error) = self.last_read.lock().ok()?.clone()?;
        Some((at.elapsed(), error))
    }

    /// Reads the manifest until one is known, waiting [`START_BACKOFF`] between tries (a
    /// service that is down or not started yet when the shell starts is used as soon as it
    /// answers, not at the next periodic refresh).
    pub async fn read_until_known(&self, client: &reqwest::Client) {
        let (mut delay, factor, longest) = START_BACKOFF;
        while self.manifest().is_none() {
            tokio::time::sleep(delay).await;
            if self.refresh(client).await {
                break;
            }
            delay = (delay * factor).min(longest);
        }
    }

    /// Whether traffic may trigger a refresh now (none in flight, the last one not too
    /// recent).
    pub fn may_refresh(&self) -> bool {
        let recent = self
            .last_attempt
            .lock()
            .map(|l| l.is_some_and(|t| t.elapsed() < MIN_REFRESH_GAP))
            .unwrap_or(true);
        !recent && !self.refreshing.load(Ordering::Acquire)
    }

    /// Starts a manifest refresh in the background when an answer's version calls for one
    /// (and traffic may trigger one now, [`Self::may_refresh`]).
    pub fn notice_version(self: &Arc<Self>, version: Option<&str>) {
        if self.version_is_stale(version) && self.may_refresh() {
            let service = Arc::clone(self);
            let client = crate::client::http();
            tokio::spawn(async move {
                service.refresh(&client).await;
            });
        }
    }

    /// Whether an answer's version calls for a refresh.
    pub fn version_is_stale(&self, version: Option<&str>) -> bool {
        match (self.manifest(), version) {
            (None, _) => true,
            (Some(m), Some(v)) => m.version != v,
            (Some(_), None) => false,
        }
    }
}

/// Why a manifest read failed (the last good manifest stays in use).
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// No answer (refused, reset, timed out).
    #[error("GET /manifest.json: {0}")]
    Request(#[source] reqwest::Error),
    /// An answer that is not a success.
    #[error("GET /manifest.json answered {0}")]
    Status(reqwest::StatusCode),
    /// The body was too large or broke off.
    #[error("reading /manifest.json: {0}")]
    Body(#[source] BodyError),
    /// Not a valid manifest.
    #[error("{0}")]
    Invalid(#[source] ContractError),
}

async fn fetch_manifest(client: &reqwest::Client, base: &str) -> Result<Manifest, ManifestError> {
    let res = client
        .get(format!("{base}/manifest.json"))
        .timeout(MANIFEST_TIMEOUT)
        .send()
        .await
        .map_err(ManifestError::Request)?;
    if !res.status().is_success() {
        return Err(ManifestError::Status(res.status()));
    }
    let body = read_capped(res, MAX_MANIFEST_BYTES)
        .await
        .map_err(ManifestError::Body)?;
    Manifest::parse(&body).map_err(ManifestError::Invalid)
}

/// A number that moves on whenever a manifest changes, and a channel that says so to
/// whoever waits for it (the asset warming, [`crate::asset_cache::warm`]).
#[derive(Debug)]
struct Generation {
    number: AtomicU64,
    changed: tokio::sync::watch::Sender<u64>,
}

impl Generation {
    fn new() -> Self {
        Self {
            number: AtomicU64::new(1),
            changed: tokio::sync::watch::Sender::new(1),
        }
    }

    fn advance(&self) {
        let number = self.number.fetch_add(1, Ordering::AcqRel) + 1;
        self.changed.send_replace(number);
    }
}

/// The services of the configuration with their manifests.
#[derive(Debug)]
pub struct Registry {
    /// The checked configuration.
    pub config: Config,
    services: Vec<Arc<Service>>,
    generation: Arc<Generation>,
}

impl Registry {
    /// A registry with no manifest read yet.
    pub fn new(config: Config) -> Self {
        let generation = Arc::new(Generation::new());
        let services = config
            .services
            .iter()
            .cloned()
            .map(|c| Arc::new(Service::new(c, Arc::clone(&generation))))
            .collect();
        Self {
            config,
            services,
            generation,
        }
    }

    /// A number that moves on whenever a service's manifest changes (what the sections'
    /// pages are rendered from: stylesheets, controllers, direct-mode origins).
    pub fn generation(&self) -> u64 {
        self.generation.number.load(Ordering::Acquire)
    }

    /// A receiver that wakes whenever a service's manifest changes.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.generation.changed.subscribe()
    }

    /// Every service, in configuration order.
    pub fn services(&self) -> &[Arc<Service>] {
        &self.services
    }

    /// The service called `name`.
    pub fn service(&self, name: &str) -> Option<&Arc<Service>> {
        self.services.iter().find(|s| s.config.name == name)
    }

    /// Reads every manifest in parallel.
    pub async fn refresh_all(&self, client: &reqwest::Client) {
        futures_util::future::join_all(self.services.iter().map(|s| s.refresh(client))).await;
    }

    /// The session service: the only one that receives the browser's cookies, answers
    /// `/internal/session` and may set cookies through the shell.
    pub fn session_service(&self) -> Option<&Arc<Service>> {
        self.config
            .session_service
            .as_deref()
            .and_then(|name| self.service(name))
    }

    /// Whether `service` is the session service (a browser's override never is).
    pub fn is_session_service(&self, service: &Service) -> bool {
        !service.is_override() && self.config.session_service.as_deref() == Some(service.name())
    }

    /// The service called `name` for a request whose browser uses `lineup` instead of some
    /// registered services (`crate::overrides`; empty for everyone else).
    pub fn service_in<'a>(
        &'a self,
        name: &str,
        lineup: &'a [Arc<Service>],
    ) -> Option<&'a Arc<Service>> {
        self.service(name).map(|s| self.pick(s, lineup))
    }

    /// `service`, or the service of `lineup` that stands in for it.
    fn pick<'a>(
        &'a self,
        service: &'a Arc<Service>,
        lineup: &'a [Arc<Service>],
    ) -> &'a Arc<Service> {
        lineup
            .iter()
            .find(|o| o.name() == service.name())
            .unwrap_or(service)
    }

    /// Every service in configuration order, with `lineup`'s in place of the ones it
    /// overrides.
    pub fn services_in<'a>(
        &'a self,
        lineup: &'a [Arc<Service>],
    ) -> impl Iterator<Item = &'a Arc<Service>> + 'a {
        self.services.iter().map(move |s| self.pick(s, lineup))
    }

    /// The section at `path` (`/` is the default section).
    pub fn section_at(&self, path: &str) -> Option<&SectionConfig> {
        if path == "/" {
            return self.default_section();
        }
        self.config.sections.iter().find(|s| s.path == path)
    }

    /// The default section.
    pub fn default_section(&self) -> Option<&SectionConfig> {
        self.config
            .sections
            .iter()
            .find(|s| s.id == self.config.default_section)
    }

    /// The section that shows `service/fragment`, else the first one showing `service`.
    pub fn section_of(&self, service: &str, fragment: Option<&str>) -> Option<&SectionConfig> {
        let sections = &self.config.sections;
        fragment
            .and_then(|f| {
                sections.iter().find(|s| {
                    s.slots
                        .iter()
                        .any(|sl| sl.service == service && sl.fragment == f)
                })
            })
            .or_else(|| {
                sections
                    .iter()
                    .find(|s| s.slots.iter().any(|sl| sl.service == service))
            })
    }

    /// Stylesheets of every service with a manifest, as `/svc/` URLs.
    pub fn stylesheets(&self) -> Vec<String> {
        self.stylesheets_in(&[], &Shown::All)
    }

    /// [`Self::stylesheets`] of the services `shown`, with `lineup`'s services in place of
    /// those they override.
    pub fn stylesheets_in(&self, lineup: &[Arc<Service>], shown: &Shown) -> Vec<String> {
        self.services_in(lineup)
            .filter(|s| shown.includes(s.name()))
            .filter_map(|s| s.manifest().map(|m| (s, m)))
            .flat_map(|(s, m)| {
                m.assets
                    .css
                    .iter()
                    .map(|c| format!("{}{c}", s.proxy_base()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Controllers of every service with a manifest, as `/svc/` URLs.
    pub fn controllers(&self) -> Vec<ControllerAsset> {
        self.controllers_in(&[], &Shown::All)
    }

    /// [`Self::controllers`] of the services `shown`, with `lineup`'s services in place of
    /// those they override.
    pub fn controllers_in(&self, lineup: &[Arc<Service>], shown: &Shown) -> Vec<ControllerAsset> {
        self.services_in(lineup)
            .filter(|s| shown.includes(s.name()))
            .filter_map(|s| s.manifest().map(|m| (s, m)))
            .flat_map(|(s, m)| {
                m.assets
                    .controllers
                    .iter()
                    .map(|c| ControllerAsset {
                        identifier: c.identifier.clone(),
                        module: format!("{}{}", s.proxy_base(), c.module),
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Public origins of direct-mode services (for the CSP's `connect-src`).
    pub fn direct_origins(&self) -> Vec<String> {
        self.services
            .iter()
            .filter_map(|s| s.config.public_url.clone())
            .collect()
    }

    /// The declared `min_height` of every configured slot's fragment (sections and chrome),
    /// once each: `(service, fragment, px)`.
    pub fn slot_heights(&self) -> Vec<(String, String, u32)> {
        let config = &self.config;
        let slots = config
            .sections
            .iter()
            .flat_map(|s| s.slots.iter().map(|sl| (&sl.service, &sl.fragment)))
            .chain(config.chrome.iter().map(|c| (&c.service, &c.fragment)));
        let mut heights: Vec<(String, String, u32)> = Vec::new();
        for (service, fragment) in slots {
            let known = heights
                .iter()
                .any(|(s, f, _)| s == service && f == fragment);
            let height = self
                .service(service)
                .and_then(|s| s.manifest())
                .and_then(|m| m.fragment(fragment).and_then(|f| f.min_height));
            if let (false, Some(px)) = (known, height) {
                heights.push((service.clone(), fragment.clone(), px));
            }
        }
        heights
    }

    fn slot_json(
        &self,
        service: &str,
        fragment: &str,
        mode: SlotMode,
        lineup: &[Arc<Service>],
    ) -> Value {
        let svc = self.service_in(service, lineup);
        let title = svc
            .and_then(|s| s.fragment(fragment))
            .map(|f| f.title)
            .unwrap_or_else(|| fragment.to_owned());
        let url = svc
            .and_then(|s| {
                s.fragment_path(fragment)
                    .map(|p| format!("{}{p}", s.browser_base()))
            })
            .unwrap_or_default();
        json!({ "service": service, "fragment": fragment, "title": title, "url": url, "mode": mode.as_str() })
    }

    /// The browser-facing registry (`GET /registry.json`): sections, chrome, services.
    /// Fragment URLs go through `/svc/` unless the service has a public URL (direct mode);
    /// CSS and controllers always go through `/svc/`, so the CSP stays `'self'`.
    pub fn browser_json(&self) -> Value {
        self.browser_json_in(&[])
    }

    /// [`Self::browser_json`] for a browser that uses `lineup` instead of some registered
    /// services; each of those is marked `"overridden": true`.
    pub fn browser_json_in(&self, lineup: &[Arc<Service>]) -> Value {
        let sections: Vec<Value> = self
            .config
            .sections
            .iter()
            .map(|s| {
                json!({
                    "id": s.id, "title": s.title, "path": s.path,
                    "slots": s.slots.iter().map(|sl| self.slot_json(&sl.service, &sl.fragment, sl.mode, lineup)).collect::<Vec<_>>(),
                })
            })
            .collect();
        let chrome: Vec<Value> = self
            .config
            .chrome
            .iter()
            .map(|c| {
                let mut v = self.slot_json(&c.service, &c.fragment, c.mode, lineup);
                v["slot"] = json!(c.slot);
                v["title"] = json!(c.title);
                v
            })
            .collect();
        let mut services = serde_json::Map::new();
        for s in self.services_in(lineup) {
            let manifest = s.manifest();
            let proxy = s.proxy_base();
            services.insert(
                s.config.name.clone(),
                json!({
                    "base": s.browser_base(),
                    "direct": s.config.public_url.is_some(),
                    "overridden": s.is_override(),
                    "available": manifest.is_some(),
                    "version": manifest.as_ref().map(|m| m.version.clone()),
                    "css": manifest.as_ref().map(|m| m.assets.css.iter().map(|c| format!("{proxy}{c}")).collect::<Vec<_>>()).unwrap_or_default(),
                    "controllers": manifest.as_ref().map(|m| m.assets.controllers.iter().map(|c| json!({"identifier": c.identifier, "module": format!("{proxy}{}", c.module)})).collect::<Vec<_>>()).unwrap_or_default(),
                }),
            );
        }
        json!({
            "brand": self.config.brand,
            "default_section": self.config.default_section,
            "sections": sections,
            "chrome": chrome,
            "services": services,
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::settings::Settings;

    #[test]
    fn direct_mode_services_get_absolute_fragment_urls_and_same_origin_assets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shell.toml");
        std::fs::write(
            &path,
            "[[services]]\nname = \"pricing\"\nurl = \"http://127.0.0.1:1313\"\npublic_url = \"http://localhost:1313/\"\n",
        )
        .unwrap();
        let settings = Settings::try_parse_from([
            "shell",
            "--config",
            path.to_str().unwrap(),
            "--services",
            "dashboard=http://127.0.0.1:3000,accounts=http://127.0.0.1:4000",
        ])
        .unwrap();
        let registry = Registry::new(settings.resolve().unwrap());
        let manifest = Manifest::parse(
            br#"{"name":"pricing","version":"1","fragments":[{"id":"teaser","path":"/fragments/teaser","title":"Teaser"}],"assets":{"css":[],"controllers":[]},"actions":[]}"#,
        )
        .unwrap();
        *registry
            .service("pricing")
            .unwrap()
            .manifest
            .write()
            .unwrap() = Some(Arc::new(manifest));
        let json = registry.browser_json();
        assert_eq!(json["services"]["pricing"]["direct"], true);
        assert_eq!(json["services"]["pricing"]["base"], "http://localhost:1313");
        assert_eq!(json["services"]["dashboard"]["base"], "/svc/dashboard");
        assert_eq!(
            json["sections"][0]["slots"][1]["url"],
            "http://localhost:1313/fragments/teaser"
        );
        // A service whose manifest is not known yet gets no guessed URL.
        assert_eq!(json["sections"][0]["slots"][0]["url"], "");
        assert_eq!(registry.direct_origins(), ["http://localhost:1313"]);
    }
}
