//! The markup of overrides (maud): the overrides page, the confirmation of a shared link,
//! the refusal page and the banner every overridden page shows.
//!
//! The pages of `/_mosaic/overrides` are the shell's own small pages: no fragment and no
//! user menu, so they hold no secret, and echoing a URL there (escaped) reveals nothing.
//! The banner on composed pages names services only (registered names), never a URL from
//! the cookie: those pages carry the user's menu and tokens (see `crate::views`).

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use maud::{html, Markup};
use shared_ui::components::{self, ButtonKind, PageOptions, Tone};

use super::PATH;
use crate::assets::shell_css_url;

/// One row of the overrides page: a registered service and the URL in use for this browser.
#[derive(Debug)]
pub struct Row<'a> {
    /// The service.
    pub service: &'a str,
    /// The URL this browser's requests for it go to.
    pub url: &'a str,
    /// Whether that is an override (else the registered URL).
    pub overridden: bool,
    /// Whether it is the session service (never overridden).
    pub session: bool,
}

/// The banner of an overridden page: which services this browser overrides, a button that
/// clears them (back to `back`, the section's path) and a link to the overrides page.
pub fn banner(services: &[&str], back: &str) -> Markup {
    html! {
        aside class="mf-overrides" aria-label="Overrides in this browser" {
            div class="container mf-overrides__inner" {
                p {
                    "This browser uses overridden services: "
                    @for (i, s) in services.iter().enumerate() {
                        @if i > 0 { ", " }
                        strong { (s) }
                    }
                    ". "
                    a href=(PATH) { "Manage overrides" }
                }
                form method="post" action=(PATH) {
                    input type="hidden" name="clear" value="1";
                    input type="hidden" name="back" value=(back);
                    (components::button("Clear overrides", ButtonKind::Secondary))
                }
            }
        }
    }
}

/// The overrides page: every service with the URL in use, a form to point one at another
/// URL, and a button that clears every override.
pub fn overview(rows: &[Row<'_>]) -> HttpResponse {
    let any = rows.iter().any(|r| r.overridden);
    let choosable = rows.iter().filter(|r| !r.session);
    page(
        StatusCode::OK,
        "Overrides",
        html! {
            p { "Point a service at another URL for this browser only; everyone else keeps the registered one." }
            (components::table(
                "Services and the URL this browser uses",
                &["Service", "URL in use", "Source"],
                &rows.iter().map(row).collect::<Vec<_>>(),
            ))
            h2 { "Override a service" }
            form method="post" action=(PATH) class="stack" {
                div class="field" {
                    label for="override-service" { "Service" }
                    select id="override-service" name="service" {
                        @for r in choosable { option value=(r.service) { (r.service) } }
                    }
                }
                div class="field" {
                    label for="override-url" { "URL (an origin, like http://localhost:1314)" }
                    input id="override-url" name="url" type="url" required inputmode="url";
                }
                (components::button("Use it in this browser", ButtonKind::Primary))
            }
            @if any {
                form method="post" action=(PATH) {
                    input type="hidden" name="clear" value="1";
                    (components::button("Clear all overrides", ButtonKind::Secondary))
                }
            }
        },
    )
}

fn row(r: &Row<'_>) -> Vec<Markup> {
    let source = match (r.overridden, r.session) {
        (true, _) => components::badge("overridden in this browser", Tone::Warning),
        (false, true) => components::badge("registered; the session service", Tone::Info),
        (false, false) => components::badge("registered", Tone::Info),
    };
    vec![html! { (r.service) }, html! { code { (r.url) } }, source]
}

/// The confirmation of a shared link: nothing changes until the button is pressed.
pub fn confirm(service: &str, url: &str) -> HttpResponse {
    page(
        StatusCode::OK,
        "Use an override?",
        html! {
            p { "A link asks this browser to use " code { (url) } " as " strong { (service) } ". Only this browser is affected, until you clear it." }
            form method="post" action=(PATH) {
                input type="hidden" name="service" value=(service);
                input type="hidden" name="url" value=(url);
                (components::button("Use it in this browser", ButtonKind::Primary))
            }
            p { a href=(PATH) { "Cancel" } }
        },
    )
}

/// The page of a refused override (`status`, the message saying why).
pub fn refused(status: StatusCode, message: &str) -> HttpResponse {
    page(
        status,
        "Override refused",
        html! {
            (components::alert(Tone::Danger, html! { p { (message) } }))
            p { "Nothing was changed." }
            p { a href=(PATH) { "Back to the overrides" } }
        },
    )
}

/// A page of the overrides: shared-ui's error-page frame with the shell's stylesheet and
/// the services' CSP, never cached.
fn page(status: StatusCode, title: &str, body: Markup) -> HttpResponse {
    let mut options = PageOptions::new(title);
    options.stylesheets = vec![shell_css_url().to_owned()];
    let mut res = shared_ui::respond::error_page_with(
        &options,
        status,
        html! { div class="stack" { (body) } },
    );
    if let Ok(csp) = header::HeaderValue::from_str(&shared_ui::security::service_csp()) {
        res.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    res
}
