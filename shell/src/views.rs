//! The shell's markup (maud): the page around the slots (head, chrome, main, footer), a
//! slot's wrapper and the 404 page's body.
//!
//! The page is rendered once with a marker where each slot goes, then cut at the markers
//! into static segments ([`PageTemplate`]): [`crate::compose`] sends the first at once and
//! writes each slot between two segments as its fragment is ready. Markers are HTML
//! comments; maud escapes every text we put in the page, so no user text can forge one.
//!
//! Nothing a request controls is written here: the pages carry the signed-in user's menu
//! and tokens, and go out compressed, so a reflected string would let a third party guess
//! those secrets from the compressed sizes (BREACH). The 404 page does not repeat the path,
//! and a slot's "Retry" links to its section's path, not to the request's query.

use std::cell::RefCell;

use bytes::{Bytes, BytesMut};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use shared_ui::components::{self, NavItem, PageOptions};
use shared_ui::contract::ControllerAsset;

use crate::slot::{Filled, Html, SlotMode, SlotRef, Status};

/// What the page around the slots shows.
#[derive(Debug)]
pub struct PageSpec<'a> {
    /// Product name.
    pub brand: &'a str,
    /// `<title>`.
    pub title: String,
    /// `<meta name="description">`.
    pub description: String,
    /// The section (`None` for the 404 page).
    pub section_id: Option<&'a str>,
    /// Nav items (current one marked).
    pub nav: Vec<NavItem>,
    /// The header's slots (`accounts/user-menu`).
    pub chrome: Vec<SlotRef>,
    /// The main slots.
    pub main: Vec<SlotRef>,
    /// Content of `<main>` besides its slots (the 404 page's body).
    pub main_body: Option<Markup>,
    /// Services' stylesheets (`/svc/…`).
    pub stylesheets: Vec<String>,
    /// Services' controllers (`/svc/…`).
    pub controllers: Vec<ControllerAsset>,
    /// `lang` from `Accept-Language` (default `en`).
    pub lang: String,
    /// The overrides' banner, for a browser that overrides services.
    pub banner: Option<Markup>,
    /// The reserved heights of the slots ([`slot_heights_css`]), in a `<style>` of the head
    /// that the CSP allows by its hash.
    pub slot_css: Option<String>,
    /// In `--dev`, the dev loop's event stream, which the loader subscribes to
    /// ([`crate::settings::DEV_EVENTS_PATH`]); `None` otherwise.
    pub dev_events: Option<&'a str>,
}

/// The page cut at its slots: `segments.len() == slots.len() + 1`.
#[derive(Debug)]
pub struct PageTemplate {
    /// Static HTML between the slots.
    pub segments: Vec<String>,
    /// The slots, in document order.
    pub slots: Vec<SlotRef>,
}

fn marker(i: usize) -> String {
    format!("<!--mf:slot:{i}-->")
}

/// Renders the page and cuts it at its slots.
pub fn page_template(spec: &PageSpec<'_>) -> PageTemplate {
    let mut options = PageOptions::new(&spec.title);
    options.lang = spec.lang.clone();
    options.stylesheets = std::iter::once(crate::assets::shell_css_url().to_owned())
        .chain(spec.stylesheets.iter().cloned())
        .collect();
    options.controllers = spec.controllers.clone();
    options.modules = vec![crate::assets::loader_url().to_owned()];
    let slots: Vec<SlotRef> = spec
        .chrome
        .iter()
        .chain(spec.main.iter())
        .cloned()
        .collect();
    let chrome_markers = (0..spec.chrome.len()).map(marker);
    let main_markers = (spec.chrome.len()..slots.len()).map(marker);
    let header = components::site_header(
        spec.brand,
        "/",
        &spec.nav,
        html! { @for m in chrome_markers { (PreEscaped(m)) } },
    );
    let page = html! {
        (DOCTYPE)
        html lang=(spec.lang) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (spec.title) }
                meta name="description" content=(spec.description);
                (components::head_assets(&options))
                @if let Some(css) = &spec.slot_css { style { (PreEscaped(css)) } }
            }
            body data-controller="fragment-loader" data-fragment-loader-registry-value="/registry.json"
                data-fragment-loader-dev-events-value=[spec.dev_events] {
                a class="skip-link" href="#main" { "Skip to content" }
                @if let Some(banner) = &spec.banner { (banner) }
                div class="mf-progress" data-fragment-loader-target="progress" hidden {}
                (header)
                main id="main" class="container shell-main" tabindex="-1"
                    data-fragment-loader-target="main" data-section=[spec.section_id] {
                    @if let Some(body) = &spec.main_body { (body) }
                    @for m in main_markers { (PreEscaped(m)) }
                }
                footer class="site-footer" {
                    div class="container" {
                        p class="muted" {
                            (spec.brand) ": one site, composed from independent fragment servers."
                        }
                    }
                }
                div class="visually-hidden" aria-live="polite" data-fragment-loader-target="announcer" {}
            }
        }
    }
    .into_string();
    let mut segments = Vec::with_capacity(slots.len() + 1);
    let mut rest = page.as_str();
    for i in 0..slots.len() {
        let m = marker(i);
        let (before, after) = rest
            .split_once(&m)
            .expect("every slot marker is rendered exactly once");
        segments.push(before.to_owned());
        rest = after;
    }
    segments.push(rest.to_owned());
    PageTemplate { segments, slots }
}

