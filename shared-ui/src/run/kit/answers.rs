//! What the kit answers with: [`Info`] (what its handlers know about the running service),
//! the [`Fragment`] and [`Preview`] responders, [`HttpError`], and the kit's own handlers
//! (the manifest, the assets, the unknown fragment, the default preview).

use std::sync::Arc;

use actix_web::body::BoxBody;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, Responder, ResponseError};
use maud::{html, Markup};

use crate::assets::AssetSet;
use crate::components::{self, badge, site_header, NavItem, PageOptions, Tone};
use crate::context::current_user;
use crate::contract::Manifest;
use crate::respond;

/// What the kit's handlers and responders know about the running service (app data).
#[derive(Debug)]
pub struct Info {
    /// The manifest, validated.
    pub manifest: Manifest,
    pub(super) manifest_json: String,
    pub(super) assets: AssetSet,
    pub(super) preview_heading: String,
    pub(super) preview_intro: String,
    /// Each fragment's path, title and render function (for the default preview).
    pub(super) renders: Vec<(String, String, Option<RenderDebug>)>,
}

/// How a fragment renders its body for a request (the default preview calls it too).
pub(super) type Render = Arc<dyn Fn(&HttpRequest) -> Markup + Send + Sync>;

/// A render function in [`Info`], which prints as `render`.
pub(super) struct RenderDebug(pub(super) Render);

impl std::fmt::Debug for RenderDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("render")
    }
}

impl Info {
    /// The manifest version, sent on every fragment.
    pub fn version(&self) -> &str {
        &self.manifest.version
    }

    /// The service's page around `body`: the shared chrome, its CSS and controllers, a
    /// heading and an introduction.
    pub fn preview_page(&self, req: &HttpRequest, body: Markup) -> HttpResponse {
        let name = &self.manifest.name;
        let mut opts = PageOptions::new(&format!("{} · svc-{name} preview", self.preview_heading));
        opts.description = Some(self.preview_intro.clone());
        opts.stylesheets = self.manifest.assets.css.clone();
        opts.controllers = self.manifest.assets.controllers.clone();
        let nav = [
            NavItem {
                href: "/".into(),
                label: "Preview".into(),
                current: true,
            },
            NavItem {
                href: "/manifest.json".into(),
                label: "Manifest".into(),
                current: false,
            },
        ];
        let aside = match current_user(req) {
            Some(u) => html! { span class="muted" { "Signed in as " strong { (u.name) } } },
            None => badge("Signed out", Tone::Info),
        };
        let page = components::page(
            &opts,
            html! {
                (site_header(&format!("Mosaic {name}"), "/", &nav, aside))
                main id="main" class=(format!("container {name}-preview")) {
                    div class=(format!("{name}-preview__intro")) {
                        h1 { (self.preview_heading) }
                        p class="muted" { (self.preview_intro) }
                    }
                    (body)
                }
            },
        );
        HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(page.into_string())
    }
}

fn info_of(req: &HttpRequest) -> Option<&Info> {
    req.app_data::<web::Data<Info>>().map(|d| d.get_ref())
}

/// A fragment answer: its markup and an honest `Cache-Control`; the kit adds the content
/// type, the manifest version header and `Vary`.
#[derive(Debug)]
pub struct Fragment {
    cache_control: String,
    markup: Markup,
}

impl Fragment {
    /// A fragment with this `Cache-Control` (`public, max-age=30`, `private, no-store`, …).
    pub fn new(cache_control: impl Into<String>, markup: Markup) -> Self {
        Self {
            cache_control: cache_control.into(),
            markup,
        }
    }
}

impl Responder for Fragment {
    type Body = BoxBody;

    fn respond_to(self, req: &HttpRequest) -> HttpResponse {
        let version = info_of(req).map_or("", Info::version);
        respond::fragment_response(version, &self.cache_control, self.markup)
    }
}

/// The content of the preview page; the kit puts it in the service's page.
#[derive(Debug)]
pub struct Preview(pub Markup);

impl Responder for Preview {
    type Body = BoxBody;

