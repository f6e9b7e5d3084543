//! The shell's own Prometheus metrics, beside the request metrics of
//! [`shared_ui::metrics`]; served on the admin port only ([`shared_ui::admin`]).
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `shell_fragment_duration_seconds` | histogram | `service`, `fragment` |
//! | `shell_fragment_outcomes_total` | counter | `service`, `fragment`, `status` (`ok`, `cached`, `fallback`, `unavailable`) |
//! | `shell_fragment_failures_total` | counter | `service`, `fragment`, `reason` (`timeout`, `status`, `not_html`, `too_large`, `not_utf8`, `whole_document`, `transport`) |
//! | `shell_proxy_requests_total` | counter | `service`, `status` |
//! | `shell_asset_copies_total` | counter | `service`, `source` (`warm`, `proxy`) |
//! | `shell_proxy_stand_ins_total` | counter | `service`, `kind` (`asset`, `fragment`), `status` (`cached`, `fallback`, `unavailable`) |
//! | `shell_cache_hits_total`, `shell_cache_misses_total` | counter | `cache` (`fragment`, `session`) |
//! | `shell_manifest_reads_total` | counter | `service`, `result` (`ok`, `error`) |
//! | `shell_manifest_info` | gauge (always 1) | `service`, `version` |
//! | `shell_overridden_requests_total` | counter | `service`, `route` (`page`, `registry`, `proxy`) |
//! | `shell_override_fragment_outcomes_total` | counter | `service`, `fragment`, `status` |
//! | `shell_override_fragment_failures_total` | counter | `service`, `fragment`, `reason` |
//!
//! A browser's override (`crate::overrides`) is counted apart: requests that used one in
//! `shell_overridden_requests_total`, and its slots in the `shell_override_fragment_*`
//! series instead of `shell_fragment_*` (nor its proxied answers in
//! `shell_proxy_requests_total`), so a developer's service never moves the shared site's
//! figures and alerts.
//!
//! Every label value comes from the configuration or a registered service's manifest
//! (services, fragments of the configured slots), never from a client, so the number of
//! series stays bounded (a failure's `reason` is one of seven words,
//! [`crate::fragments::FragmentError::reason`]). The manifest figures are read from the
//! [`Registry`] at each scrape.
//!
//! Layer: below the session and fragment clients that count into it; it reads the
//! [`Registry`] and the slot words of [`crate::slot`], nothing above.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{self, Unit};
use shared_ui::metrics::{duration_family, DurationFamily};

