//! Step 1: the request checked against the registry, before anything is sent.
//!
//! [`parse_target`] reads the service and the path from the RAW request path (syntax
//! only); [`Checked::new`] then asks the registry for the service and checks the method
//! and the query; [`Checked::ready`] makes sure the service's manifest is known and
//! [`Checked::permitted`] that it declares the path for this method. Every "no" is a
//! [`Refusal`] (or, for a service without a manifest, a [`ProxyError`]).

use std::sync::Arc;

use actix_web::http::Method;
use actix_web::HttpRequest;
use shared_ui::contract::is_safe_path;

use super::error::{PathRefusal, ProxyError, Refusal};
use crate::overrides::Lineup;
use crate::registry::Service;
use crate::settings::valid_name;
use crate::state::Shell;

/// Longest query string passed on, in bytes.
const MAX_QUERY_BYTES: usize = 2048;

/// What a proxied request asks for, once its path is parsed.
#[derive(Debug, PartialEq, Eq)]
pub struct Target<'a> {
    /// The service name.
    pub service: &'a str,
    /// The service-relative path.
    pub path: &'a str,
}

/// Splits and checks a raw request path `/svc/{service}/{path…}`. Only syntax is checked
/// here: the registry and the manifest come after.
pub fn parse_target(raw_path: &str) -> Result<Target<'_>, PathRefusal> {
    let Some(rest) = raw_path.strip_prefix("/svc/") else {
        return Err(PathRefusal::NotProxied);
    };
    let (service, tail) = rest.split_once('/').unwrap_or((rest, ""));
    if !valid_name(service) {
        return Err(PathRefusal::ServiceName {
            escaped: service.escape_default().to_string(),
        });
    }
    let path = &raw_path["/svc/".len() + service.len()..];
    if path.is_empty() || path == "/" {
        return Err(PathRefusal::NoPath {
            service: service.to_owned(),
        });
    }
    if !is_safe_path(path) || tail.is_empty() {
        return Err(PathRefusal::Unsafe);
    }
    Ok(Target { service, path })
}

/// A request checked against the registry: `GET`, `HEAD` or `POST`, to a registered
/// service, with a plain path and a plain query.
#[derive(Debug)]
pub struct Checked {
    /// `GET`, `HEAD` or `POST`.
    pub method: Method,
    /// The service.
    pub service: Arc<Service>,
    /// The service-relative path, as the client sent it.
    pub path: String,
    /// The query string, when there is a non-empty one.
    pub query: Option<String>,
}

impl Checked {
    /// Checks the method, the path (read from the raw URI: percent-escapes are not
    /// decoded, so `%2e%2e` or `%2f` cannot turn into something the checks did not see),
    /// the service (the browser's override of it, in `lineup`, if any) and the query, in
    /// that order.
    pub fn new(req: &HttpRequest, up: &Shell, lineup: &Lineup) -> Result<Self, Refusal> {
        let method = req.method().clone();
        if !matches!(method, Method::GET | Method::HEAD | Method::POST) {
            return Err(Refusal::Method);
        }
        let target = parse_target(req.uri().path())?;
        let Some(service) = up
            .registry
            .service_in(target.service, lineup.services())
            .cloned()
        else {
            return Err(Refusal::UnknownService {
                service: target.service.to_owned(),
            });
        };
        let query = match req.uri().query() {
            None | Some("") => None,
            Some(q) if is_plain_query(q) => Some(q.to_owned()),
            Some(_) => return Err(Refusal::Query),
        };
        Ok(Self {
            method,
            service,
            path: target.path.to_owned(),
            query,
        })
    }

    /// Whether this is a form post.
    pub fn is_post(&self) -> bool {
        self.method == Method::POST
    }

    /// The file, when this asks for one of the shared assets: those are the shell's own,
    /// whichever service's base path asks.
    pub fn shared_asset(&self) -> Option<&str> {
        if self.is_post() {
            return None;
        }
        self.path.strip_prefix("/assets/shared/")
    }

    /// Makes sure the service's manifest is known (read again now if it may be), since
    /// nothing can be checked without it.
    pub async fn ready(&self, up: &Shell) -> Result<(), ProxyError> {
        if self.service.manifest().is_none() && self.service.may_refresh() {
            self.service.refresh(&up.client()).await;
        }
        match self.service.manifest() {
            Some(_) => Ok(()),
            None => Err(ProxyError::NoManifest {
                service: self.service.name().to_owned(),
            }),
        }
    }

    /// Whether the manifest declares the path for this method (`POST`: an action; `GET`
    /// and `HEAD`: a fragment or asset), and the request is no service-worker script
    /// fetch. A browser navigating to an action (the reload of a form it posted with
    /// JavaScript off) passes: it is sent to the action's section next.
    pub fn permitted(&self, req: &HttpRequest, navigation: bool) -> Result<(), Refusal> {
        if self.reloads_action(navigation) {
            return Ok(());
        }
        let declared = if self.is_post() {
            self.service.declares_action(&self.path)
        } else {
            self.service.declares_get(&self.path)
        };
        if !declared {
            return Err(Refusal::Undeclared {
                escaped_path: self.path.escape_default().to_string(),
                service: self.service.name().to_owned(),
                action: self.is_post(),
            });
        }
        // No service may install a worker on the shell's origin.
        if req.headers().contains_key("service-worker") {
            return Err(Refusal::ServiceWorker);
        }
        Ok(())
    }

    /// Whether a browser navigates to a form action (no form post).
    pub fn reloads_action(&self, navigation: bool) -> bool {
        navigation && !self.is_post() && self.service.declares_action(&self.path)
    }

    /// The URL asked of the service: its base URL, the checked path and query.
    pub fn upstream_url(&self) -> String {
        let url = self.service.upstream(&self.path);
        match &self.query {
            Some(q) => format!("{url}?{q}"),
            None => url,
        }
    }
}

/// A query passed on as is: short, printable ASCII, no `#`.
fn is_plain_query(query: &str) -> bool {
    query.len() <= MAX_QUERY_BYTES && query.bytes().all(|b| b.is_ascii_graphic() && b != b'#')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_service_paths_pass() {
        assert_eq!(
            parse_target("/svc/pricing/fragments/plans").unwrap(),
            Target {
                service: "pricing",
                path: "/fragments/plans"
            }
        );
        for bad in [
            "/svc/pricing/%2e%2e/internal/session",
            "/svc/pricing/%252e%252e/x",
            "/svc/pricing/a%2fb",
            "/svc/pricing/http://evil.example/",
            "/svc/pricing/user@evil.example/x",
            "/svc/pricing/a\\b",
            "/svc/pricing/a%00",
            "/svc/pricing/../accounts/internal/session",
            "/svc/pricing//evil.example",
            "/svc/Pricing/fragments/plans",
            "/svc/pricing",
        ] {
            assert!(parse_target(bad).is_err(), "{bad} should be refused");
        }
    }
}