    fn respond_to(self, req: &HttpRequest) -> HttpResponse {
        match info_of(req) {
            Some(info) => info.preview_page(req, self.0),
            None => HttpError::Internal("no kit::Info in app data".into()).error_response(),
        }
    }
}

/// Errors a handler answers with: a 400 page quoting the (escaped) problem, or a 500 page
/// that says nothing internal.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The request is not acceptable; the message says why and is shown (escaped).
    #[error("{0}")]
    BadRequest(String),
    /// Something broke; the message is logged, not shown.
    #[error("{0}")]
    Internal(String),
}

impl ResponseError for HttpError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::BadRequest(message) => {
                tracing::info!(%message, "bad request");
                respond::bad_request(message)
            }
            Self::Internal(message) => {
                tracing::error!(error = %message, "internal error");
                respond::error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    html! { p { "The service could not answer. Please try again in a moment." } },
                )
            }
        }
    }
}

pub(super) async fn manifest(info: web::Data<Info>) -> HttpResponse {
    // `no-cache`: the shell may keep it but asks again, and notices a redeploy from the
    // `x-fragment-version` header anyway.
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .content_type("application/json")
        .body(info.manifest_json.clone())
}

pub(super) async fn own_asset(
    req: HttpRequest,
    file: web::Path<String>,
    info: web::Data<Info>,
) -> HttpResponse {
    info.assets.respond(&req, &file)
}

pub(super) async fn unknown_fragment(id: web::Path<String>, info: web::Data<Info>) -> HttpResponse {
    let ids: Vec<&str> = info
        .manifest
        .fragments
        .iter()
        .map(|f| f.id.as_str())
        .collect();
    let last = ids.len().saturating_sub(1);
    respond::error_page(
        StatusCode::NOT_FOUND,
        "Fragment not found",
        html! {
            p {
                "svc-" (info.manifest.name) " has no fragment called " code { (id) } ". It serves "
                @for (i, known) in ids.iter().enumerate() {
                    @if i > 0 { (if i == last { " and " } else { ", " }) }
                    code { (known) }
                }
                "."
            }
        },
    )
}

/// The composed site's section paths. Fragments link to them (`/accounts`, `/pricing`), so a
/// service's standalone preview answers them too ([`site_path`]): no link in a preview ends
/// in a 404.
pub const SITE_PATHS: &[&str] = &["/dashboard", "/accounts", "/pricing"];

/// `GET` of a [`SITE_PATHS`] path on a service's own port: the service's own section
/// (`/{name}`) is its preview, so it is sent there with its query (`/accounts?plan=pro` ->
/// `/?plan=pro`); another team's section gets a page in the preview's chrome that says
/// where that page lives and links back.
pub(super) async fn site_path(req: HttpRequest, info: web::Data<Info>) -> HttpResponse {
    let path = req.path();
    let name = &info.manifest.name;
    if path.strip_prefix('/') == Some(name.as_str()) {
        let query = req.query_string();
        let to = if query.is_empty() {
            "/".to_owned()
        } else {
            format!("/?{query}")
        };
        return HttpResponse::SeeOther()
            .insert_header((header::LOCATION, to))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish();
    }
    let body = html! {
        section class="card preview-elsewhere" aria-labelledby="preview-elsewhere-title" {
            h2 id="preview-elsewhere-title" class="card__title" { "Another team's page" }
            p {
                code { (path) } " is a page of the composed site, served by another team. This is svc-"
                (name) " on its own: run the whole site with " code { "cargo run -p launcher" }
                " and open it there."
            }
            p { a class="btn btn--secondary" href="/" { "Back to the preview" } }
        }
    };
    info.preview_page(&req, body)
}

pub(super) async fn default_preview(req: HttpRequest, info: web::Data<Info>) -> HttpResponse {
    let body = html! {
        @for (path, title, render) in &info.renders {
            @match render {
                Some(render) => (render.0(&req)),
                None => p { a href=(path) { (title) } },
            }
        }
    };
    info.preview_page(&req, body)
}
