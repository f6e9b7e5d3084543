//! Optional OTLP trace export: compiled in by the `otlp` cargo feature (each binary's
//! `otlp`, on in the images, off in a default `cargo build`), then on when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set.
//!
//! When it is set (e.g. `https://otel-collector:4318`), [`crate::logging::init_tracing`]
//! adds a `tracing-opentelemetry` layer whose spans go, in batches, as OTLP/HTTP protobuf to
//! `<endpoint>/v1/traces` (the standard `OTEL_EXPORTER_OTLP_*` and `OTEL_BSP_*` variables
//! apply; `OTEL_SERVICE_NAME` names the service, else the binary's name). Every request
//! span is exported at `info` level whatever `RUST_LOG` says (it filters the log lines
//! only). The HTTP client is reqwest's blocking client with rustls and the webpki roots,
//! built here (so an `https://` collector works in a binary built alone), trusting also the
//! PEM certificates of `OTEL_EXPORTER_OTLP_CERTIFICATE` (a private CA).
//!
//! `join` ties a request's span to its trace: the exported span takes the incoming
//! `traceparent`'s trace id and has its span as parent, and the ids the exporter gives the
//! span become the request's [`crate::trace::TraceContext`], so what the shell sends
//! upstream, what every log line says and what the collector receives are the same ids.
//!
//! Without the feature nothing of this is compiled, and an endpoint that is set is not
//! ignored silently: [`crate::logging::init_tracing`] logs one warning at start-up saying
//! that this build has no OTLP export and how to get it ([`unavailable`]).

#[cfg(feature = "otlp")]
mod export;

#[cfg(feature = "otlp")]
pub use export::{enabled, flush};
#[cfg(feature = "otlp")]
pub(crate) use export::{join, layer};

/// The variable that turns export on.
pub const ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// The traces' own endpoint (a full URL), which turns export on as well.
pub const TRACES_ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// A PEM file of certificates trusted beside the webpki roots (a private CA).
pub const CERTIFICATE_ENV: &str = "OTEL_EXPORTER_OTLP_CERTIFICATE";
/// The traces' own certificate file, read before [`CERTIFICATE_ENV`].
pub const TRACES_CERTIFICATE_ENV: &str = "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE";

/// The first of `names` that is set to something other than blanks, with its value.
fn setting(names: [&'static str; 2]) -> Option<(&'static str, String)> {
    names.into_iter().find_map(|name| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|v| (name, v))
    })
}

/// The setting that asks for export, with its value, if one is set.
fn requested() -> Option<(&'static str, String)> {
    setting([TRACES_ENDPOINT_ENV, ENDPOINT_ENV])
}

/// This binary's file name (`shell`, `svc-pricing`, …), if it can be told.
fn binary_name() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.file_stem()?.to_string_lossy().into_owned())
}

/// The start-up warning of a build of `binary` without the `otlp` feature when `setting`
/// (an endpoint variable) is set to `value`.
pub fn unavailable(setting: &str, value: &str, binary: &str) -> String {
    format!(
        "{setting} is set ({value}) but this build has no OTLP export (cargo feature `otlp` \
         off): no span is exported; build with `--features otlp` \
         (`cargo build -p {binary} --features otlp`), as the images are"
    )
}

/// Whether spans are being exported: never in a build without the feature.
#[cfg(not(feature = "otlp"))]
pub fn enabled() -> bool {
    false
}

/// Nothing to send in a build without the feature.
#[cfg(not(feature = "otlp"))]
pub fn flush() {}

/// No exported span to join in a build without the feature.
#[cfg(not(feature = "otlp"))]
pub(crate) fn join(_span: &tracing::Span, _trace: &mut crate::trace::TraceContext) {}

/// No layer in a build without the feature; the warning to log when an endpoint is set.
#[cfg(not(feature = "otlp"))]
pub(crate) fn layer() -> Result<Option<tracing_subscriber::layer::Identity>, String> {
    match requested() {
        Some((setting, value)) => {
            let binary = binary_name().unwrap_or_else(|| "<package>".to_owned());
            Err(unavailable(setting, &value, &binary))
        }
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_warning_of_a_build_without_export_names_the_setting_and_the_feature() {
        let text = unavailable(ENDPOINT_ENV, "https://collector:4318", "svc-pricing");
        assert!(text.contains("OTEL_EXPORTER_OTLP_ENDPOINT"), "{text}");
        assert!(text.contains("https://collector:4318"), "{text}");
        assert!(
            text.contains("`cargo build -p svc-pricing --features otlp`"),
            "{text}"
        );
    }
}
