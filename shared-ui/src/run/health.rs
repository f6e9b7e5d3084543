//! Health, both ends: [`configure`] mounts `/healthz`, `/readyz` (which asks the
//! [`Readiness`] in app data, and answers 503 once the binary is stopping,
//! [`crate::server::Stopping`]) and the shared assets; [`healthcheck`] is the
//! `healthcheck` subcommand that probes `/healthz` from inside a container.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
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

/// Where the `healthcheck` subcommand knocks for a server bound to `bind:port`: that
/// address, or the loopback address of its family for a wildcard (`0.0.0.0` is probed at
/// `127.0.0.1`, `::` at `::1`), since a wildcard accepts there too.
pub fn probe_address(bind: IpAddr, port: u16) -> SocketAddr {
    let ip = match bind {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    };
    SocketAddr::new(ip, port)
}

/// The `healthcheck` subcommand: `GET /healthz` at [`probe_address`]`(bind, port)` with a
/// 2 s budget (a server bound to one address only, `BIND=10.0.0.5`, is not reached on
/// 127.0.0.1). Needs no shell or curl, so it works in a `scratch` image. Returns the process
/// exit code (success, or failure with the reason on stderr).
pub fn healthcheck(bind: IpAddr, port: u16) -> std::process::ExitCode {
    fn probe(addr: SocketAddr) -> std::io::Result<bool> {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes())?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        Ok(head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.0 200"))
    }
    let addr = probe_address(bind, port);
    match probe(addr) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("healthcheck: /healthz at {addr} did not answer 200");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("healthcheck: {addr}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_knocks_on_the_bound_address_and_on_loopback_for_a_wildcard() {
        let at = |bind: &str| probe_address(bind.parse().unwrap(), 4000).to_string();
        assert_eq!(at("0.0.0.0"), "127.0.0.1:4000");
        assert_eq!(at("::"), "[::1]:4000");
        assert_eq!(at("127.0.0.1"), "127.0.0.1:4000");
        assert_eq!(at("10.89.64.10"), "10.89.64.10:4000");
        assert_eq!(at("::1"), "[::1]:4000");
    }

    /// A server on 127.0.0.2 only (all of 127/8 is loopback on Linux): the probe of its
    /// `BIND` finds it; the old probe of 127.0.0.1 did not.
    #[test]
    fn a_server_bound_to_one_address_is_probed_there() {
        use std::net::TcpListener;
        let Ok(listener) = TcpListener::bind("127.0.0.2:0") else {
            return; // No 127.0.0.2 here (not Linux): nothing to show.
        };
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n")
                .unwrap();
        });
        let bound: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(healthcheck(bound, port), std::process::ExitCode::SUCCESS);
        server.join().unwrap();
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(
            healthcheck(loopback, port),
            std::process::ExitCode::FAILURE,
            "nothing listens on 127.0.0.1 at that port"
        );
    }
}
