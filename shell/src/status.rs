//! The status page of the admin port (`GET /` on `--admin-port`, never on the public
//! port): what an operator looks at first. Every registered service with its URL, manifest
//! version and age, health and last error; every fragment's p50/p95/p99 and outcomes over
//! the last five minutes, with a small inline SVG chart; the caches' hit rates; the last
//! fragment errors with their trace ids.
//!
//! It reads the shell's own figures ([`crate::recent`], the [`Registry`], the cache
//! counters of [`ShellMetrics`]), not a Prometheus. [`Report::gather`] takes them once;
//! [`page`] renders them with shared-ui's components. The page works with JavaScript off
//! (a "Refresh" link); with it on, the `status-refresh` Stimulus controller
//! (`assets/status-refresh.js`) fetches the page every five seconds and swaps its body in
//! place.
//!
//! A service is **down** when its last contact failed: its last fragment answer within the
//! window, else its last manifest read; **up** when that contact succeeded; **unknown**
//! before any.

use std::time::{Duration, Instant, SystemTime};

use maud::{html, Markup};
use shared_ui::components::{self, PageOptions, Tone};
use shared_ui::contract::ControllerAsset;

use crate::metrics::{Cache, ShellMetrics};
use crate::recent::{self, ErrorRecord, Sample, WINDOW};
use crate::registry::Registry;
use crate::slot::Status;

/// Bars in a fragment's chart: one per ten seconds of the window.
const BUCKETS: usize = 30;

/// A service's health, as the page says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Its last contact succeeded.
    Up,
    /// Its last contact failed.
    Down,
    /// Not contacted yet.
    Unknown,
}

/// One registered service.
#[derive(Debug)]
pub struct ServiceRow {
    name: String,
    url: String,
    version: Option<String>,
    manifest_age: Option<Duration>,
    health: Health,
    last_error: Option<String>,
}

/// One ten-second bar of a chart.
#[derive(Debug, Default, Clone, Copy)]
struct Bucket {
    total: u32,
    bad: u32,
}

/// One fragment over the window.
#[derive(Debug)]
pub struct FragmentRow {
    service: String,
    fragment: String,
    /// p50, p95, p99 in milliseconds.
    percentiles: [Option<u32>; 3],
    /// ok, cached, fallback, unavailable.
    outcomes: [u64; 4],
    buckets: Vec<Bucket>,
}

