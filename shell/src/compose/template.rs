//! A page cut at its slots, rendered once per registry generation: the head and chrome
//! that go out at once, and one [`SlotPlan`] per slot (what goes there, the wrapper's
//! opening tag cut where its status and time go, the static HTML after it, its metric
//! handles). Its Content-Security-Policy is made with it. Async and lazy slots carry their
//! placeholder too ([`super::deferred`]); a page with an async slot keeps its end
//! (`</body></html>`) apart, for the fragments that arrive after the main content, and has
//! its policy cut where each request's nonce goes.

use std::sync::Arc;

use actix_web::http::header::HeaderValue;
use bytes::Bytes;
use shared_ui::components::NavItem;

use super::deferred::{self, Deferred};
use crate::metrics::{FragmentMetrics, ShellMetrics};
use crate::overrides::{self, Lineup};
use crate::registry::{Registry, Shown};
use crate::settings::SectionConfig;
use crate::slot::{Filled, SlotMode, SlotRef};
use crate::views::{self, PageSpec, PageTemplate, SlotOpen};

/// A section's page (or the 404 page) cut at its slots: the same bytes for every request
/// while the registry's manifests stay the same ([`Registry::generation`]).
#[derive(Debug)]
pub struct Template {
    /// The registry generation it was rendered from.
    pub generation: u64,
    /// The head and the chrome up to the first slot.
    pub head: Bytes,
    /// The slots, in document order.
    pub plans: Vec<SlotPlan>,
    /// Where an "unavailable" box's "Retry" goes: the section's path (never the request's
    /// query, which would be reflected into a page with the user's secrets).
    pub retry: Arc<str>,
    /// The Content-Security-Policy header (pages without async slots).
    pub csp: Option<HeaderValue>,
    /// Pages with async slots: the policy cut where the request's nonce goes, and the
    /// page's end (`</body></html>`), written after the async fragments.
    pub late: Option<deferred::LatePage>,
}

/// One slot of a [`Template`].
#[derive(Debug)]
pub struct SlotPlan {
    /// Which fragment goes there.
    pub slot: SlotRef,
    /// The service's name with a capital, for its "unavailable" box.
    title: String,
    /// The wrapper's opening tag, cut where its status and time go.
    open: SlotOpen,
    /// The wrapper's closing tag and the static HTML up to the next slot, in one piece.
    close_and_after: Bytes,
    /// The static HTML up to the next slot (after an "unavailable" box, which is whole).
    after: Bytes,
    /// The slot's metric handles.
    pub metrics: FragmentMetrics,
    /// Whether the fragment depends on the user (`"personal"` in the manifest, default
    /// true): when not, it is fetched without waiting for the session lookup, with no user.
    pub personal: bool,
    /// An async or lazy slot's placeholder (and an async one's late wrapper).
    pub deferred: Option<Deferred>,
}

impl SlotPlan {
    /// The chunks of the slot filled with `filled`: the wrapper's opening tag, the fragment
    /// and the static HTML after it (one chunk, or three around a large fragment:
    /// [`SlotOpen::chunks`]); or the whole "unavailable" box.
    pub fn chunks(&self, filled: &Filled, retry: &str) -> Vec<Bytes> {
        self.chunks_then(filled, retry, &self.close_and_after, &self.after)
    }

    /// The static HTML up to the next slot.
    pub fn after(&self) -> &Bytes {
        &self.after
    }

    /// The service's name with a capital, for its "unavailable" box.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The chunks of the slot filled with `filled`, followed by `close_and_after` (or by
    /// `after` when the slot is the whole "unavailable" box).
    pub fn chunks_then(
        &self,
        filled: &Filled,
        retry: &str,
        close_and_after: &Bytes,
        after: &Bytes,
    ) -> Vec<Bytes> {
        match &filled.html {
            Some(html) => self.open.chunks(filled, html, close_and_after),
            None => {
                let markup = views::slot(&self.slot, filled, &self.title, retry).into_string();
                vec![Bytes::from(markup), after.clone()]
            }
        }
    }
}

