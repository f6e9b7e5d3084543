//! Per-browser overrides: one browser sees its team's working copy of a service in the
//! shared site, everyone else the registered one (`--allow-overrides`, `docs/DESIGN.md`).
//!
//! A browser's choices live in a signed, expiring cookie ([`cookie`]). For each request,
//! [`Overrides::for_request`] is the one function the routes, the composer and the proxy ask:
//! it gives the [`Lineup`], the services this browser uses instead of registered ones
//! (empty when overrides are off, for a browser without the cookie, and for a cookie that is
//! forged, expired or names what this shell does not allow). Every choice is checked again
//! on every request ([`Overrides::check`]), so a cookie signed by another shell with the same
//! secret but other rules brings nothing this shell refuses.
//!
//! An overriding service is a [`Service`] of its own ([`Service::overriding`]): its manifest
//! is read and validated like any other and must name the service; it is kept per URL for
//! [`SERVICE_TTL`] in a bounded cache apart from the registry; its fragments never enter
//! the shared fragment cache nor stand in as last good copies; it never receives cookies.
//!
//! - [`cookie`]: the signed cookie.
//! - [`error`]: [`Refusal`], each a 4xx page.
//! - [`views`]: the overrides page, the confirmation of a shared link, the banner.
//!
//! Layer: below the composer and the proxy, above the registry and the settings.

pub mod cookie;
pub mod error;
pub mod views;

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::HttpRequest;
use shared_ui::settings::Secret;

pub use self::error::Refusal;
use crate::hosts::HostPatterns;
use crate::registry::{Registry, Service};

/// Where the overrides page is served (only when overrides are on).
pub const PATH: &str = "/_mosaic/overrides";
/// How long an overriding service (and its manifest) is kept before it is read again.
pub const SERVICE_TTL: Duration = Duration::from_secs(10);
/// Overriding services kept at once; the least used leave first.
pub const MAX_SERVICES: u64 = 256;
/// The longest override URL accepted.
pub const MAX_URL_BYTES: usize = 200;

/// A checked choice: a registered service other than the session service, and the origin of
/// an allowed host that stands in for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The registered service's name.
    pub service: String,
    /// The origin that stands in for it (`http://localhost:1314`).
    pub url: String,
}

/// The services one request uses instead of registered ones; empty for most.
#[derive(Debug, Clone, Default)]
pub struct Lineup {
    services: Vec<Arc<Service>>,
}

impl Lineup {
    /// The overriding services.
    pub fn services(&self) -> &[Arc<Service>] {
        &self.services
    }

    /// Whether nothing is overridden.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    /// Whether `service` is overridden.
    pub fn overrides(&self, service: &str) -> bool {
        self.services.iter().any(|s| s.name() == service)
    }

    /// The overridden services' names.
    pub fn names(&self) -> Vec<&str> {
        self.services.iter().map(|s| s.name()).collect()
    }

    /// The span that marks this request's log lines (`overridden{services=pricing}`), or
    /// none when nothing is overridden.
    pub fn span(&self) -> tracing::Span {
        if self.is_empty() {
            return tracing::Span::none();
        }
        tracing::info_span!("overridden", services = %self.names().join(","))
    }
}

/// The overrides of one shell: its rules, its key and the overriding services in use.
#[derive(Debug)]
pub struct Overrides {
    registry: Arc<Registry>,
    key: cookie::CookieKey,
    services: moka::sync::Cache<String, Arc<Service>>,
}

impl Overrides {
    /// The overrides of `registry`'s shell, signed with the context secret.
    pub fn new(registry: Arc<Registry>, secret: Secret) -> Self {
        Self {
            registry,
            key: cookie::CookieKey::new(secret),
            services: moka::sync::Cache::builder()
                .max_capacity(MAX_SERVICES)
                .time_to_live(SERVICE_TTL)
                .build(),
        }
    }

    /// Whether overrides are on (`--allow-overrides` lists a host, or `--dev`).
    pub fn is_enabled(&self) -> bool {
        self.hosts().is_enabled()
    }

    fn hosts(&self) -> &HostPatterns {
        &self.registry.config.allow_overrides
    }

    /// The services this request uses instead of registered ones, their manifests read
    /// when not known yet (waiting at most the fragment timeout: a read that takes longer
    /// goes on in the background, and the service's slots fall back meanwhile). Empty when
    /// overrides are off, whatever cookie comes.
    pub async fn for_request(&self, req: &HttpRequest) -> Lineup {
        if !self.is_enabled() {
            return Lineup::default();
        }
        let services: Vec<Arc<Service>> = self
            .chosen(req)
            .into_iter()
            .map(|choice| self.service(&choice))
            .collect();
        let reads: Vec<_> = services
            .iter()
            .filter(|s| s.manifest().is_none() && s.may_refresh())
            .map(|s| {
                let (service, client) = (Arc::clone(s), crate::client::http());
                tokio::spawn(async move { service.refresh(&client).await })
            })
            .collect();
        if !reads.is_empty() {
            let wait = self.registry.config.fragment_timeout;
            let _ = tokio::time::timeout(wait, futures_util::future::join_all(reads)).await;
        }
        Lineup { services }
    }