/// Everything the page shows, taken at once.
#[derive(Debug)]
pub struct Report {
    services: Vec<ServiceRow>,
    fragments: Vec<FragmentRow>,
    caches: Vec<(&'static str, u64, u64)>,
    errors: Vec<ErrorRecord>,
}

impl Report {
    /// Reads the shell's figures now.
    pub fn gather(registry: &Registry, metrics: &ShellMetrics) -> Report {
        let recent = &metrics.recent;
        let services = registry
            .services()
            .iter()
            .map(|s| {
                let (health, last_error) = health(s, recent.last_contact(s.name()));
                ServiceRow {
                    name: s.name().to_owned(),
                    url: s.config.url.clone(),
                    version: s.manifest().map(|m| m.version.clone()),
                    manifest_age: s.manifest_age(),
                    health,
                    last_error,
                }
            })
            .collect();
        let fragments = recent
            .fragments()
            .into_iter()
            .map(|(service, fragment, window)| fragment_row(service, fragment, &window.samples()))
            .collect();
        let caches = [("fragment", Cache::Fragment), ("session", Cache::Session)]
            .into_iter()
            .map(|(name, cache)| {
                let (hits, misses) = metrics.cache_counts(cache);
                (name, hits, misses)
            })
            .collect();
        Report {
            services,
            fragments,
            caches,
            errors: recent.errors(),
        }
    }
}

/// Health from the last fragment answer within the window, else the last manifest read.
fn health(
    service: &crate::registry::Service,
    contact: Option<recent::Contact>,
) -> (Health, Option<String>) {
    let read = service.last_read();
    let fresh = contact.filter(|c| c.at.elapsed() <= WINDOW);
    let newer_read = match (&fresh, &read) {
        (Some(c), Some((ago, _))) => *ago < c.at.elapsed(),
        (None, _) => true,
        (Some(_), None) => false,
    };
    let last_error = fresh
        .as_ref()
        .and_then(|c| c.error.clone())
        .or_else(|| read.as_ref().and_then(|(_, e)| e.clone()));
    let failed = match (newer_read, &fresh, &read) {
        (false, Some(c), _) => Some(c.error.is_some()),
        (true, _, Some((_, e))) => Some(e.is_some()),
        _ => None,
    };
    let health = match failed {
        Some(true) => Health::Down,
        Some(false) => Health::Up,
        None => Health::Unknown,
    };
    (health, last_error)
}

fn fragment_row(service: String, fragment: String, samples: &[Sample]) -> FragmentRow {
    let mut ms: Vec<u32> = samples.iter().map(|s| s.ms).collect();
    ms.sort_unstable();
    let mut outcomes = [0u64; 4];
    let mut buckets = vec![Bucket::default(); BUCKETS];
    let now = Instant::now();
    let width = WINDOW.as_secs_f64() / BUCKETS as f64;
    for sample in samples {
        outcomes[sample.status as usize] += 1;
        let ago = now.duration_since(sample.at).as_secs_f64();
        let from_end = ((ago / width) as usize).min(BUCKETS - 1);
        let bucket = &mut buckets[BUCKETS - 1 - from_end];
        bucket.total += 1;
        if sample.status != Status::Ok {
            bucket.bad += 1;
        }
    }
    FragmentRow {
        service,
        fragment,
        percentiles: [50, 95, 99].map(|p| recent::percentile(&ms, p)),
        outcomes,
        buckets,
    }
}

/// The whole page.
pub fn page(report: &Report) -> Markup {
    let mut options = PageOptions::new("Mosaic shell status");
    options
        .stylesheets
        .push(crate::assets::shell_css_url().to_owned());
    options.controllers.push(ControllerAsset {
        identifier: "status-refresh".to_owned(),
        module: crate::assets::status_refresh_url().to_owned(),
    });
    components::page(
        &options,
        html! {
            main class="status" data-controller="status-refresh" {
                header class="status__head" {
                    h1 { "Mosaic shell status" }
                    p {
                        "The last five minutes of this shell's traffic, refreshed every five "
                        "seconds. "
                        a href="/" data-status-refresh-target="link" { "Refresh" }
                        " · " a href="/metrics" { "Prometheus metrics" }
                    }
                }
                div data-status-refresh-target="body" { (body(report)) }
            }
        },
    )
}

/// The part the controller swaps in place.
fn body(report: &Report) -> Markup {
    html! {
        (components::card(Some("Services"), services(&report.services)))
        (components::card(Some("Fragments, last 5 minutes"), fragments(&report.fragments)))
        (components::card(Some("Caches, since start"), caches(&report.caches)))
        (components::card(Some("Last errors"), errors(&report.errors)))
    }
}

fn health_badge(health: Health) -> Markup {
    match health {
        Health::Up => components::badge("up", Tone::Success),
        Health::Down => components::badge("down", Tone::Danger),
        Health::Unknown => components::badge("unknown", Tone::Warning),
    }
}

fn age(d: Option<Duration>) -> String {
    d.map_or_else(
        || "never read".to_owned(),
        |d| format!("{} s ago", d.as_secs()),
    )
}

fn services(rows: &[ServiceRow]) -> Markup {
    let rows: Vec<Vec<Markup>> = rows
        .iter()
        .map(|s| {
            vec![
                html! { span data-service=(s.name) { (s.name) } },
                html! { code { (s.url) } },
                html! { (s.version.as_deref().unwrap_or("none")) },
                html! { (age(s.manifest_age)) },
                html! { span data-health=(s.name) { (health_badge(s.health)) } },
                html! { (s.last_error.as_deref().unwrap_or("none")) },
            ]
        })
        .collect();
    let headers = ["Service", "URL", "Manifest", "Read", "Health", "Last error"];
    components::table("Registered services", &headers, &rows)
}

fn ms(v: Option<u32>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v} ms"))
}

