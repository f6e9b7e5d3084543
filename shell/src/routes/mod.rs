//! Every route of the shell, listed in [`configure`]; handlers are thin: a page is
//! [`crate::compose`]'s work, a proxied request the proxy's.
//!
//! | route | handler |
//! | --- | --- |
//! | `GET`/`HEAD /`, `<section path>` | [`pages::section`]: the composed, streamed page |
//! | `/svc/{service}/{path…}` | [`proxy::proxy`]: the safe same-origin proxy |
//! | `GET /registry.json` | [`registry_json`]: the browser-facing registry |
//! | `GET`, `POST /_mosaic/overrides` | [`overrides`]: per-browser overrides (only when on) |
//! | `GET /assets/{file}` | [`assets`]: the loader and the shell's CSS |
//! | `GET /assets/shared/{file}`, `/healthz`, `/readyz` | `shared_ui::health::configure` |
//! | `GET /metrics`, on the admin port only | `shared_ui::metrics::serve` ([`shared_ui::admin`]) |
//! | `GET /_mosaic/dev/events`; `POST /_mosaic/dev/restarted` on the admin port (`--dev` only) | [`crate::dev`] |
//! | `GET /`, on the admin port only | [`status`]: the status page ([`crate::status`]) |
//! | anything else | [`pages::not_found`]: the 404 page inside the chrome |

pub mod overrides;
pub mod pages;
use crate::proxy;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::metrics::Overridden;
use crate::state::Shell;

/// Mounts every route. `sections` are the section paths (besides `/`); the overrides page
/// only when `overrides` are on (else its path is the 404 page); `dev` adds the dev loop's
/// routes ([`crate::dev::configure`]).
pub fn configure(cfg: &mut web::ServiceConfig, sections: &[String], overrides: bool, dev: bool) {
    if dev {
        cfg.configure(crate::dev::configure);
    }
    // The pages first: their paths are static, matched by comparison, while the routes
    // with parameters below are matched by regular expression, tried in order (three of
    // them, about 4,400 instructions a page, when the pages came last). A section cannot
    // take a path of those routes (settings::RESERVED), so the order changes nothing else.
    // On the admin port, `/` is the status page (the public port never serves it).
    let admin = || actix_web::guard::fn_guard(shared_ui::admin::on_admin_port);
    cfg.route("/", web::get().guard(admin()).to(status))
        .route("/", web::get().to(pages::section))
        .route("/", web::head().to(pages::section));
    for path in sections {
        cfg.route(path, web::get().to(pages::section))
            .route(path, web::head().to(pages::section));
    }
    cfg.configure(shared_ui::health::configure)
        .route(
            "/metrics",
            shared_ui::respond::read()
                .guard(admin())
                .to(shared_ui::metrics::serve),
        )
        .route("/registry.json", web::get().to(registry_json))
        .route("/assets/{file}", web::get().to(assets))
        .service(web::resource("/svc/{tail:.*}").to(proxy::proxy));
    if overrides {
        cfg.configure(self::overrides::configure);
    }
}

/// `GET /` on the admin port: the status page ([`crate::status`]).
pub async fn status(shell: web::Data<Shell>) -> HttpResponse {
    let report = crate::status::Report::gather(&shell.registry, &shell.metrics);
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(crate::status::page(&report).into_string())
}

/// `GET /assets/{file}`: the shell's own assets ([`crate::assets`]), `immutable` at their
/// hashed URLs.
pub async fn assets(req: HttpRequest, file: web::Path<String>) -> HttpResponse {
    crate::assets::shell_assets().respond(&req, &file)
}

/// `GET /registry.json`: sections, chrome, services (the article's `remoteEndpoints`), with
/// the browser's overrides in place of the services they override. Services whose manifest
/// is still unknown are asked again (in the background, spaced). Revalidated on every use
/// (`no-cache`) against a strong ETag of its bytes: a browser whose copy is current gets a
/// `304` with the same `Vary` as the `200`.
pub async fn registry_json(req: HttpRequest, shell: web::Data<Shell>) -> HttpResponse {
    for service in shell.registry.services() {
        if service.manifest().is_none() {
            service.notice_version(None);
        }
    }
    let lineup = shell.lineup(&req).await;
    for service in lineup.names() {
        shell.metrics.overridden(service, Overridden::Registry);
    }
    let body = shell
        .registry
        .browser_json_in(lineup.services())
        .to_string();
    validated(&req, body, "application/json")
}

/// A `no-cache` answer that varies by `Cookie`, with a strong ETag of `body`: `200`, or
/// `304` when `If-None-Match` names it.
fn validated(req: &HttpRequest, body: String, content_type: &'static str) -> HttpResponse {
    let etag = shared_ui::assets::etag_of(body.as_bytes());
    let hit = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| shared_ui::assets::if_none_match_hits(v, &etag));
    let mut builder = if hit {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    builder
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::VARY, "Cookie"))
        .insert_header((header::ETAG, etag));
    if !hit {
        return builder.content_type(content_type).body(body);
    }
    let mut res = builder.finish();
    shared_ui::compress::not_modified_vary(&mut res, content_type, body.len());
    res
}
