//! Slots that never wait for each other: async and lazy slots ([`SlotMode`]).
//!
//! - An **async** slot's placeholder (its reserved box and a loading state) goes out in page
//!   order at once; its fragment is fetched with the others and, once the main content is
//!   out, written as soon as it is ready, in the order the fragments complete
//!   ([`in_order_then_late`]), wrapped like any slot and followed by a small script, under
//!   the request's CSP nonce, that moves it into its placeholder ([`crate::views::MOVE_SCRIPT`]).
//!   With JavaScript off it stays at the end of the page, where the placeholder links to.
//! - A **lazy** slot is not fetched for the page: its placeholder links to the section's page
//!   with `?mf-slot=service/fragment`, which shows that slot inline ([`expanded_slot`]);
//!   the browser's loader fetches it when the placeholder comes near the viewport.
//!
//! The reserved box is the fragment's `min_height` from its manifest (a `<style>` in the
//! head, allowed by its hash), or the placeholder's default height (`shell.css`).

use std::collections::VecDeque;
use std::task::Poll;

use actix_web::http::header::HeaderValue;
use bytes::Bytes;
use futures_util::stream::{self, Stream, StreamExt};

use crate::slot::{Filled, SlotMode, SlotRef};
use crate::views::{self, SlotOpen};

/// The query parameter that asks a section's page to show one lazy slot inline (the link of
/// its placeholder, for browsers without JavaScript).
pub const EXPAND_PARAM: &str = "mf-slot";

/// An async or lazy slot's parts, rendered once per page template.
#[derive(Debug)]
pub struct Deferred {
    /// The whole placeholder.
    placeholder: Bytes,
    /// An async slot's wrapper where its fragment arrives, cut like [`SlotOpen::new`]'s.
    late_open: Option<SlotOpen>,
    /// The slot's index in the page (the placeholder's id).
    index: usize,
}

impl Deferred {
    /// The parts of slot `index` (`title` is the fragment's); a lazy placeholder links to
    /// `section_path`, the page that shows the slot inline.
    pub fn new(slot: &SlotRef, index: usize, title: &str, section_path: &str) -> Self {
        let href = match slot.mode {
            SlotMode::Lazy => format!(
                "{section_path}?{EXPAND_PARAM}={}/{}#{}",
                slot.service,
                slot.fragment,
                views::placeholder_id(index)
            ),
            SlotMode::Async | SlotMode::Inline => format!("#{}", views::late_id(index)),
        };
        Self {
            placeholder: Bytes::from(views::placeholder(slot, index, title, &href).into_string()),
            late_open: (slot.mode == SlotMode::Async).then(|| SlotOpen::late(slot, index)),
            index,
        }
    }

    /// The placeholder and `after`, the static HTML after it.
    pub fn placeholder_chunks(&self, after: &Bytes) -> Vec<Bytes> {
        vec![self.placeholder.clone(), after.clone()]
    }

    /// An async slot's fragment where it arrives: the wrapper holding `filled` (or the
    /// "unavailable" box of `title`, retried at `retry`), then `script` (the move script with
    /// the page's nonce).
    pub fn late_chunks(
        &self,
        slot: &SlotRef,
        (title, retry): (&str, &str),
        filled: &Filled,
        script: &Bytes,
    ) -> Vec<Bytes> {
        match (&filled.html, &self.late_open) {
            (Some(html), Some(open)) => {
                let close = Bytes::from_static(views::SLOT_CLOSE.as_bytes());
                let mut chunks = open.chunks(filled, html, &close);
                chunks.push(script.clone());
                chunks
            }
            _ => {
                let boxed = views::late_unavailable(slot, self.index, filled, title, retry);
                vec![Bytes::from(boxed.into_string()), script.clone()]
            }
        }
    }
}

/// What a page with async slots needs besides its segments: its policy cut where each
/// request's nonce goes, and its end, written after the async fragments.
#[derive(Debug)]
pub struct LatePage {
    csp_before_nonce: String,
    csp_after_nonce: String,
    /// `</body></html>`.
    pub end: Bytes,
}

impl LatePage {
    /// Cuts `policy` after its `script-src` sources.
    pub fn new(policy: &str, end: Bytes) -> Self {
        let cut = policy.find("; style-src").unwrap_or(policy.len());
        Self {
            csp_before_nonce: policy[..cut].to_owned(),
            csp_after_nonce: policy[cut..].to_owned(),
            end,
        }
    }

    /// The policy that also allows the scripts carrying `nonce`.
    pub fn csp(&self, nonce: &str) -> Option<HeaderValue> {
        let policy = format!(
            "{} 'nonce-{nonce}'{}",
            self.csp_before_nonce, self.csp_after_nonce
        );
        HeaderValue::from_str(&policy).ok()
    }
}