    /// The overriding service of a choice, kept for [`SERVICE_TTL`].
    fn service(&self, choice: &Choice) -> Arc<Service> {
        let key = format!("{}\n{}", choice.service, choice.url);
        self.services.get_with(key, || {
            Arc::new(Service::overriding(&choice.service, &choice.url))
        })
    }

    /// The checked choices of the request's cookie: the first value that is ours, each
    /// pair checked again, one per service (the last wins).
    pub fn chosen(&self, req: &HttpRequest) -> Vec<Choice> {
        if !self.is_enabled() {
            return Vec::new();
        }
        let Some(header) = req
            .headers()
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok())
        else {
            return Vec::new();
        };
        let Some(pairs) = cookie::values(header).find_map(|v| self.key.open(v)) else {
            return Vec::new();
        };
        let mut choices: Vec<Choice> = Vec::new();
        for (service, url) in pairs {
            match self.check(&service, &url) {
                Ok(choice) => {
                    choices.retain(|c| c.service != choice.service);
                    choices.push(choice);
                }
                Err(why) => tracing::info!(%why, "an override of the cookie is not allowed here"),
            }
        }
        choices
    }

    /// Checks a choice: a registered service that is not the session service, and an
    /// http(s) origin (no credentials, path, query or fragment) on an allowed host.
    pub fn check(&self, service: &str, url: &str) -> Result<Choice, Refusal> {
        let registered = self
            .registry
            .service(service)
            .ok_or_else(|| Refusal::UnknownService(service.escape_default().to_string()))?;
        if self.registry.is_session_service(registered) {
            return Err(Refusal::SessionService(service.to_owned()));
        }
        let url = url.trim();
        if url.len() > MAX_URL_BYTES {
            return Err(Refusal::TooLong(MAX_URL_BYTES));
        }
        let parsed: shared_ui::contract::ServiceUrl = url.parse()?;
        // ServiceUrl has checked the scheme, the host, credentials, query and fragment.
        let whole = url::Url::parse(url).map_err(|_| Refusal::Missing("a URL"))?;
        let host = whole.host().ok_or(Refusal::Missing("a URL with a host"))?;
        if !self.hosts().allows(&host) {
            return Err(Refusal::HostNotAllowed(host.to_string()));
        }
        let origin = parsed.origin();
        if parsed.as_str() != origin {
            return Err(Refusal::Path(url.escape_default().to_string()));
        }
        Ok(Choice {
            service: service.to_owned(),
            url: origin,
        })
    }

    /// The cookie value holding `choices`.
    pub fn seal(&self, choices: &[Choice]) -> String {
        let pairs: Vec<(String, String)> = choices
            .iter()
            .map(|c| (c.service.clone(), c.url.clone()))
            .collect();
        self.key.seal(&pairs)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::settings::Settings;

    fn overrides(allow: &str) -> Overrides {
        let settings = Settings::try_parse_from(["shell", "--allow-overrides", allow]).unwrap();
        let config = settings.resolve().unwrap();
        let secret = config.common.context_secret.clone();
        Overrides::new(Arc::new(Registry::new(config)), secret)
    }

    #[test]
    fn only_origins_on_allowed_hosts_for_registered_services_other_than_the_session_one() {
        let o = overrides("localhost,*.dev.example");
        assert_eq!(
            o.check("pricing", "http://localhost:1314/").unwrap().url,
            "http://localhost:1314"
        );
        assert!(o.check("dashboard", "https://me.dev.example").is_ok());
        for (service, url, says) in [
            ("nope", "http://localhost:1", "no service called `nope`"),
            ("accounts", "http://localhost:1", "session service"),
            (
                "pricing",
                "http://127.0.0.1:1",
                "not a host this site allows",
            ),
            (
                "pricing",
                "http://evil.example",
                "not a host this site allows",
            ),
            (
                "pricing",
                "http://localhost:1@evil.example",
                "user name or password",
            ),
            ("pricing", "http://u:p@localhost:1", "user name or password"),
            ("pricing", "file:///etc/passwd", "http:// or https://"),
            ("pricing", "gopher://localhost:70/", "http:// or https://"),
            ("pricing", "http://localhost:1/fragments", "has a path"),
            ("pricing", "http://localhost:1/?a", "query or fragment"),
            (
                "pricing",
                "http://localhost:1#@evil.example",
                "query or fragment",
            ),
            ("pricing", "localhost:1", "http:// or https://"),
            ("pricing", "", "not a URL"),
        ] {
            let err = o.check(service, url).unwrap_err().to_string();
            assert!(err.contains(says), "{service} {url}: {err}");
        }
    }
}
