//! Logging, the same in every binary: [`init_tracing`].

/// Sets up tracing to stderr with `RUST_LOG` (default `info`), coloured only when stderr is
/// a terminal (so files, pipes and the launcher get plain text), and, when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set, OTLP export of the spans ([`crate::otlp`]). Safe
/// to call twice.
pub fn init_tracing() {
    use std::io::IsTerminal;

    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;

    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(filter);
    let export =
        crate::otlp::layer().map(|l| l.with_filter(tracing_subscriber::filter::LevelFilter::INFO));
    let _ = tracing_subscriber::registry()
        .with(log)
        .with(export)
        .try_init();
}
