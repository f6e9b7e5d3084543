//! Logging, the same in every binary: [`init_tracing`], in the format of `LOG_FORMAT`
//! ([`LogFormat`]).
//!
//! - `text` (the default): one human line per event, coloured only on a terminal.
//! - `json`: one JSON object per line (tracing-subscriber's JSON format), for a log
//!   collector: `timestamp`, `level`, `target`, the event's `message` and fields at the top
//!   level, and `spans`, the spans it happened in, outermost first, each with its `name`
//!   and fields. A line written while a request is served has the `request` span there,
//!   with its `request_id` and `trace_id` (the W3C trace id that the shell hands to every
//!   service, docs/OPERATIONS.md), so one page view's lines are found in every binary's log
//!   by its trace id.

use crate::settings::SettingError;

/// The setting's name, as errors say it.
pub const SETTING: &str = "LOG_FORMAT";

/// How log lines are written (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human text, one line per event.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// Parses a `LOG_FORMAT` value (`text` or `json`, any case, surrounding spaces ignored).
    pub fn parse(value: &str) -> Result<Self, SettingError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err(SettingError::new(
                SETTING,
                format!("`{value}` is not a log format: use `text` (the default) or `json`"),
            )),
        }
    }

    /// The format `LOG_FORMAT` asks for (`text` when unset).
    pub fn from_env() -> Result<Self, SettingError> {
        match std::env::var(SETTING) {
            Ok(value) => Self::parse(&value),
            Err(std::env::VarError::NotPresent) => Ok(Self::Text),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(SettingError::new(SETTING, "is not valid UTF-8"))
            }
        }
    }
}

/// Sets up tracing to stderr with `RUST_LOG` (default `info`) in the format of
/// `LOG_FORMAT` (text when unset or invalid: binaries check it first with
/// [`LogFormat::from_env`] and refuse a bad value), text coloured only when stderr is a
/// terminal (so files, pipes and the launcher get plain text), and, when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set, OTLP export of the spans ([`crate::otlp`]; in a
/// build without the `otlp` feature, a warning that says so). Safe to call twice.
pub fn init_tracing() {
    use std::io::IsTerminal;

    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;

    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    };
    let format = LogFormat::from_env().unwrap_or_default();
    let text = (format == LogFormat::Text).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_filter(filter())
    });
    let json = (format == LogFormat::Json).then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .with_writer(std::io::stderr)
            .with_filter(filter())
    });
    let (export, problem) = match crate::otlp::layer() {
        Ok(export) => (export, None),
        Err(problem) => (None, Some(problem)),
    };
    let export = export.map(|l| l.with_filter(tracing_subscriber::filter::LevelFilter::INFO));
    let _ = tracing_subscriber::registry()
        .with(text)
        .with(json)
        .with(export)
        .try_init();
    // An endpoint that is set but cannot be served (no `otlp` feature in this build, or an
    // exporter that cannot be built) is said once, now that there is somewhere to say it.
    if let Some(problem) = problem {
        tracing::warn!("{problem}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_formats_are_text_or_json_and_anything_else_names_the_setting() {
        assert_eq!(LogFormat::parse("").unwrap(), LogFormat::Text);
        assert_eq!(LogFormat::parse("text").unwrap(), LogFormat::Text);
        assert_eq!(LogFormat::parse(" JSON ").unwrap(), LogFormat::Json);
        let err = LogFormat::parse("yaml").unwrap_err().to_string();
        assert!(err.contains("LOG_FORMAT") && err.contains("yaml"), "{err}");
    }
}
