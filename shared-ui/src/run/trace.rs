//! W3C Trace Context (`traceparent`, <https://www.w3.org/TR/trace-context/>), written once.
//!
//! Every binary's request middleware ([`crate::request_id::request_id`]) reads the incoming
//! `traceparent`: a valid one keeps its trace id (so one page's requests share one trace
//! across every team), anything else (absent, malformed, an unknown version, an all-zero
//! id) starts a fresh trace. Each request then gets its own span id, and the
//! [`TraceContext`] is put in the request's extensions and its `trace_id` in the request's
//! tracing span, so every log line of the request carries it. The shell sends
//! [`TraceContext::traceparent`] (the same trace id, the shell's own span id as parent) on
//! every upstream request.

use std::fmt;

use actix_web::{HttpMessage, HttpRequest};

/// The header's name.
pub const TRACEPARENT: &str = "traceparent";

/// A trace id: 16 bytes, not all zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId([u8; 16]);

/// A span id: 8 bytes, not all zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId([u8; 8]);

impl TraceId {
    /// A fresh random trace id.
    pub fn random() -> Self {
        loop {
            // One random integer, not 16 bytes drawn one by one.
            let bytes = rand::random::<u128>().to_be_bytes();
            if bytes != [0; 16] {
                return Self(bytes);
            }
        }
    }

    /// From its bytes; `None` when all zero (invalid per the spec).
    pub fn from_bytes(bytes: [u8; 16]) -> Option<Self> {
        (bytes != [0; 16]).then_some(Self(bytes))
    }

    /// Its bytes.
    pub fn to_bytes(self) -> [u8; 16] {
        self.0
    }
}

impl SpanId {
    /// A fresh random span id.
    pub fn random() -> Self {
        loop {
            let bytes = rand::random::<u64>().to_be_bytes();
            if bytes != [0; 8] {
                return Self(bytes);
            }
        }
    }

    /// From its bytes; `None` when all zero (invalid per the spec).
    pub fn from_bytes(bytes: [u8; 8]) -> Option<Self> {
        (bytes != [0; 8]).then_some(Self(bytes))
    }

    /// Its bytes.
    pub fn to_bytes(self) -> [u8; 8] {
        self.0
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

/// A valid incoming `traceparent`: the caller's trace, its span (our parent) and flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    /// The trace.
    pub trace_id: TraceId,
    /// The caller's span.
    pub parent_id: SpanId,
    /// The trace flags (bit 0: sampled).
    pub flags: u8,
}

fn lower_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

impl TraceParent {
    /// Parses a `traceparent` value as the spec's version 00 defines it:
    /// `00-<32 lower hex trace id, not all zero>-<16 lower hex parent id, not all zero>-<2
    /// lower hex flags>`. Anything else is `None` (and the caller starts a new trace).
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim_matches(|c| c == ' ' || c == '\t');
        if value.len() != 55 {
            return None;
        }
        let mut parts = value.split('-');
        let (version, trace, parent, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || version != "00" {
            return None;
        }
        Some(Self {
            trace_id: TraceId::from_bytes(lower_hex::<16>(trace)?)?,
            parent_id: SpanId::from_bytes(lower_hex::<8>(parent)?)?,
            flags: lower_hex::<1>(flags)?[0],
        })
    }
}

/// A request's place in its trace: the trace id (the caller's or a new one), this
/// request's own span id, the caller's span (when the trace was accepted) and the flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    /// The trace every log line of the request names.
    pub trace_id: TraceId,
    /// This request's span: the parent of everything it asks upstream.
    pub span_id: SpanId,
    /// The caller's span, when a valid `traceparent` came in.
    pub parent_id: Option<SpanId>,
    /// The trace flags (bit 0: sampled); `01` for a new trace.
    pub flags: u8,
}

impl TraceContext {
    /// Accepts a valid incoming `traceparent` header value, or starts a new trace.
    pub fn accept_or_start(header: Option<&str>) -> Self {
        match header.and_then(TraceParent::parse) {
            Some(parent) => Self {
                trace_id: parent.trace_id,
                span_id: SpanId::random(),
                parent_id: Some(parent.parent_id),
                flags: parent.flags,
            },
            None => Self {
                trace_id: TraceId::random(),
                span_id: SpanId::random(),
                parent_id: None,
                flags: 0x01,
            },
        }
    }

    /// The `traceparent` to send upstream: the same trace, this request's span as parent.
    pub fn traceparent(&self) -> String {
        // Written straight into one string of its final length (55 bytes): this runs for
        // every page, and `format!` with the ids' `Display` cost two more allocations.
        let mut out = String::with_capacity(55);
        out.push_str("00-");
        push_hex(&mut out, &self.trace_id.0);
        out.push('-');
        push_hex(&mut out, &self.span_id.0);
        out.push('-');
        push_hex(&mut out, &[self.flags]);
        out
    }

    /// The context of a request (set by the request middleware).
    pub fn of(req: &HttpRequest) -> Option<Self> {
        req.extensions().get::<Self>().copied()
    }
}

/// Appends `bytes` in lower-case hex.
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_is_kept_and_gets_a_new_span() {
        let parsed = TraceParent::parse(VALID).unwrap();
        assert_eq!(
            parsed.trace_id.to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(parsed.parent_id.to_string(), "00f067aa0ba902b7");
        assert_eq!(parsed.flags, 1);
        let tc = TraceContext::accept_or_start(Some(VALID));
        assert_eq!(tc.trace_id, parsed.trace_id);
        assert_eq!(tc.parent_id, Some(parsed.parent_id));
        assert_ne!(tc.span_id, parsed.parent_id);
        let out = tc.traceparent();
        assert!(
            out.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{out}"
        );
        assert!(out.ends_with("-01"), "{out}");
        assert_eq!(out.len(), 55, "{out}");
        assert_eq!(TraceParent::parse(&out).unwrap().parent_id, tc.span_id);
    }

    #[test]
    fn invalid_traceparents_start_a_new_trace() {
        for bad in [
            "",
            "garbage",
            // All-zero trace id or parent id.
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            // Upper case, wrong lengths, a bad version, extra parts, non-hex flags.
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad}");
            let tc = TraceContext::accept_or_start(Some(bad));
            assert_eq!(tc.parent_id, None, "{bad}");
            assert_ne!(tc.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
            assert!(TraceParent::parse(&tc.traceparent()).is_some());
        }
        let a = TraceContext::accept_or_start(None);
        let b = TraceContext::accept_or_start(None);
        assert_ne!(a.trace_id, b.trace_id);
    }
}
