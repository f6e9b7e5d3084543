//! Step 2 (and the JS-off end of step 4): browsers that come here themselves, with
//! JavaScript off or by a reload, rather than through the fragment loader.
//!
//! A browser that navigates to a form action or to a bare fragment is sent to the section
//! that shows it ([`redirect`]); a browser that posts a form gets the answer inside the full
//! page of its section, status kept ([`form_page`]), and, when the service failed, that
//! page with the "unavailable" box in the form's slot.

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use shared_ui::contract::contains_document;
use shared_ui::headers;

use super::check::Checked;
use super::send::Answer;
use crate::compose::Prefilled;
use crate::overrides::Lineup;
use crate::settings::valid_name;
use crate::slot::{Filled, Status};
use crate::state::Shell;

/// Whether a browser navigated here itself (JavaScript off, a reload, a typed URL) rather
/// than the loader fetching: no loader header, and `Sec-Fetch-Mode: navigate` or an
/// `Accept` that asks for HTML.
pub fn is_navigation(req: &HttpRequest) -> bool {
    if req.headers().contains_key(headers::LOADER) {
        return false;
    }
    let text = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    text("sec-fetch-mode") == "navigate" || text("accept").contains("text/html")
}

/// Where a navigating browser goes instead of the service: a `GET` or `HEAD` of an action
/// (a reload of a form posted with JavaScript off) to the section holding the service; a
/// `GET` of a fragment to the section that shows it, with the query. `None`: forward.
pub fn redirect(up: &Shell, checked: &Checked, navigation: bool) -> Option<HttpResponse> {
    let service = checked.service.name();
    let location = if checked.reloads_action(navigation) {
        section_path(up, service, None)
    } else if navigation && checked.method == actix_web::http::Method::GET {
        let fragment = checked.service.fragment_at(&checked.path)?;
        let section = section_path(up, service, Some(&fragment));
        match &checked.query {
            Some(q) => format!("{section}?{q}"),
            None => section,
        }
    } else {
        return None;
    };
    Some(
        HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
    )
}

/// The path of the section showing `service` (and `fragment`), else `/`.
pub(super) fn section_path(up: &Shell, service: &str, fragment: Option<&str>) -> String {
    up.registry
        .section_of(service, fragment)
        .map_or_else(|| "/".to_owned(), |s| s.path.clone())
}

/// What came back for a form posted with JavaScript off.
#[derive(Debug)]
pub enum FormAnswer<'a> {
    /// The service answered (not a redirect).
    Answered(&'a Answer),
    /// No answer: the status of the failure (502, 504).
    Failed(StatusCode),
}

/// What the form's slot shows, and the page's status.
struct SlotAnswer {
    /// The fragment HTML, or `None` for the "unavailable" box.
    html: Option<String>,
    /// The fragment the answer says it is.
    fragment: Option<String>,
    /// The page's status.
    status: StatusCode,
}

impl FormAnswer<'_> {
    /// An answer that is not an HTML fragment (a 5xx, another type, a whole document) and
    /// a failure show the "unavailable" box, with 502 (or the failure's status); a good
    /// one keeps its status.
    fn into_slot(self, service: &str) -> SlotAnswer {
        let answer = match self {
            Self::Answered(answer) => answer,
            Self::Failed(status) => {
                return SlotAnswer {
                    html: None,
                    fragment: None,
                    status,
                }
            }
        };
        let status = answer.status;
        let html = String::from_utf8_lossy(&answer.body).into_owned();
        let fragment = fragment_id_in(&html, service);
        if is_html(&answer.headers) && !status.is_server_error() && !contains_document(&html) {
            SlotAnswer {
                html: Some(html),
                fragment,
                status,
            }
        } else {
            SlotAnswer {
                html: None,
                fragment,
                status: StatusCode::BAD_GATEWAY,
            }
        }
    }
}

/// The full page of the form's section with the answer in the service's slot: the slot of
/// the fragment the answer says it is, else the service's first slot in that section.
pub fn form_page(
    req: &HttpRequest,
    up: &web::Data<Shell>,
    checked: &Checked,
    answer: FormAnswer<'_>,
    ms: f64,
    lineup: &Lineup,
) -> HttpResponse {
    let service = checked.service.name();
    let SlotAnswer {
        html,
        fragment,
        status,
    } = answer.into_slot(service);
    let section = up
        .registry
        .section_of(service, fragment.as_deref())
        .or_else(|| up.registry.default_section())
        .cloned();
    let fragment = fragment.unwrap_or_else(|| {
        section
            .as_ref()
            .and_then(|s| s.slots.iter().find(|sl| sl.service == service))
            .map(|sl| sl.fragment.clone())
            .unwrap_or_default()
    });
    let filled = Filled {
        status: if html.is_some() {
            Status::Ok
        } else {
            Status::Unavailable
        },
        html: html.map(Into::into),
        ms: ms as u64,
    };
    let prefilled = Prefilled {
        service: service.to_owned(),
        fragment,
        filled,
    };
    up.page(
        req,
        section.as_ref(),
        status,
        Some(prefilled),
        lineup.clone(),
    )
}

/// Whether an answer says it is HTML.
fn is_html(headers: &reqwest::header::HeaderMap) -> bool {
    headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("text/html"))
}

/// The fragment id an answer says it is (`data-fragment="accounts/account"`).
fn fragment_id_in(html: &str, service: &str) -> Option<String> {
    let needle = format!("data-fragment=\"{service}/");
    let start = html.find(&needle)? + needle.len();
    let id: String = html[start..]
        .chars()
        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
        .collect();
    valid_name(&id).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fragment_id_is_read_from_the_answer() {
        let html = r#"<section class="x" data-fragment="accounts/account">…"#;
        assert_eq!(fragment_id_in(html, "accounts").as_deref(), Some("account"));
        assert_eq!(fragment_id_in(html, "pricing"), None);
    }
}
