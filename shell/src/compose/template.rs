//! A page cut at its slots, rendered once per registry generation: the head and chrome
//! that go out at once, and one [`SlotPlan`] per slot (what goes there, the wrapper's
//! opening tag cut where its status and time go, the static HTML after it, its metric
//! handles). Its Content-Security-Policy is made with it.

use std::sync::Arc;

use actix_web::http::header::HeaderValue;
use bytes::Bytes;
use shared_ui::components::NavItem;

use crate::metrics::{FragmentMetrics, ShellMetrics};
use crate::registry::Registry;
use crate::settings::SectionConfig;
use crate::slot::{Filled, SlotRef};
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
    /// The Content-Security-Policy header.
    pub csp: Option<HeaderValue>,
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
}

/// A fragment's HTML as the bytes of a chunk, without copying it.
struct Html(Arc<str>);

impl AsRef<[u8]> for Html {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl SlotPlan {
    /// The chunks of the slot filled with `filled`: the wrapper's opening tag, the fragment
    /// (its own bytes) and the static HTML after it; or the whole "unavailable" box.
    pub fn chunks(&self, filled: &Filled, retry: &str) -> Vec<Bytes> {
        match &filled.html {
            Some(html) => vec![
                Bytes::from(self.open.render(filled)),
                Bytes::from_owner(Html(Arc::clone(html))),
                self.close_and_after.clone(),
            ],
            None => {
                let markup = views::slot(&self.slot, filled, &self.title, retry).into_string();
                vec![Bytes::from(markup), self.after.clone()]
            }
        }
    }
}

/// Renders the page of `section`, or the 404 page when `None`.
pub fn render(
    registry: &Registry,
    metrics: &ShellMetrics,
    section: Option<&SectionConfig>,
) -> Template {
    let generation = registry.generation();
    let config = &registry.config;
    let chrome = config
        .chrome
        .iter()
        .map(|c| slot_ref(&c.service, &c.fragment, true))
        .collect();
    let main = section
        .map(|s| {
            s.slots
                .iter()
                .map(|sl| slot_ref(&sl.service, &sl.fragment, false))
                .collect()
        })
        .unwrap_or_default();
    let title = match section {
        Some(s) => format!("{} · {}", s.title, config.brand),
        None => format!("Page not found · {}", config.brand),
    };
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
        stylesheets: registry.stylesheets(),
        controllers: registry.controllers(),
        // The chrome is English; services answer in English too, whatever Accept-Language
        // says, so the document language stays `en`.
        lang: "en".to_owned(),
    });
    let mut segments = segments.into_iter();
    let head = Bytes::from(segments.next().unwrap_or_default());
    let plans = slots
        .into_iter()
        .zip(segments)
        .map(|(slot, after)| plan(registry, metrics, slot, after))
        .collect();
    Template {
        generation,
        head,
        plans,
        retry: section.map_or("/", |s| s.path.as_str()).into(),
        csp: HeaderValue::from_str(&content_security_policy(registry)).ok(),
    }
}

fn slot_ref(service: &str, fragment: &str, chrome: bool) -> SlotRef {
    SlotRef {
        service: service.to_owned(),
        fragment: fragment.to_owned(),
        chrome,
    }
}

fn plan(registry: &Registry, metrics: &ShellMetrics, slot: SlotRef, after: String) -> SlotPlan {
    let title = registry
        .service(&slot.service)
        .map(|s| s.display_name())
        .unwrap_or_else(|| slot.service.clone());
    SlotPlan {
        title,
        open: SlotOpen::new(&slot),
        close_and_after: Bytes::from(format!("{}{after}", views::SLOT_CLOSE)),
        after: Bytes::from(after),
        metrics: metrics.for_fragment(&slot.service, &slot.fragment),
        slot,
    }
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
/// too, and can be rendered once); direct-mode services added to `connect-src`.
pub fn content_security_policy(registry: &Registry) -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(shared_ui::assets::import_map_json("").as_bytes());
    let hash = base64::engine::general_purpose::STANDARD.encode(digest);
    let mut connect = String::from("'self'");
    for origin in registry.direct_origins() {
        connect.push(' ');
        connect.push_str(&origin);
    }
    format!(
        "default-src 'self'; script-src 'self' 'sha256-{hash}'; style-src 'self'; \
         img-src 'self' data:; connect-src {connect}; frame-ancestors 'none'; \
         base-uri 'self'; form-action 'self'"
    )
}
