//! The admin listener: a second socket of the same server ([`crate::server::Server::admin`]),
//! serving `GET /metrics` and the paths the binary lists in [`AdminPaths`] (the shell's
//! status page and its assets), nothing else. The shell uses it (`--admin-port` /
//! `ADMIN_PORT`): its public port never serves `/metrics` (it is the shell's 404 page
//! there), and its proxy never reaches a service's `/metrics` (no manifest may declare it,
//! and the proxy forwards declared paths only).
//!
//! [`split`] tells the two sockets apart by the local address each request came in on; a
//! binary guards its `/metrics` route with [`on_admin_port`]. A binary that serves more on
//! its admin port (the shell's dev loop notice, in `--dev` only) names those paths in an
//! [`AdminPaths`] in app data.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::guard::GuardContext;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse};

/// The admin listener's port, in app data.
#[derive(Debug, Clone, Copy)]
pub struct AdminPort(pub u16);

/// Paths besides `/metrics` that a binary serves on its admin port (app data): exact paths,
/// or prefixes when they end in `/` (and are not `/` itself).
#[derive(Debug, Clone, Copy)]
pub struct AdminPaths(pub &'static [&'static str]);

impl AdminPaths {
    /// Whether `path` is served on the admin port.
    pub fn serves(&self, path: &str) -> bool {
        path == "/metrics"
            || self.0.iter().any(|p| match p.strip_suffix('/') {
                Some(prefix) if !prefix.is_empty() => path.starts_with(p),
                _ => path == *p,
            })
    }
}

/// Marks a request that came in on the admin port (request extension).
#[derive(Debug, Clone, Copy)]
struct OnAdminPort;

/// Middleware: a request on the admin port is marked, and anything but `/metrics` (and the
/// [`AdminPaths`]) there is a plain 404; requests on the public port pass unchanged.
pub async fn split(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let admin = req
        .app_data::<web::Data<AdminPort>>()
        .is_some_and(|p| req.app_config().local_addr().port() == p.0);
    if !admin {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let paths = req
        .app_data::<web::Data<AdminPaths>>()
        .map_or(AdminPaths(&[]), |p| *p.get_ref());
    if !paths.serves(req.path()) {
        let res = HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body("Not on the admin port: it serves GET /metrics and its status pages.\n");
        return Ok(req.into_response(res).map_into_right_body());
    }
    req.extensions_mut().insert(OnAdminPort);
    Ok(next.call(req).await?.map_into_left_body())
}

/// Route guard: the request came in on the admin port.
pub fn on_admin_port(ctx: &GuardContext<'_>) -> bool {
    ctx.req_data().get::<OnAdminPort>().is_some()
}

#[cfg(test)]
mod tests {
    use super::AdminPaths;

    #[test]
    fn the_admin_port_serves_metrics_and_the_listed_paths_only() {
        let none = AdminPaths(&[]);
        assert!(none.serves("/metrics"));
        assert!(!none.serves("/"));
        let status = AdminPaths(&["/", "/assets/"]);
        assert!(status.serves("/") && status.serves("/assets/shell.css"));
        assert!(!status.serves("/dashboard") && !status.serves("/svc/pricing/x"));
    }
}
