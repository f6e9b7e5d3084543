//! Health, both ends: [`configure`] mounts `/healthz`, `/readyz` (which asks the
//! [`Readiness`] in app data, and answers 503 once the binary is stopping,
//! [`crate::server::Stopping`]) and the shared assets; [`healthcheck`] is the
//! `healthcheck` subcommand that probes `/healthz` from inside a container.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpResponse};

use crate::respond::read;
use crate::server::Stopping;

/// Readiness check registered as app data; `/readyz` is 200 when it returns `Ok`.
#[derive(Clone)]
pub struct Readiness(pub Arc<dyn Fn() -> Result<(), String> + Send + Sync>);

impl Readiness {
    /// Always ready.
    pub fn always() -> Self {
        Self(Arc::new(|| Ok(())))
    }
}

/// Mounts `/healthz`, `/readyz` and the shared assets (`/assets/shared/…`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", read().to(healthz))
        .route("/readyz", read().to(readyz))
        .route(
            "/assets/shared/{file}",
            read().to(crate::assets::serve_shared),
        );
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/plain; charset=utf-8")
        .body("ok\n")
}

async fn readyz(
    readiness: Option<web::Data<Readiness>>,
    stopping: Option<web::Data<Stopping>>,
) -> HttpResponse {
    let result = if stopping.is_some_and(|s| s.is_set()) {
        Err("stopping".to_owned())
    } else {
        readiness.map_or(Ok(()), |r| (r.0)())
    };
    let builder = match result {
        Ok(()) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ready\n"),
        Err(why) => {
            tracing::warn!(%why, "not ready");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body(format!("not ready: {why}\n"))
        }
    };
    let mut res = builder;
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The `healthcheck` subcommand: `GET /healthz` on 127.0.0.1:`port` with a 2 s budget.
/// Needs no shell or curl, so it works in a `scratch` image. Returns the process exit code
/// (success, or failure with the reason on stderr).
pub fn healthcheck(port: u16) -> std::process::ExitCode {
    fn probe(port: u16) -> std::io::Result<bool> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        Ok(head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.0 200"))
    }
    match probe(port) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("healthcheck: /healthz on port {port} did not answer 200");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("healthcheck: port {port}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
