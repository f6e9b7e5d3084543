//! What a slot is, and how it was filled: the words every layer above shares (the views
//! write them, the metrics count them, the fragments and the composer produce them). It
//! depends on nothing else in the crate, so any module may use it.

use std::borrow::Cow;

use bytes::Bytes;
use serde::Deserialize;

/// The header on an answer the shell made itself for a service's failed `GET` through the
/// proxy: how it stood in ([`Status::as_str`]: `cached`, `fallback`, `unavailable`). The
/// loader writes it as the slot's `data-fragment-status`, as the page does.
pub const STATUS_HEADER: &str = "x-mf-status";

/// A slot in the page, in document order: which service's fragment goes there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRef {
    /// The service.
    pub service: String,
    /// The fragment id.
    pub fragment: String,
    /// Whether it sits in the chrome (header) rather than in `<main>`.
    pub chrome: bool,
    /// When its fragment is written into the page.
    pub mode: SlotMode,
}

/// When a slot's fragment reaches the page (`mode` in the shell's configuration).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SlotMode {
    /// Written in page order as soon as it and every slot before it are ready: a slow
    /// fragment holds back the slots after it (the default).
    #[default]
    Inline,
    /// A placeholder in page order at once; the fragment streamed after the main content as
    /// soon as it is ready, in the order the fragments complete, and moved into its
    /// placeholder by a small inline script (with JavaScript off it stays at the end of the
    /// page, where the placeholder links to).
    Async,
    /// Not fetched for the page: a placeholder with a link to its section's page that shows
    /// it; the browser's loader fetches it when the placeholder comes near the viewport.
    Lazy,
}

impl SlotMode {
    /// The value of `data-fragment-mode` and of the registry's `mode`.
    pub fn as_str(self) -> &'static str {
        match self {
            SlotMode::Inline => "inline",
            SlotMode::Async => "async",
            SlotMode::Lazy => "lazy",
        }
    }
}

/// How a slot was filled; written as `data-fragment-status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// A fresh answer from the service (or a fresh cached copy of one).
    Ok,
    /// The last good copy stood in for a failing service.
    Cached,
    /// The service's declared fallback.
    Fallback,
    /// The shell's "unavailable" box.
    Unavailable,
}

impl Status {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Cached => "cached",
            Status::Fallback => "fallback",
            Status::Unavailable => "unavailable",
        }
    }
}

/// A filled slot: its HTML (from a service we registered, so trusted markup) and how.
#[derive(Debug, Clone)]
pub struct Filled {
    /// The HTML to put in the slot, or `None` for the "unavailable" box.
    pub html: Option<Html>,
    /// How it was filled.
    pub status: Status,
    /// Milliseconds it took.
    pub ms: u64,
}

impl Filled {
    /// A slot filled with `html` (`Status::Ok`, or the given status), time not yet known.
    pub fn with(html: Html, status: Status) -> Self {
        Self {
            html: Some(html),
            status,
            ms: 0,
        }
    }

    /// The "unavailable" box, time not yet known.
    pub fn unavailable() -> Self {
        Self {
            html: None,
            status: Status::Unavailable,
            ms: 0,
        }
    }
}

/// A fragment's HTML: UTF-8 bytes, shared and never copied (an answer's body as it came
/// from the service, a cached copy, a declared fallback). Before, each fetched fragment was
/// copied into an `Arc<str>`: an allocation of a few KiB per fragment (issue 26).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Html(Bytes);

impl Html {
    /// `bytes` as HTML, if they are UTF-8.
    pub fn from_utf8(bytes: Bytes) -> Option<Self> {
        simdutf8::basic::from_utf8(&bytes)
            .is_ok()
            .then_some(Self(bytes))
    }

    /// The HTML as text, for the few places that need text (a slot rendered whole), none on
    /// a composed page's way. Borrowed: the bytes were checked when it was made, so the
    /// lossy conversion never replaces anything, and there is no panic path.
    pub fn as_str(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }

    /// The HTML's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A copy of its bytes alone (not of the buffer they may be part of), to keep.
    pub fn copied(&self) -> Self {
        Self(Bytes::copy_from_slice(&self.0))
    }

    /// The HTML as the bytes of a chunk, sharing it (no copy).
    pub fn to_bytes(&self) -> Bytes {
        self.0.clone()
    }
}

impl From<String> for Html {
    fn from(html: String) -> Self {
        Self(Bytes::from(html))
    }
}

impl From<&str> for Html {
    fn from(html: &str) -> Self {
        Self(Bytes::copy_from_slice(html.as_bytes()))
    }
}
