//! The exporter itself (the `otlp` feature): the tracer provider, its HTTP client, and the
//! ids of a request's exported span.

use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::trace::{
    SpanContext, TraceContextExt, TraceFlags, TraceState, TracerProvider as _,
};
use opentelemetry::Context;
use opentelemetry_otlp::{SpanExporter, WithHttpConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::registry::LookupSpan;

use super::{binary_name, requested, setting, CERTIFICATE_ENV, TRACES_CERTIFICATE_ENV};
use crate::trace::{SpanId, TraceContext, TraceId};

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Whether spans are being exported.
pub fn enabled() -> bool {
    PROVIDER.get().is_some()
}

/// The layer that exports spans, when an endpoint is set; what went wrong when it is set
/// but the exporter cannot be built (logged by `init_tracing`).
pub(crate) fn layer<S>() -> Result<Option<impl tracing_subscriber::Layer<S>>, String>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    let Some((endpoint, _)) = requested() else {
        return Ok(None);
    };
    let exporter = exporter().map_err(|e| {
        format!("{endpoint} is set but the OTLP exporter cannot be built: {e}; no span is exported")
    })?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service_name())
                .build(),
        )
        .build();
    let tracer = provider.tracer("mosaic");
    if PROVIDER.set(provider).is_err() {
        return Ok(None); // Set up once already (init_tracing called twice).
    }
    Ok(Some(tracing_opentelemetry::layer().with_tracer(tracer)))
}

/// `OTEL_SERVICE_NAME`, else the binary's name.
fn service_name() -> String {
    std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .or_else(binary_name)
        .unwrap_or_else(|| "mosaic".to_owned())
}

/// The OTLP/HTTP protobuf exporter over [`client`].
fn exporter() -> Result<SpanExporter, String> {
    SpanExporter::builder()
        .with_http()
        .with_http_client(client()?)
        .build()
        .map_err(|e| e.to_string())
}

/// reqwest's blocking client with rustls and the webpki roots (the workspace's reqwest
/// features, chosen by this crate: not left to feature unification with another binary),
/// the certificates of [`CERTIFICATE_ENV`] trusted too. Built on a thread of its own, as a
/// blocking client must not be built inside an async runtime.
fn client() -> Result<reqwest::blocking::Client, String> {
    let roots = extra_roots()?;
    let timeout = timeout();
    let build = move || {
        roots
            .into_iter()
            .fold(
                reqwest::blocking::Client::builder()
                    .use_rustls_tls()
                    .timeout(timeout),
                |builder, cert| builder.add_root_certificate(cert),
            )
            .build()
            .map_err(|e| format!("the HTTP client: {e}"))
    };
    std::thread::spawn(build)
        .join()
        .map_err(|_| "the HTTP client's thread panicked".to_owned())?
}

/// The certificates of the PEM file [`TRACES_CERTIFICATE_ENV`] or [`CERTIFICATE_ENV`]
/// names, if one is set.
fn extra_roots() -> Result<Vec<reqwest::Certificate>, String> {
    let Some((name, path)) = setting([TRACES_CERTIFICATE_ENV, CERTIFICATE_ENV]) else {
        return Ok(Vec::new());
    };
    let pem = std::fs::read(&path).map_err(|e| format!("{name}: cannot read {path}: {e}"))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("{name}: {path} is not a PEM certificate bundle: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{name}: {path} holds no PEM certificate"));
    }
    Ok(certs)
}

/// `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`, else `OTEL_EXPORTER_OTLP_TIMEOUT` (milliseconds),
/// else 10 s: what the exporter's own client would use.
fn timeout() -> Duration {
    [
        opentelemetry_otlp::OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
        opentelemetry_otlp::OTEL_EXPORTER_OTLP_TIMEOUT,
    ]
    .into_iter()
    .find_map(|name| std::env::var(name).ok()?.trim().parse().ok())
    .map_or(
        opentelemetry_otlp::OTEL_EXPORTER_OTLP_TIMEOUT_DEFAULT,
        Duration::from_millis,
    )
}

/// Ties `span` (a request's span, not yet entered) to the request's trace and makes the
/// request's ids the exported span's; does nothing while export is off.
pub(crate) fn join(span: &tracing::Span, trace: &mut TraceContext) {
    if !enabled() {
        return;
    }
    if let Some(parent) = trace.parent_id {
        let remote = SpanContext::new(
            opentelemetry::trace::TraceId::from_bytes(trace.trace_id.to_bytes()),
            opentelemetry::trace::SpanId::from_bytes(parent.to_bytes()),
            TraceFlags::new(trace.flags),
            true,
            TraceState::default(),
        );
        let _ = span.set_parent(Context::new().with_remote_span_context(remote));
    }
    let cx = span.context();
    let exported = cx.span().span_context().clone();
    let ids = (
        TraceId::from_bytes(exported.trace_id().to_bytes()),
        SpanId::from_bytes(exported.span_id().to_bytes()),
    );
    if let (Some(trace_id), Some(span_id)) = ids {
        trace.trace_id = trace_id;
        trace.span_id = span_id;
        trace.flags = exported.trace_flags().to_u8();
    }
}

/// Sends the spans still in the batch (call once the server has stopped).
pub fn flush() {
    if let Some(provider) = PROVIDER.get() {
        let _ = provider.force_flush();
    }
}