/// One slot: the wrapper the loader relies on, holding the fragment, its fallback or the
/// "unavailable" box (`title` is unavailable right now, retry at `retry_href`).
pub fn slot(slot: &SlotRef, filled: &Filled, title: &str, retry_href: &str) -> Markup {
    html! {
        div class="slot"
            data-slot={ (slot.service) "/" (slot.fragment) }
            data-fragment-loader-target=[slot.chrome.then_some("chrome")]
            data-fragment-status=(filled.status.as_str())
            data-fragment-ms=(filled.ms) {
            @match (&filled.html, filled.status) {
                (Some(html), _) => (PreEscaped(html.as_str())),
                (None, Status::Unavailable) | (None, _) => (components::unavailable(title, retry_href)),
            }
        }
    }
}

/// The opening tag of a filled slot's wrapper ([`slot`]'s), cut where its two varying
/// values go, so that a page only joins the pieces around the fragment ([`SlotOpen::render`],
/// [`SlotOpen::chunks`]) instead of rendering the wrapper. Rendered once per page template.
/// Its closing tag is [`SLOT_CLOSE`].
#[derive(Debug, Clone)]
pub struct SlotOpen {
    /// Up to the status value.
    before_status: String,
    /// Between the status and the milliseconds.
    before_ms: String,
    /// After the milliseconds, to the end of the tag.
    after_ms: String,
}

impl SlotOpen {
    /// Renders the wrapper once around markers that no escaped text can contain, and cuts it
    /// there.
    pub fn new(slot_ref: &SlotRef) -> Self {
        Self::cut(html! {
            div class="slot"
                data-slot={ (slot_ref.service) "/" (slot_ref.fragment) }
                data-fragment-loader-target=[slot_ref.chrome.then_some("chrome")]
                data-fragment-status=(PreEscaped("\u{0}"))
                data-fragment-ms=(PreEscaped("\u{1}")) { (PreEscaped("\u{2}")) }
        })
    }

    /// The opening tag of an async slot's fragment as it arrives after the main content:
    /// the same wrapper, with an id the placeholder links to and the placeholder's id, for
    /// the script that moves it there ([`late_slot`]).
    pub fn late(slot_ref: &SlotRef, index: usize) -> Self {
        Self::cut(html! {
            div class="slot" id=(late_id(index)) data-async-for=(placeholder_id(index))
                data-slot={ (slot_ref.service) "/" (slot_ref.fragment) }
                data-fragment-loader-target=[slot_ref.chrome.then_some("chrome")]
                data-fragment-mode=(slot_ref.mode.as_str())
                data-fragment-status=(PreEscaped("\u{0}"))
                data-fragment-ms=(PreEscaped("\u{1}")) { (PreEscaped("\u{2}")) }
        })
    }

    fn cut(whole: Markup) -> Self {
        let whole = whole.into_string();
        let mut parts = whole.split(['\u{0}', '\u{1}', '\u{2}']).map(str::to_owned);
        let mut next = || parts.next().unwrap_or_default();
        Self {
            before_status: next(),
            before_ms: next(),
            after_ms: next(),
        }
    }

    /// The opening tag for `filled`.
    pub fn render(&self, filled: &Filled) -> String {
        let status = filled.status.as_str();
        let mut digits = [0u8; 20];
        let ms = decimal(filled.ms, &mut digits);
        let mut out = String::with_capacity(
            self.before_status.len()
                + status.len()
                + self.before_ms.len()
                + ms.len()
                + self.after_ms.len(),
        );
        out.push_str(&self.before_status);
        out.push_str(status);
        out.push_str(&self.before_ms);
        out.extend(ms.iter().map(|&d| char::from(d)));
        out.push_str(&self.after_ms);
        out
    }