use crate::recent::{ErrorRecord, FragmentWindow, Recent};
use crate::registry::Registry;
use crate::slot::Status;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct FragmentLabels {
    service: String,
    fragment: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OutcomeLabels {
    service: String,
    fragment: String,
    status: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct FailureLabels {
    service: String,
    fragment: String,
    reason: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ProxyLabels {
    service: String,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OverriddenLabels {
    service: String,
    route: &'static str,
}

/// Which kind of request used an override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overridden {
    /// A composed page.
    Page,
    /// `/registry.json`.
    Registry,
    /// A request through `/svc/{service}/…`.
    Proxy,
}

impl Overridden {
    fn label(self) -> &'static str {
        match self {
            Overridden::Page => "page",
            Overridden::Registry => "registry",
            Overridden::Proxy => "proxy",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CopyLabels {
    service: String,
    source: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StandInLabels {
    service: String,
    kind: &'static str,
    status: &'static str,
}

/// What the proxy stood in for when a service failed a `GET`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StandIn {
    /// A declared stylesheet or controller module: its last good copy.
    Asset,
    /// A fragment the loader fetched: what the page would show in its slot.
    Fragment,
}

impl StandIn {
    fn label(self) -> &'static str {
        match self {
            StandIn::Asset => "asset",
            StandIn::Fragment => "fragment",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CacheLabels {
    cache: &'static str,
}

/// Which cache a hit or miss is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cache {
    /// The fragment cache (a fresh copy served, or a stale one while another request
    /// refetches it, is a hit).
    Fragment,
    /// The session lookups, reused for two seconds per session token.
    Session,
}

impl Cache {
    fn label(self) -> &'static str {
        match self {
            Cache::Fragment => "fragment",
            Cache::Session => "session",
        }
    }
}

impl Default for ShellMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The shell's metrics; one per shell ([`crate::state::Shell`]).
#[derive(Debug)]
pub struct ShellMetrics {
    fragment_durations: DurationFamily<FragmentLabels>,
    fragment_outcomes: Family<OutcomeLabels, Counter>,
    fragment_failures: Family<FailureLabels, Counter>,
    proxy_requests: Family<ProxyLabels, Counter>,
    stand_ins: Family<StandInLabels, Counter>,
    asset_copies: Family<CopyLabels, Counter>,
    cache_hits: Family<CacheLabels, Counter>,
    cache_misses: Family<CacheLabels, Counter>,
    overridden_requests: Family<OverriddenLabels, Counter>,
    override_outcomes: Family<OutcomeLabels, Counter>,
    override_failures: Family<FailureLabels, Counter>,
    /// The series of `cache_hits` and `cache_misses`, by [`Cache`], once created.
    hit_handles: [OnceLock<Counter>; 2],
    miss_handles: [OnceLock<Counter>; 2],
    /// The last five minutes, for the status page.
    pub recent: Arc<Recent>,
}

impl ShellMetrics {
    /// Empty metrics, not yet registered anywhere.
    pub fn new() -> Self {
        Self {
            fragment_durations: duration_family(),
            fragment_outcomes: Family::default(),
            fragment_failures: Family::default(),
            proxy_requests: Family::default(),
            stand_ins: Family::default(),
            asset_copies: Family::default(),
            cache_hits: Family::default(),
            cache_misses: Family::default(),
            overridden_requests: Family::default(),
            override_outcomes: Family::default(),
            override_failures: Family::default(),
            hit_handles: Default::default(),
            miss_handles: Default::default(),
            recent: Arc::default(),
        }
    }

    /// Hits and misses of `cache` since the start.
    pub fn cache_counts(&self, cache: Cache) -> (u64, u64) {
        let count = |h: &[OnceLock<Counter>; 2]| h[cache as usize].get().map_or(0, Counter::get);
        (count(&self.hit_handles), count(&self.miss_handles))
    }

    /// Adds them, and the manifest figures read from `services` at each scrape, to a
    /// registry.
    pub fn register(&self, registry: &mut registry::Registry, services: Arc<Registry>) {
        registry.register_with_unit(
            "shell_fragment_duration",
            "Time to fill a page slot with a fragment (cache, service, or fallback), by service and fragment",
            Unit::Seconds,
            self.fragment_durations.clone(),
        );
        registry.register(
            "shell_fragment_outcomes",
            "Page slots filled, by service, fragment and how (ok, cached, fallback, unavailable)",
            self.fragment_outcomes.clone(),
        );
        registry.register(
            "shell_fragment_failures",
            "Fragment fetches that failed, by service, fragment and reason (timeout, status, not_html, too_large, not_utf8, whole_document, transport)",
            self.fragment_failures.clone(),
        );
        registry.register(
            "shell_proxy_requests",
            "Requests proxied through /svc/{service}/…, by registered service and answer status",
            self.proxy_requests.clone(),
        );
        registry.register(
            "shell_proxy_stand_ins",
            "Proxied GETs a service failed (no answer, too late, 5xx) that the shell answered itself, by service, kind (asset, fragment) and how (cached, fallback, unavailable)",
            self.stand_ins.clone(),
        );
        registry.register(
            "shell_asset_copies",
            "Copies of a service's declared asset stored in the asset cache (new, or a new version or ETag), by service and source (warm, proxy)",
            self.asset_copies.clone(),
        );
        registry.register(
            "shell_cache_hits",
            "Lookups answered from a cache, by cache (fragment, session)",
            self.cache_hits.clone(),
        );
        registry.register(
            "shell_cache_misses",
            "Lookups a cache could not answer, by cache (fragment, session)",
            self.cache_misses.clone(),
        );
        registry.register(
            "shell_overridden_requests",
            "Requests that used a browser's override, by overridden service and route (page, registry, proxy)",
            self.overridden_requests.clone(),
        );
        registry.register(
            "shell_override_fragment_outcomes",
            "Page slots filled from a browser's override, by service, fragment and how (ok, fallback, unavailable)",
            self.override_outcomes.clone(),
        );
        registry.register(
            "shell_override_fragment_failures",
            "Fragment fetches from a browser's override that failed, by service, fragment and reason",
            self.override_failures.clone(),
        );
        registry.register_collector(Box::new(ManifestCollector(services)));
    }

    /// The metric handles of one page slot's fragment, looked up once (when its section's
    /// page is rendered) instead of by label strings at every page.
    pub fn for_fragment(&self, service: &str, fragment: &str) -> FragmentMetrics {
        FragmentMetrics {
            service: service.to_owned(),
            fragment: fragment.to_owned(),
            durations: self.fragment_durations.clone(),
            outcomes: self.fragment_outcomes.clone(),
            failures: self.fragment_failures.clone(),
            duration: OnceLock::new(),
            by_status: Default::default(),
            window: self.recent.window(service, fragment),
            recent: Arc::clone(&self.recent),
        }
    }

    /// The metric handles of a slot filled from a browser's override: its outcomes and
    /// failures in the overrides' own series; its time is not kept.
    pub fn for_overridden_fragment(&self, service: &str, fragment: &str) -> FragmentMetrics {
        FragmentMetrics {
            durations: duration_family(),
            outcomes: self.override_outcomes.clone(),
            failures: self.override_failures.clone(),
            ..self.for_fragment(service, fragment)
        }
    }

    /// A request that used a browser's override of `service`.
    pub fn overridden(&self, service: &str, route: Overridden) {
        self.overridden_requests
            .get_or_create(&OverriddenLabels {
                service: service.to_owned(),
                route: route.label(),
            })
            .inc();
    }

    /// A request proxied to a registered service, answered with `status`.
    pub fn proxied(&self, service: &str, status: u16) {
        self.proxy_requests
            .get_or_create(&ProxyLabels {
                service: service.to_owned(),
                status,
            })
            .inc();
    }

    /// A failed proxied `GET` of `service` answered by the shell: what, and how.
    pub fn stood_in(&self, service: &str, kind: StandIn, status: Status) {
        self.stand_ins
            .get_or_create(&StandInLabels {
                service: service.to_owned(),
                kind: kind.label(),
                status: status.as_str(),
            })
            .inc();
    }

    /// A copy of one of `service`'s assets stored, from `source` (`warm` or `proxy`).
    pub fn asset_copied(&self, service: &str, source: &'static str) {
        self.asset_copies
            .get_or_create(&CopyLabels {
                service: service.to_owned(),
                source,
            })
            .inc();
    }

    /// A cache lookup: a hit or a miss.
    pub fn cache(&self, cache: Cache, hit: bool) {
        let (family, handles) = if hit {
            (&self.cache_hits, &self.hit_handles)
        } else {
            (&self.cache_misses, &self.miss_handles)
        };
        handles[cache as usize]
            .get_or_init(|| {
                family
                    .get_or_create(&CacheLabels {
                        cache: cache.label(),
                    })
                    .clone()
            })
            .inc();
    }
}

/// The series of one (service, fragment), each created in its family the first time it is
/// used (so a status that never happened has no series) and then kept: recording a slot is
/// an atomic add, with no label strings built, hashed or locked.
#[derive(Debug)]
pub struct FragmentMetrics {
    service: String,
    fragment: String,
    durations: DurationFamily<FragmentLabels>,
    outcomes: Family<OutcomeLabels, Counter>,
    failures: Family<FailureLabels, Counter>,
    duration: OnceLock<Histogram>,
    by_status: [OnceLock<Counter>; 4],
    window: Arc<FragmentWindow>,
    recent: Arc<Recent>,
}

impl FragmentMetrics {
    /// A slot filled with this fragment: how, and how long it took.
    pub fn record(&self, status: Status, took: Duration) {
        self.window.push(status, took);
        self.duration
            .get_or_init(|| {
                self.durations
                    .get_or_create(&FragmentLabels {
                        service: self.service.clone(),
                        fragment: self.fragment.clone(),
                    })
                    .clone()
            })
            .observe(took.as_secs_f64());
        self.by_status[status as usize]
            .get_or_init(|| {
                self.outcomes
                    .get_or_create(&OutcomeLabels {
                        service: self.service.clone(),
                        fragment: self.fragment.clone(),
                        status: status.as_str(),
                    })
                    .clone()
            })
            .inc();
    }
}

impl FragmentMetrics {
    /// The service answered a fetch of this fragment well (its last contact, for the
    /// status page).
    pub fn answered(&self) {
        self.recent.contact(&self.service, None);
    }

    /// A fetch of this fragment failed, for `reason` (one of a fixed few words), in the
    /// page of `trace_id`. Rare, so the series is looked up by its labels each time.
    pub fn failed(&self, reason: &'static str, detail: String, trace_id: Option<String>) {
        self.recent.failed(ErrorRecord {
            at: std::time::SystemTime::now(),
            service: self.service.clone(),
            fragment: self.fragment.clone(),
            reason,
            detail,
            trace_id,
        });
        self.failures
            .get_or_create(&FailureLabels {
                service: self.service.clone(),
                fragment: self.fragment.clone(),
                reason,
            })
            .inc();
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReadLabels {
    service: String,
    result: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct VersionLabels {
    service: String,
    version: String,
}

/// Reads the manifest figures from the registry at each scrape.
#[derive(Debug)]
struct ManifestCollector(Arc<Registry>);

impl Collector for ManifestCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        {
            let mut reads = encoder.encode_descriptor(
                "shell_manifest_reads",
                "Manifest reads, by service and result (ok, error).",
                None,
                MetricType::Counter,
            )?;
            for service in self.0.services() {
                for (result, count) in [("ok", &service.reads.ok), ("error", &service.reads.failed)]
                {
                    let labels = ReadLabels {
                        service: service.name().to_owned(),
                        result,
                    };
                    ConstCounter::new(count.load(Ordering::Relaxed))
                        .encode(reads.encode_family(&labels)?)?;
                }
            }
        }
        let manifests: Vec<_> = self
            .0
            .services()
            .iter()
            .filter_map(|s| s.manifest().map(|m| (s.name().to_owned(), m)))
            .collect();
        let mut info = encoder.encode_descriptor(
            "shell_manifest_info",
            "The manifest version in use per service (1; absent while no manifest was read).",
            None,
            MetricType::Gauge,
        )?;
        for (service, manifest) in &manifests {
            let labels = VersionLabels {
                service: service.clone(),
                version: manifest.version.clone(),
            };
            ConstGauge::new(1i64).encode(info.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
