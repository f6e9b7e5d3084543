//! The last good copy of each service's declared assets (the stylesheets and controller
//! modules of its manifest): what the proxy answers for `/svc/{service}/assets/…` when the
//! service is down, too slow or answers 5xx, so a page whose team is down still looks like
//! itself.
//!
//! One copy per service and path, the newest: it carries the manifest version and the
//! `ETag` it came with, and an answer with another version or another `ETag` replaces it
//! (one with the same two is not stored again). The copies live in memory, bounded by
//! bytes (`--asset-cache-mib`, 8 MiB by default; 0 keeps none; the least used go first).
//! They come from the proxy's good answers ([`AssetCache::keep`]) and from [`warm`], which
//! fetches a service's declared assets in the background whenever its manifest changes, so
//! that a copy exists before the first failure. A copy is served as it came (its
//! `Content-Type`, `ETag` and `Last-Modified`, a 304 to a matching `If-None-Match`), with
//! `Cache-Control: no-cache` and `x-mf-status: cached` ([`StoredAsset::respond`]).
//!
//! Layer: above the registry, the HTTP client and the metrics; the proxy and the start-up
//! use it.

pub mod warm;

use std::sync::Arc;

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;
use shared_ui::assets::{content_type, if_none_match_hits};

use crate::metrics::ShellMetrics;
use crate::registry::Service;
use crate::slot::{Status, STATUS_HEADER};

/// A copy of one asset, as the service sent it.
#[derive(Debug)]
pub struct StoredAsset {
    /// The manifest version the service had when it sent it.
    pub version: String,
    /// Its `ETag`, when the service sent one.
    pub etag: Option<String>,
    /// Its `Last-Modified`, when the service sent one.
    pub last_modified: Option<String>,
    /// Its `Content-Type` (from the file name when the service sent none).
    pub content_type: String,
    /// The bytes.
    pub body: Bytes,
}

impl StoredAsset {
    /// The copy from a service's answer: its headers and body.
    fn from_answer(
        version: &str,
        path: &str,
        headers: &reqwest::header::HeaderMap,
        body: Bytes,
    ) -> Self {
        let text = |name| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Self {
            version: version.to_owned(),
            etag: text(reqwest::header::ETAG),
            last_modified: text(reqwest::header::LAST_MODIFIED),
            content_type: text(reqwest::header::CONTENT_TYPE)
                .unwrap_or_else(|| content_type(path).to_owned()),
            body,
        }
    }

    /// The copy as an answer: 304 when `If-None-Match` names its `ETag`, else 200 with the
    /// body; its validators and type, `Cache-Control: no-cache` (the browser asks again
    /// once the service is back) and `x-mf-status: cached`.
    pub fn respond(&self, req: &HttpRequest) -> HttpResponse {
        let hit = self.etag.as_deref().is_some_and(|etag| {
            req.headers()
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| if_none_match_hits(v, etag))
        });
        let mut res = if hit {
            HttpResponse::NotModified().finish()
        } else {
            HttpResponse::Ok().body(self.body.clone())
        };
        let headers = res.headers_mut();
        let mut set = |name: HeaderName, value: Option<&str>| {
            if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
                headers.insert(name, v);
            }
        };
        set(header::ETAG, self.etag.as_deref());
        set(header::LAST_MODIFIED, self.last_modified.as_deref());
        set(header::CACHE_CONTROL, Some("no-cache"));
        set(
            HeaderName::from_static(STATUS_HEADER),
            Some(Status::Cached.as_str()),
        );
        if !hit {
            set(header::CONTENT_TYPE, Some(&self.content_type));
        }
        res
    }

    /// Bytes it holds, roughly (for the cache's bound).
    fn weight(&self) -> usize {
        self.body.len()
            + self.version.len()
            + self.content_type.len()
            + self.etag.as_ref().map_or(0, String::len)
            + self.last_modified.as_ref().map_or(0, String::len)
    }
}