    /// The wrapper holding `html` (the fragment `filled` carries) and then `close`, as the
    /// page's chunks: a fragment of at most [`JOINED_FRAGMENT_MAX`] bytes is copied with
    /// its wrapper into one chunk (each chunk costs the server more than copying a few
    /// KiB: issue 26), cut from this thread's buffer of joined chunks ([`JOINED`]); a larger
    /// one goes out as its own bytes, uncopied, between the two.
    pub fn chunks(&self, filled: &Filled, html: &Html, close: &Bytes) -> Vec<Bytes> {
        if html.len() > JOINED_FRAGMENT_MAX {
            return vec![
                Bytes::from(self.render(filled)),
                html.to_bytes(),
                close.clone(),
            ];
        }
        let mut digits = [0u8; 20];
        let parts: [&[u8]; 7] = [
            self.before_status.as_bytes(),
            filled.status.as_str().as_bytes(),
            self.before_ms.as_bytes(),
            decimal(filled.ms, &mut digits),
            self.after_ms.as_bytes(),
            html.as_bytes(),
            close,
        ];
        let len = parts.iter().map(|p| p.len()).sum();
        let chunk = JOINED.with_borrow_mut(|buf| {
            buf.reserve(len);
            for part in parts {
                buf.extend_from_slice(part);
            }
            buf.split().freeze()
        });
        vec![chunk]
    }
}

thread_local! {
    /// This thread's buffer of joined slot chunks ([`SlotOpen::chunks`]). Each chunk is cut
    /// from it and shares its allocation; once every chunk cut from it is dropped (actix-web
    /// copies a chunk into its write buffer at once), the next one reuses it from its start.
    /// Before, each joined chunk was a `String` of its own: a few KiB, past the allocator's
    /// per-thread cache, about 900 instructions a slot to allocate and free (issue 26).
    static JOINED: RefCell<BytesMut> = RefCell::new(BytesMut::with_capacity(JOINED_BUFFER));
}

/// The size of a thread's buffer of joined chunks ([`JOINED`]).
const JOINED_BUFFER: usize = 32 * 1024;

/// `n` in decimal, written at the end of `digits`.
fn decimal(mut n: u64, digits: &mut [u8; 20]) -> &[u8] {
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &digits[at..]
}

/// The largest fragment [`SlotOpen::chunks`] copies into one chunk with its wrapper.
pub const JOINED_FRAGMENT_MAX: usize = 8 * 1024;

/// The closing tag of a slot's wrapper (see [`SlotOpen`]).
pub const SLOT_CLOSE: &str = "</div>";

/// The id of slot `index`'s placeholder (async and lazy slots).
pub fn placeholder_id(index: usize) -> String {
    format!("mf-slot-{index}")
}

/// The id of an async slot's fragment where it arrives, after the main content.
pub fn late_id(index: usize) -> String {
    format!("mf-late-{index}")
}

/// The placeholder of an async or lazy slot, written in page order: the reserved box (its
/// height from the head's style, [`slot_heights_css`]), a loading state and a plain link:
/// for an async slot to where its fragment arrives in this page, for a lazy one to `href`,
/// the section's page that shows it. `title` is the fragment's.
pub fn placeholder(slot: &SlotRef, index: usize, title: &str, href: &str) -> Markup {
    let lazy = slot.mode == SlotMode::Lazy;
    html! {
        div class="slot slot--pending" id=(placeholder_id(index))
            data-slot={ (slot.service) "/" (slot.fragment) }
            data-fragment-loader-target=[slot.chrome.then_some("chrome")]
            data-fragment-mode=(slot.mode.as_str())
            data-fragment-status=(if lazy { "lazy" } else { "pending" })
            aria-busy=[(!lazy).then_some("true")] {
            a class="slot__placeholder" href=(href) {
                @if lazy { "Show " (title) } @else { "Loading " (title) "…" }
            }
        }
    }
}

/// The script after each async slot's fragment: moves the fragment (the element before it)
/// into its placeholder, or drops it when the placeholder is gone (the loader showed another
/// section meanwhile), then removes itself. The same bytes every time; it runs under the
/// page's CSP nonce.
pub const MOVE_SCRIPT: &str = "(function(s){var c=s.previousElementSibling,p=c&&document.getElementById(c.getAttribute('data-async-for'));if(c&&c.hasAttribute('data-async-for')){if(p){c.removeAttribute('id');c.removeAttribute('data-async-for');p.replaceWith(c)}else{c.remove()}}s.remove()})(document.currentScript)";

