//! The dev loop (`--dev` only; `cargo run -p launcher -- --watch` starts the shell so): a
//! team's page updates in open browsers without a reload when the launcher restarts the
//! team after a save.
//!
//! - `POST /_mosaic/dev/restarted?service=NAME`, on the admin port only: the launcher says
//!   a team restarted (its new process accepts connections). The shell reads that team's
//!   manifest again, forgets the cached fragments, and tells every open page. 204; 404 for
//!   a service it does not know.
//! - `GET /_mosaic/dev/events`: server-sent events. Each restart is one
//!   `event: restarted` whose data is the service's name; the loader
//!   (`assets/fragment-loader.js`) then fetches that service's fragments on the page again.
//!   A comment every [`KEEP_ALIVE`] keeps proxies from closing the stream, and the stream
//!   ends when the shell is stopping, so it never holds a shutdown up.
//!
//! Without `--dev` neither route exists (404) and pages carry no
//! `data-fragment-loader-dev-events-value`, so the loader opens no stream.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use bytes::Bytes;
use serde::Deserialize;
use shared_ui::server::Stopping;
use tokio::sync::broadcast;

use crate::state::Shell;

pub use crate::settings::{DEV_EVENTS_PATH as EVENTS_PATH, DEV_RESTARTED_PATH as RESTARTED_PATH};
/// How often an idle stream gets a comment (and notices that the shell is stopping).
pub const KEEP_ALIVE: Duration = Duration::from_secs(2);

/// The restart notices, fanned out to every open event stream.
#[derive(Debug)]
pub struct DevEvents {
    restarted: broadcast::Sender<String>,
}

impl Default for DevEvents {
    fn default() -> Self {
        Self {
            restarted: broadcast::channel(16).0,
        }
    }
}

/// Mounts the dev routes (only called in `--dev`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(EVENTS_PATH, web::get().to(events)).route(
        RESTARTED_PATH,
        web::post()
            .guard(actix_web::guard::fn_guard(shared_ui::admin::on_admin_port))
            .to(restarted),
    );
}

/// The query of a restart notice.
#[derive(Debug, Deserialize)]
pub struct Restarted {
    /// The service that restarted.
    service: String,
}

/// `POST /_mosaic/dev/restarted?service=NAME` (admin port).
async fn restarted(
    shell: web::Data<Shell>,
    dev: web::Data<DevEvents>,
    query: web::Query<Restarted>,
) -> HttpResponse {
    let Some(service) = shell.registry.service(&query.service) else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body(format!(
                "no service called {:?} is registered",
                query.service
            ));
    };
    // The new process may declare another version, fragments or assets.
    service.refresh(&shell.client()).await;
    shell.composer.forget_fragments();
    let pages = dev.restarted.send(service.name().to_owned()).unwrap_or(0);
    tracing::info!(service = %service.name(), pages, "dev: a team restarted; open pages told");
    HttpResponse::NoContent().finish()
}

/// `GET /_mosaic/dev/events`: the restart notices as server-sent events.
async fn events(dev: web::Data<DevEvents>, stopping: web::Data<Stopping>) -> HttpResponse {
    let stream = EventStream {
        restarted: dev.restarted.subscribe(),
        tick: tokio::time::interval(KEEP_ALIVE),
        stopping: stopping.get_ref().clone(),
    };
    let body = futures_util::stream::unfold(stream, |mut stream| async move {
        let chunk = stream.next().await?;
        Some((Ok::<_, std::convert::Infallible>(chunk), stream))
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        // no-transform: the compression middleware leaves it alone, so events leave at once.
        .insert_header((header::CACHE_CONTROL, "no-cache, no-transform"))
        .streaming(body)
}

/// One open event stream.
struct EventStream {
    restarted: broadcast::Receiver<String>,
    tick: tokio::time::Interval,
    stopping: Stopping,
}

impl EventStream {
    /// The next chunk to send; `None` ends the stream (the shell is stopping).
    async fn next(&mut self) -> Option<Bytes> {
        tokio::select! {
            notice = self.restarted.recv() => match notice {
                Ok(service) => Some(Bytes::from(format!("event: restarted\ndata: {service}\n\n"))),
                // Missed notices: tell the page to reload whatever it shows.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    Some(Bytes::from_static(b"event: restarted\ndata: *\n\n"))
                }
                Err(broadcast::error::RecvError::Closed) => None,
            },
            _ = self.tick.tick() => {
                (!self.stopping.is_set()).then(|| Bytes::from_static(b": keep-alive\n\n"))
            }
        }
    }
}
