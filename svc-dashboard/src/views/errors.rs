//! Error pages of this service (the 400 page comes from `shared_ui::service::bad_request`).

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use maud::{html, Markup};
use shared_ui::components::{self, PageOptions};

fn page(status: StatusCode, title: &str, body: Markup) -> HttpResponse {
    let html = components::page(
        &PageOptions::new(title),
        html! {
            main class="container" id="main" {
                h1 { (title) }
                (body)
                p { a href="/" { "Back to the preview" } }
            }
        },
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html.into_string())
}

/// 404 for `GET /fragments/{id}` with an id this service does not serve (escaped).
pub fn unknown_fragment(id: &str) -> HttpResponse {
    page(
        StatusCode::NOT_FOUND,
        "Fragment not found",
        html! {
            p { "svc-dashboard has no fragment called " code { (id) } ". It serves " code { "overview" } " and " code { "stats" } "." }
        },
    )
}

/// 500: says nothing internal (the log has the details and the request id).
pub fn internal() -> HttpResponse {
    page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        html! { p { "The dashboard service could not answer. Please try again in a moment." } },
    )
}