/// Renders the page of `section`, or the 404 page when `None`, for a browser that uses
/// `lineup` instead of some registered services (its assets, and a banner naming them).
pub fn render(
    registry: &Registry,
    metrics: &ShellMetrics,
    section: Option<&SectionConfig>,
    lineup: &Lineup,
) -> Template {
    let generation = registry.generation();
    let config = &registry.config;
    let chrome: Vec<SlotRef> = config
        .chrome
        .iter()
        .map(|c| slot_ref(&c.service, &c.fragment, true, c.mode))
        .collect();
    let main: Vec<SlotRef> = section
        .map(|s| {
            s.slots
                .iter()
                .map(|sl| slot_ref(&sl.service, &sl.fragment, false, sl.mode))
                .collect()
        })
        .unwrap_or_default();
    let title = match section {
        Some(s) => format!("{} · {}", s.title, config.brand),
        None => format!("Page not found · {}", config.brand),
    };
    let shown = shown_on(&chrome, &main);
    let slot_css = views::slot_heights_css(&registry.slot_heights());
    let description = match section {
        Some(s) => s
            .description
            .clone()
            .unwrap_or_else(|| format!("{}: a page of {}.", s.title, config.brand)),
        None => format!("There is no page at this address on {}.", config.brand),
    };
    let PageTemplate { segments, slots } = views::page_template(&PageSpec {
        brand: &config.brand,
        title,
        description,
        section_id: section.map(|s| s.id.as_str()),
        nav: nav(registry, section.map(|s| s.id.as_str())),
        chrome,
        main,
        main_body: section.is_none().then(views::not_found),
        stylesheets: registry.stylesheets_in(lineup.services(), &shown),
        controllers: registry.controllers_in(lineup.services(), &shown),
        banner: (!lineup.is_empty()).then(|| {
            overrides::views::banner(&lineup.names(), section.map_or("/", |s| s.path.as_str()))
        }),
        // The chrome is English; services answer in English too, whatever Accept-Language
        // says, so the document language stays `en`.
        lang: "en".to_owned(),
        slot_css: slot_css.clone(),
        dev_events: config.dev.then_some(crate::settings::DEV_EVENTS_PATH),
    });
    let retry: Arc<str> = section.map_or("/", |s| s.path.as_str()).into();
    let has_async = slots.iter().any(|s| s.mode == SlotMode::Async);
    let (segments, end) = deferred::cut_end(segments, has_async);
    let mut segments = segments.into_iter();
    let head = Bytes::from(segments.next().unwrap_or_default());
    let plans = slots
        .into_iter()
        .zip(segments)
        .enumerate()
        .map(|(i, (slot, after))| plan(registry, metrics, slot, after, (i, &retry), lineup))
        .collect();
    let style_hash = slot_css.as_deref().map(sha256_source);
    let policy = content_security_policy(registry, style_hash.as_deref());
    Template {
        generation,
        head,
        plans,
        retry,
        csp: HeaderValue::from_str(&policy).ok(),
        late: end.map(|end| deferred::LatePage::new(&policy, end)),
    }
}

/// The services with a slot on the page: its head links their assets and no others (the
/// loader adds another service's stylesheet when a swap first shows it).
fn shown_on(chrome: &[SlotRef], main: &[SlotRef]) -> Shown {
    Shown::Only(
        chrome
            .iter()
            .chain(main)
            .map(|s| s.service.clone())
            .collect(),
    )
}

fn slot_ref(service: &str, fragment: &str, chrome: bool, mode: SlotMode) -> SlotRef {
    SlotRef {
        service: service.to_owned(),
        fragment: fragment.to_owned(),
        chrome,
        mode,
    }
}

/// One slot's plan; an overridden service's slot counts in the overrides' own metric
/// series, never in the shared site's.
fn plan(
    registry: &Registry,
    metrics: &ShellMetrics,
    slot: SlotRef,
    after: String,
    (index, retry): (usize, &str),
    lineup: &Lineup,
) -> SlotPlan {
    let service = registry.service_in(&slot.service, lineup.services());
    let title = service
        .map(|s| s.display_name())
        .unwrap_or_else(|| slot.service.clone());
    let spec = service.and_then(|s| s.fragment(&slot.fragment));
    let deferred = match slot.mode {
        SlotMode::Inline => None,
        SlotMode::Async | SlotMode::Lazy => {
            let fragment_title = spec.as_ref().map_or(title.as_str(), |f| f.title.as_str());
            Some(Deferred::new(&slot, index, fragment_title, retry))
        }
    };
    SlotPlan {
        title,
        open: SlotOpen::new(&slot),
        close_and_after: Bytes::from(format!("{}{after}", views::SLOT_CLOSE)),
        after: Bytes::from(after),
        metrics: if lineup.overrides(&slot.service) {
            metrics.for_overridden_fragment(&slot.service, &slot.fragment)
        } else {
            metrics.for_fragment(&slot.service, &slot.fragment)
        },
        personal: spec.is_none_or(|f| f.personal),
        deferred,
        slot,
    }
}

/// `'sha256-…'` of `text`, a CSP source for an inline script or style of those bytes.
fn sha256_source(text: &str) -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

fn nav(registry: &Registry, current: Option<&str>) -> Vec<NavItem> {
    registry
        .config
        .sections
        .iter()
        .map(|s| NavItem {
            href: s.path.clone(),
            label: s.title.clone(),
            current: Some(s.id.as_str()) == current,
        })
        .collect()
}

/// The page's Content-Security-Policy: scripts from our own origin plus the one inline
/// script, the import map, by its sha256 (it is the same bytes on every page, so the head is
/// too, and can be rendered once); styles from our own origin plus the head's reserved slot
/// heights (`style_hash`), by theirs; direct-mode services added to `connect-src`. A page
/// with async slots adds its nonce after the hash ([`deferred::LatePage`]).
pub fn content_security_policy(registry: &Registry, style_hash: Option<&str>) -> String {
    let hash = sha256_source(shared_ui::assets::import_map_json());
    let mut connect = String::from("'self'");
    for origin in registry.direct_origins() {
        connect.push(' ');
        connect.push_str(&origin);
    }
    let style = match style_hash {
        Some(h) => format!("'self' {h}"),
        None => "'self'".to_owned(),
    };
    format!(
        "default-src 'self'; script-src 'self' {hash}; style-src {style}; \
         img-src 'self' data:; connect-src {connect}; frame-ancestors 'none'; \
         base-uri 'self'; form-action 'self'"
    )
}
