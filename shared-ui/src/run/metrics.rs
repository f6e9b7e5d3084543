//! Prometheus metrics, written once: one [`Metrics`] registry per application (never a
//! process-global one, so the many apps a test runs in one process keep their own
//! figures), the request metrics every binary has, the [`record`] middleware that fills
//! them, and [`serve`], the `GET /metrics` handler (Prometheus text format 0.0.4).
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `http_requests_total` | counter | `method`, `route`, `status` |
//! | `http_request_duration_seconds` | histogram | `method`, `route` |
//!
//! `route` is the matched route pattern (`/fragments/{id}`, `/svc/{tail:.*}`), or
//! `unmatched` for a request no route took, so the label set stays bounded whatever paths
//! clients send. The duration runs from the request reaching the middleware to the
//! answer's head leaving it (a streamed page's body is not waited for).
//!
//! Each request's series are found by its route pattern in a small map of handles kept beside
//! the families ([`Metrics::observe`]), not by its label sets in them.
//!
//! A service adds its own metrics to the registry before the app is built (see
//! `kit::Service::metrics` and the shell's `ShellMetrics`); the `prometheus_client` crate
//! is re-exported so that every team uses the same version.

use std::sync::RwLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
pub use prometheus_client;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Histogram buckets for request and fragment durations, in seconds: from half a
/// millisecond (a cached fragment) to ten seconds (the longest proxy timeout is longer,
/// but anything past ten seconds is in `+Inf` and is a problem either way).
pub const DURATION_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A histogram with [`DURATION_BUCKETS`].
pub fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// A family of histograms with [`DURATION_BUCKETS`].
pub type DurationFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// An empty [`DurationFamily`].
pub fn duration_family<L>() -> DurationFamily<L>
where
    L: Clone + std::hash::Hash + Eq,
{
    Family::new_with_constructor(duration_histogram)
}

/// Labels of `http_requests_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

/// Labels of `http_request_duration_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

/// The series of one method of one route, once created in their families: its duration and
/// its count by status.
#[derive(Debug)]
struct RouteSeries {
    method: &'static str,
    duration: Histogram,
    by_status: Vec<(u16, Counter)>,
}

/// An application's metrics: its registry and the request metrics. Build it, let the
/// service register its own metrics ([`Metrics::registry`]), then share it as app data.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: DurationFamily<RouteLabels>,
    /// The handles of the series above by route pattern (as many as the families hold):
    /// one foldhash of the pattern a request instead of two SipHash lookups of label sets
    /// (about 900 instructions a request less under callgrind, `bench/callgrind`).
    series: RwLock<foldhash::HashMap<String, Vec<RouteSeries>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry holding the request metrics.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let durations = duration_family::<RouteLabels>();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, matched route pattern and status",
            requests.clone(),
        );
        registry.register_with_unit(
            "http_request_duration",
            "Time from a request's arrival to its answer's head, by method and matched route pattern",
            Unit::Seconds,
            durations.clone(),
        );
        Self {
            registry,
            requests,
            durations,
            series: RwLock::default(),
        }
    }

    /// The registry, for a service's own metrics (before the app is built).
    pub fn registry(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// The registry in Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }

    /// Counts one answer and its duration: through the handles kept by route pattern, made
    /// the first time a (method, route, status) is seen.
    fn observe(&self, method: &Method, route: Option<String>, status: u16, seconds: f64) {
        let method = method_label(method);
        let route = route.as_deref().unwrap_or("unmatched");
        let counted_in = |series: &foldhash::HashMap<String, Vec<RouteSeries>>| {
            let s = series.get(route)?.iter().find(|s| s.method == method)?;
            let (_, count) = s.by_status.iter().find(|(code, _)| *code == status)?;
            s.duration.observe(seconds);
            count.inc();
            Some(())
        };
        // A poisoned lock only means a panic elsewhere; the handles in it are whole.
        let read = self.series.read().unwrap_or_else(|e| e.into_inner());
        if counted_in(&read).is_some() {
            return;
        }
        drop(read);
        let mut write = self.series.write().unwrap_or_else(|e| e.into_inner());
        if counted_in(&write).is_none() {
            let duration = self.durations.get_or_create_owned(&RouteLabels {
                method,
                route: route.to_owned(),
            });
            let count = self.requests.get_or_create_owned(&RequestLabels {
                method,
                route: route.to_owned(),
                status,
            });
            duration.observe(seconds);
            count.inc();
            let methods = write.entry(route.to_owned()).or_default();
            match methods.iter_mut().find(|s| s.method == method) {
                Some(s) => s.by_status.push((status, count)),
                None => methods.push(RouteSeries {
                    method,
                    duration,
                    by_status: vec![(status, count)],
                }),
            }
        }
    }
}

/// The method as a label: the standard ones by name, anything else `other` (a client can
/// send any token as a method).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// Middleware (`from_fn(metrics::record)`): counts every answer and its duration in the
/// [`Metrics`] of the app data, labelled by the matched route pattern. Without one in app
/// data it does nothing.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let Some(metrics) = req.app_data::<web::Data<Metrics>>().cloned() else {
        return next.call(req).await;
    };
    let started = Instant::now();
    let method = req.method().clone();
    let res = next.call(req).await?;
    metrics.observe(
        &method,
        res.request().match_pattern(),
        res.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    Ok(res)
}

/// `GET /metrics`: the app's [`Metrics`] in Prometheus text format.
pub async fn serve(metrics: Option<web::Data<Metrics>>) -> HttpResponse {
    match metrics {
        Some(m) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .content_type(prometheus_client::encoding::prometheus_text::CONTENT_TYPE)
            .body(m.render()),
        None => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("no metrics here\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_render_by_route_pattern_in_prometheus_text() {
        let m = Metrics::new();
        m.observe(&Method::GET, Some("/fragments/{id}".into()), 200, 0.002);
        m.observe(&Method::GET, Some("/fragments/{id}".into()), 200, 0.02);
        m.observe(&Method::from_bytes(b"BREW").unwrap(), None, 404, 0.0001);
        // Another status of a known route: a series of its own, the same duration series.
        m.observe(&Method::GET, Some("/fragments/{id}".into()), 404, 0.001);
        let text = m.render();
        assert!(
            text.contains("# TYPE http_requests_total counter"),
            "{text}"
        );
        assert!(
            text.contains(
                r#"http_requests_total{method="GET",route="/fragments/{id}",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"http_requests_total{method="GET",route="/fragments/{id}",status="404"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"http_requests_total{method="other",route="unmatched",status="404"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains("# TYPE http_request_duration_seconds histogram"),
            "{text}"
        );
        assert!(
            text.contains(
                r#"http_request_duration_seconds_bucket{le="0.005",method="GET",route="/fragments/{id}"} 2"#
            ) || text.contains(
                r#"http_request_duration_seconds_bucket{method="GET",route="/fragments/{id}",le="0.005"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"http_request_duration_seconds_count{method="GET",route="/fragments/{id}"} 3"#
            ),
            "{text}"
        );
    }
}