fn fragments(rows: &[FragmentRow]) -> Markup {
    let rows: Vec<Vec<Markup>> = rows
        .iter()
        .map(|f| {
            let id = format!("{}/{}", f.service, f.fragment);
            let [p50, p95, p99] = f.percentiles;
            let [ok, cached, fallback, unavailable] = f.outcomes;
            let mut cells = vec![
                html! { code { (id) } },
                html! { (ms(p50)) },
                html! { (ms(p95)) },
                html! { (ms(p99)) },
            ];
            for (status, n) in [
                ("ok", ok),
                ("cached", cached),
                ("fallback", fallback),
                ("unavailable", unavailable),
            ] {
                cells.push(html! { span data-outcome=(format!("{id} {status}")) { (n) } });
            }
            cells.push(chart(&id, &f.buckets));
            cells
        })
        .collect();
    let headers = [
        "Fragment",
        "p50",
        "p95",
        "p99",
        "ok",
        "cached",
        "fallback",
        "unavailable",
        "Last 5 minutes",
    ];
    components::table("Slots filled, by fragment", &headers, &rows)
}

/// Bars of slots filled per ten seconds, the part not `ok` in the danger colour.
fn chart(id: &str, buckets: &[Bucket]) -> Markup {
    let top = buckets.iter().map(|b| b.total).max().unwrap_or(0).max(1);
    let (total, bad): (u32, u32) = buckets
        .iter()
        .fold((0, 0), |(t, b), x| (t + x.total, b + x.bad));
    let label = format!("{id}: {total} slots in 5 minutes, {bad} not ok");
    let h = |n: u32| f64::from(n) * 24.0 / f64::from(top);
    html! {
        svg class="status-chart" viewBox="0 0 150 24" width="150" height="24" role="img"
            aria-label=(label) {
            title { (label) }
            @for (i, b) in buckets.iter().enumerate() {
                @if b.total > 0 {
                    rect class="status-chart__ok" x=(i * 5) y=(format!("{:.1}", 24.0 - h(b.total)))
                        width="4" height=(format!("{:.1}", h(b.total))) {}
                }
                @if b.bad > 0 {
                    rect class="status-chart__bad" x=(i * 5) y=(format!("{:.1}", 24.0 - h(b.bad)))
                        width="4" height=(format!("{:.1}", h(b.bad))) {}
                }
            }
        }
    }
}

fn caches(rows: &[(&'static str, u64, u64)]) -> Markup {
    let rows: Vec<Vec<Markup>> = rows
        .iter()
        .map(|(name, hits, misses)| {
            let all = hits + misses;
            let rate = if all == 0 {
                "–".to_owned()
            } else {
                format!("{:.1} %", *hits as f64 * 100.0 / all as f64)
            };
            vec![
                html! { (name) },
                html! { (components::thousands(*hits)) },
                html! { (components::thousands(*misses)) },
                html! { (rate) },
            ]
        })
        .collect();
    components::table(
        "Cache lookups",
        &["Cache", "Hits", "Misses", "Hit rate"],
        &rows,
    )
}

fn errors(rows: &[ErrorRecord]) -> Markup {
    if rows.is_empty() {
        return html! { p { "No fragment has failed since the start." } };
    }
    let now = SystemTime::now();
    let rows: Vec<Vec<Markup>> = rows
        .iter()
        .map(|e| {
            let ago = now.duration_since(e.at).unwrap_or_default().as_secs();
            vec![
                html! { (ago) " s ago" },
                html! { code { (e.service) "/" (e.fragment) } },
                html! { (e.reason) },
                html! { (e.detail) },
                html! { code { (e.trace_id.as_deref().unwrap_or("none")) } },
            ]
        })
        .collect();
    let headers = ["When", "Fragment", "Reason", "Error", "Trace id"];
    components::table("The last fragment errors, newest first", &headers, &rows)
}
