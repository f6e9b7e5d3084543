//! `/_mosaic/overrides`, mounted only when overrides are on (`crate::overrides`):
//!
//! | request | answer |
//! | --- | --- |
//! | `GET` | the overrides page: every service with the URL this browser uses, a form |
//! | `GET ?service=…&url=…` | a shared link: the confirmation page with a button; nothing changes on a GET |
//! | `POST service=…&url=…` | checked, stored in the cookie, `303` back |
//! | `POST service=…&url=` | that service's override removed |
//! | `POST clear=1` | every override removed |
//!
//! A `POST` must carry an `Origin` naming this host. Anything refused is a 4xx page saying
//! why ([`crate::overrides::Refusal`]), and nothing is stored.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::overrides::views::{self, Row};
use crate::overrides::{cookie, Choice, Refusal, PATH};
use crate::state::Shell;

/// Mounts the overrides page.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(PATH)
            .app_data(shared_ui::respond::query_config())
            .app_data(shared_ui::respond::form_config())
            .route(shared_ui::respond::read().to(show))
            .route(web::post().to(choose)),
    );
}

/// The query of a shared link.
#[derive(Debug, Deserialize)]
pub struct Link {
    service: Option<String>,
    url: Option<String>,
}

/// The form of the overrides page, the confirmation and the banner.
#[derive(Debug, Deserialize)]
pub struct Form {
    service: Option<String>,
    url: Option<String>,
    clear: Option<String>,
    back: Option<String>,
}

/// `GET`: the overrides page, or the confirmation of a shared link.
pub async fn show(
    req: HttpRequest,
    link: web::Query<Link>,
    shell: web::Data<Shell>,
) -> Result<HttpResponse, Refusal> {
    let overrides = &shell.overrides;
    match (link.service.as_deref(), link.url.as_deref()) {
        (Some(service), Some(url)) => {
            let choice = overrides.check(service, url)?;
            Ok(views::confirm(&choice.service, &choice.url))
        }
        (Some(_), None) | (None, Some(_)) => Err(Refusal::Missing(
            "a shared link names both a service and a URL (?service=pricing&url=http://localhost:1314)",
        )),
        (None, None) => {
            let chosen = overrides.chosen(&req);
            let session = shell.registry.session_service().map(|s| s.name());
            let rows: Vec<Row<'_>> = shell
                .registry
                .services()
                .iter()
                .map(|s| {
                    let over = chosen.iter().find(|c| c.service == s.name());
                    Row {
                        service: s.name(),
                        url: over.map_or(s.config.url.as_str(), |c| c.url.as_str()),
                        overridden: over.is_some(),
                        session: session == Some(s.name()),
                    }
                })
                .collect();
            Ok(views::overview(&rows))
        }
    }
}

/// `POST`: sets, removes or clears overrides, then `303` back.
pub async fn choose(
    req: HttpRequest,
    form: web::Form<Form>,
    shell: web::Data<Shell>,
) -> Result<HttpResponse, Refusal> {
    check_origin(&req)?;
    let overrides = &shell.overrides;
    let secure = is_https(&req, &shell);
    let back = form
        .back
        .as_deref()
        .filter(|b| shell.registry.section_at(b).is_some())
        .unwrap_or(PATH);
    if form.clear.as_deref() == Some("1") {
        tracing::info!("overrides cleared");
        return Ok(see_other(back, cookie::clear(secure)));
    }
    let service = form
        .service
        .as_deref()
        .ok_or(Refusal::Missing("the form names no service"))?;
    let mut chosen: Vec<Choice> = overrides.chosen(&req);
    match form.url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        Some(url) => {
            let choice = overrides.check(service, url)?;
            tracing::info!(service = %choice.service, url = %choice.url, "override set");
            chosen.retain(|c| c.service != choice.service);
            chosen.push(choice);
        }
        None => chosen.retain(|c| c.service != service),
    }
    let set = match chosen.is_empty() {
        true => cookie::clear(secure),
        false => cookie::set(&overrides.seal(&chosen), secure),
    };
    Ok(see_other(back, set))
}

/// A form must come from this site: its `Origin` names the host the request was sent to.
fn check_origin(req: &HttpRequest) -> Result<(), Refusal> {
    let text = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    let (Some(origin), Some(host)) = (text(header::ORIGIN), text(header::HOST)) else {
        return Err(Refusal::Origin);
    };
    let same = ["http://", "https://"]
        .iter()
        .any(|scheme| origin.strip_prefix(scheme) == Some(host));
    same.then_some(()).ok_or(Refusal::Origin)
}

/// Whether the browser speaks HTTPS to the site (as far as `TRUSTED_PROXIES` tell).
fn is_https(req: &HttpRequest, shell: &Shell) -> bool {
    let peer = req.peer_addr().map(|a| a.ip());
    shell
        .registry
        .config
        .common
        .trusted_proxies
        .forwarded_proto(peer, req.headers())
        == Some("https")
}

/// `303` to `to`, setting the cookie.
fn see_other(to: &str, set_cookie: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_owned()))
        .insert_header((header::SET_COOKIE, set_cookie))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}
