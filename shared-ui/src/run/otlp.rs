//! Optional OTLP trace export, off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//!
//! When it is set (e.g. `http://otel-collector:4318`), [`crate::logging::init_tracing`] adds
//! a `tracing-opentelemetry` layer whose spans go, in batches, as OTLP/HTTP protobuf to
//! `<endpoint>/v1/traces` (the standard `OTEL_EXPORTER_OTLP_*` and `OTEL_BSP_*` variables
//! apply; `OTEL_SERVICE_NAME` names the service, else the binary's name). Every request
//! span is exported at `info` level whatever `RUST_LOG` says (it filters the log lines
//! only).
//!
//! `join` ties a request's span to its trace: the exported span takes the incoming
//! `traceparent`'s trace id and has its span as parent, and the ids the exporter gives the
//! span become the request's [`TraceContext`], so what the shell sends upstream, what every
//! log line says and what the collector receives are the same ids.

use std::sync::OnceLock;

use opentelemetry::trace::{
    SpanContext, TraceContextExt, TraceFlags, TraceState, TracerProvider as _,
};
use opentelemetry::Context;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::registry::LookupSpan;

use crate::trace::{SpanId, TraceContext, TraceId};

/// The variable that turns export on.
pub const ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Whether spans are being exported.
pub fn enabled() -> bool {
    PROVIDER.get().is_some()
}

/// The layer that exports spans, when [`ENDPOINT_ENV`] is set (and the exporter builds).
pub(crate) fn layer<S>() -> Option<impl tracing_subscriber::Layer<S>>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    std::env::var(ENDPOINT_ENV)
        .ok()
        .filter(|e| !e.trim().is_empty())?;
    let exporter = match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
    {
        Ok(exporter) => exporter,
        Err(e) => {
            // Tracing is not set up yet: this is the only way to say it.
            eprintln!("{ENDPOINT_ENV} is set but the OTLP exporter cannot be built: {e}; spans are not exported");
            return None;
        }
    };
    let name = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        })
        .unwrap_or_else(|| "mosaic".to_owned());
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(name).build())
        .build();
    let tracer = provider.tracer("mosaic");
    if PROVIDER.set(provider).is_err() {
        return None; // Set up once already (init_tracing called twice).
    }
    Some(tracing_opentelemetry::layer().with_tracer(tracer))
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