/// Whether `path` is a stylesheet or a controller module that `service`'s manifest
/// declares.
pub fn is_declared_asset(service: &Service, path: &str) -> bool {
    service.manifest().is_some_and(|m| {
        m.assets.css.iter().any(|c| c == path)
            || m.assets.controllers.iter().any(|c| c.module == path)
    })
}

/// Where a copy came from (the `source` of `shell_asset_copies_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The background warming ([`warm`]).
    Warm,
    /// A good answer the proxy relayed.
    Proxy,
}

impl Source {
    fn label(self) -> &'static str {
        match self {
            Source::Warm => "warm",
            Source::Proxy => "proxy",
        }
    }
}

/// The last good copies, by service and path, bounded by bytes.
#[derive(Debug)]
pub struct AssetCache {
    entries: moka::sync::Cache<String, Arc<StoredAsset>>,
    max_bytes: u64,
    metrics: Arc<ShellMetrics>,
}

impl AssetCache {
    /// An empty cache that holds at most `max_bytes` (0: holds nothing).
    pub fn new(max_bytes: u64, metrics: Arc<ShellMetrics>) -> Self {
        let entries = moka::sync::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|key: &String, asset: &Arc<StoredAsset>| {
                u32::try_from(key.len() + asset.weight()).unwrap_or(u32::MAX)
            })
            .build();
        Self {
            entries,
            max_bytes,
            metrics,
        }
    }

    /// Whether it keeps anything at all.
    pub fn enabled(&self) -> bool {
        self.max_bytes > 0
    }

    /// Keeps a service's good answer (200) for one of its declared assets, unless the copy
    /// held already has the same manifest version and `ETag`. Returns whether it stored it.
    pub fn keep(
        &self,
        source: Source,
        service: &Service,
        path: &str,
        answer: (&reqwest::header::HeaderMap, &Bytes),
    ) -> bool {
        let (headers, body) = answer;
        let Some(manifest) = service.manifest() else {
            return false;
        };
        if !self.enabled() || !is_declared_asset(service, path) {
            return false;
        }
        let copy = StoredAsset::from_answer(&manifest.version, path, headers, body.clone());
        let key = key(service.name(), path);
        let same = self.entries.get(&key).is_some_and(|held| {
            held.version == copy.version && held.etag.is_some() && held.etag == copy.etag
        });
        if !same {
            self.entries.insert(key, Arc::new(copy));
            self.metrics.asset_copied(service.name(), source.label());
        }
        !same
    }

    /// The last good copy of `path` of `service`, if one is held.
    pub fn last_good(&self, service: &str, path: &str) -> Option<Arc<StoredAsset>> {
        self.entries.get(&key(service, path))
    }
}

/// The key of one asset: the service and the path.
fn key(service: &str, path: &str) -> String {
    format!("{service}\n{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(etag: &str) -> reqwest::header::HeaderMap {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("etag", etag.parse().unwrap());
        headers.insert("content-type", "text/css; charset=utf-8".parse().unwrap());
        headers
    }

    #[test]
    fn a_copy_answers_with_its_validators_and_a_304_to_a_matching_etag() {
        let copy = StoredAsset::from_answer("7", "/assets/a.css", &answer("\"e1\""), "p{}".into());
        let req = actix_web::test::TestRequest::default().to_http_request();
        let res = copy.respond(&req);
        assert_eq!(res.status(), 200);
        let header = |name: &str| res.headers().get(name).unwrap().to_str().unwrap();
        assert_eq!(header("content-type"), "text/css; charset=utf-8");
        assert_eq!(header("etag"), "\"e1\"");
        assert_eq!(header(STATUS_HEADER), "cached");
        let req = actix_web::test::TestRequest::default()
            .insert_header(("if-none-match", "W/\"e1\""))
            .to_http_request();
        assert_eq!(copy.respond(&req).status(), 304);
    }

    #[test]
    fn a_copy_without_a_type_gets_one_from_its_name() {
        let headers = reqwest::header::HeaderMap::new();
        let copy = StoredAsset::from_answer("1", "/assets/x.js", &headers, Bytes::new());
        assert_eq!(copy.content_type, "text/javascript; charset=utf-8");
        assert_eq!(copy.etag, None);
    }
}