/// The `<script>` that follows an async slot's fragment ([`MOVE_SCRIPT`]), with the
/// page's nonce.
pub fn move_script(nonce: &str) -> String {
    html! { script nonce=(nonce) { (PreEscaped(MOVE_SCRIPT)) } }.into_string()
}

/// An async slot whose fragment failed and has no copy or fallback: the "unavailable" box,
/// where async fragments arrive ([`SlotOpen::late`]).
pub fn late_unavailable(
    slot: &SlotRef,
    index: usize,
    filled: &Filled,
    title: &str,
    retry_href: &str,
) -> Markup {
    html! {
        div class="slot" id=(late_id(index)) data-async-for=(placeholder_id(index))
            data-slot={ (slot.service) "/" (slot.fragment) }
            data-fragment-loader-target=[slot.chrome.then_some("chrome")]
            data-fragment-mode=(slot.mode.as_str())
            data-fragment-status=(filled.status.as_str())
            data-fragment-ms=(filled.ms) {
            (components::unavailable(title, retry_href))
        }
    }
}

/// The head's rules that reserve each slot's declared height (`min_height` in the
/// manifest, CSS pixels), for placeholders and filled slots alike, so that a fragment
/// replacing its placeholder shifts nothing; `None` when no fragment declares one.
/// Service names and fragment ids are names (`a-z`, `0-9`, `-`): nothing to escape.
pub fn slot_heights_css(heights: &[(String, String, u32)]) -> Option<String> {
    use std::fmt::Write;
    if heights.is_empty() {
        return None;
    }
    let mut css = String::new();
    for (service, fragment, px) in heights {
        let _ = write!(
            css,
            ".slot[data-slot=\"{service}/{fragment}\"]{{min-height:{px}px}}"
        );
    }
    Some(css)
}

/// The body of the 404 page: the same words for every path (see the module doc).
pub fn not_found() -> Markup {
    html! {
        section class="card not-found" {
            h1 { "Page not found" }
            p { "Nothing lives at this address. It may have moved, or the link may be mistyped." }
            p class="not-found__links" {
                a class="btn btn--primary" href="/" { "Go to the start page" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_fragment_goes_out_in_one_chunk_with_its_wrapper_a_large_one_in_three() {
        let slot_ref = SlotRef {
            service: "pricing".into(),
            fragment: "teaser".into(),
            chrome: false,
            mode: SlotMode::Inline,
        };
        let open = SlotOpen::new(&slot_ref);
        let close = Bytes::from_static(b"</div><main>");
        for (len, pieces) in [
            (10, 1),
            (JOINED_FRAGMENT_MAX, 1),
            (JOINED_FRAGMENT_MAX + 1, 3),
        ] {
            let html = Html::from("a".repeat(len));
            let filled = Filled {
                html: Some(html.clone()),
                status: Status::Ok,
                ms: 1_234,
            };
            let chunks = open.chunks(&filled, &html, &close);
            assert_eq!(chunks.len(), pieces);
            let joined: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
            let expected = format!("{}{}</div><main>", open.render(&filled), html.as_str());
            assert_eq!(joined, expected.as_bytes());
            assert!(expected.contains("data-fragment-ms=\"1234\""), "{expected}");
        }
    }

    #[test]
    fn a_slot_joined_from_its_cut_opening_tag_is_the_slot_rendered_whole() {
        for chrome in [false, true] {
            let slot_ref = SlotRef {
                service: "pricing".into(),
                fragment: "teaser".into(),
                chrome,
                mode: SlotMode::Inline,
            };
            let open = SlotOpen::new(&slot_ref);
            for (status, ms) in [
                (Status::Ok, 0),
                (Status::Cached, 17),
                (Status::Fallback, u64::MAX),
            ] {
                let filled = Filled {
                    html: Some(Html::from("<p class=\"x\">Plans &amp; prices</p>")),
                    status,
                    ms,
                };
                let joined = format!(
                    "{}{}{SLOT_CLOSE}",
                    open.render(&filled),
                    filled.html.as_ref().map(Html::as_str).unwrap_or_default()
                );
                assert_eq!(
                    joined,
                    slot(&slot_ref, &filled, "Pricing", "/").into_string()
                );
            }
        }
    }
}