/// A fresh CSP nonce: 128 random bits, base64.
pub fn nonce() -> String {
    use base64::Engine;
    let bytes: [u8; 16] = rand::random();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Cuts the page's end (`</body></html>`) off its last segment when it has async slots,
/// whose fragments go after the main content and before it.
pub fn cut_end(mut segments: Vec<String>, has_async: bool) -> (Vec<String>, Option<Bytes>) {
    if !has_async {
        return (segments, None);
    }
    let Some(last) = segments.last_mut() else {
        return (segments, None);
    };
    match last.rfind("</body>") {
        Some(at) => {
            let end = last.split_off(at);
            (segments, Some(Bytes::from(end)))
        }
        None => (segments, None),
    }
}

/// The slot `service/fragment` a request asks to see inline (`?mf-slot=…`), if any.
pub fn expanded_slot(query: Option<&str>) -> Option<(String, String)> {
    let value = query?
        .split('&')
        .find_map(|pair| pair.strip_prefix(EXPAND_PARAM)?.strip_prefix('='))?;
    let value = value.replace("%2F", "/").replace("%2f", "/");
    let (service, fragment) = value.split_once('/')?;
    Some((service.to_owned(), fragment.to_owned()))
}

/// The query without its `mf-slot` parameter (the fragments never see it); `None` when
/// nothing is left.
pub fn without_expand(query: String) -> Option<String> {
    if !query.contains(EXPAND_PARAM) {
        return Some(query);
    }
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            pair.strip_prefix(EXPAND_PARAM)
                .is_none_or(|rest| !rest.is_empty() && !rest.starts_with('='))
        })
        .collect();
    (!kept.is_empty()).then(|| kept.join("&"))
}

/// The items of `ordered` as they come, then those of `late` in the order they complete.
/// Both are polled from the start, so the late work runs beside the ordered; what of it is
/// ready before `ordered` ends waits for it.
pub fn in_order_then_late<T, O, L>(mut ordered: O, mut late: L) -> impl Stream<Item = T>
where
    O: Stream<Item = T> + Unpin,
    L: Stream<Item = T> + Unpin,
{
    let mut ready: VecDeque<T> = VecDeque::new();
    let mut ordered_done = false;
    let mut late_done = false;
    stream::poll_fn(move |cx| {
        while !late_done {
            match late.poll_next_unpin(cx) {
                Poll::Ready(Some(item)) => ready.push_back(item),
                Poll::Ready(None) => late_done = true,
                Poll::Pending => break,
            }
        }
        if !ordered_done {
            match ordered.poll_next_unpin(cx) {
                Poll::Ready(Some(item)) => return Poll::Ready(Some(item)),
                Poll::Ready(None) => ordered_done = true,
                Poll::Pending => return Poll::Pending,
            }
        }
        match ready.pop_front() {
            Some(item) => Poll::Ready(Some(item)),
            None if late_done => Poll::Ready(None),
            None => Poll::Pending,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream::FuturesUnordered;
    use std::time::Duration;

    #[tokio::test]
    async fn late_items_wait_for_the_ordered_ones_then_come_as_they_complete() {
        let ordered = stream::iter(["a", "b"]).then(|x| async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            x
        });
        let late: FuturesUnordered<_> = [("slow", 80), ("quick", 1), ("middle", 45)]
            .into_iter()
            .map(|(x, ms)| async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                x
            })
            .collect();
        let started = std::time::Instant::now();
        let got: Vec<_> = in_order_then_late(Box::pin(ordered), late).collect().await;
        assert_eq!(got, ["a", "b", "quick", "middle", "slow"]);
        // Polled from the start: the slowest late item is not 80 ms after the ordered ones.
        assert!(
            started.elapsed() < Duration::from_millis(130),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn the_expand_parameter_is_read_and_never_forwarded() {
        assert_eq!(
            expanded_slot(Some("plan=pro&mf-slot=pricing/teaser")),
            Some(("pricing".into(), "teaser".into()))
        );
        assert_eq!(
            expanded_slot(Some("mf-slot=pricing%2Fteaser")),
            Some(("pricing".into(), "teaser".into()))
        );
        assert_eq!(expanded_slot(Some("mf-slotx=a/b")), None);
        assert_eq!(expanded_slot(None), None);
        assert_eq!(
            without_expand("plan=pro&mf-slot=pricing/teaser".into()).as_deref(),
            Some("plan=pro")
        );
        assert_eq!(without_expand("mf-slot=a/b".into()), None);
        assert_eq!(
            without_expand("mf-slots=1".into()).as_deref(),
            Some("mf-slots=1")
        );
    }

    #[test]
    fn the_nonce_goes_among_the_script_sources() {
        let page = LatePage::new(
            "default-src 'self'; script-src 'self' 'sha256-x'; style-src 'self'",
            Bytes::from_static(b"</body></html>"),
        );
        let csp = page.csp("abc").unwrap();
        assert_eq!(
            csp.to_str().unwrap(),
            "default-src 'self'; script-src 'self' 'sha256-x' 'nonce-abc'; style-src 'self'"
        );
        assert_ne!(nonce(), nonce());
    }
}
