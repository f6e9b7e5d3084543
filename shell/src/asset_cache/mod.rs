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
//! `Cache-Control: no-cache` and `x-mf-status: cached` ([`StoredAsset::respond`]); to a
//! request whose `?v=` is the content hash of the copy's bytes, `immutable` instead.
//!
//! Copies are keyed by the asset's path without its content hash (a manifest lists
//! `/assets/a.css?v=<hash>`, [`shared_ui::contract::split_asset_url`]), so a page still open
//! from before a deploy gets the newest copy. [`vouched_cache_control`] is the rule the
//! proxy applies to every asset answer it relays: a year-long cache only for bytes that
//! match the hash in the URL.
//!
//! Layer: above the registry, the HTTP client and the metrics; the proxy and the start-up
//! use it.

pub mod warm;

use std::sync::Arc;

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;
use shared_ui::assets::{content_type, if_none_match_hits, IMMUTABLE};
use shared_ui::contract::{asset_path, content_hash, requested_hash};

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
    /// The content hash of the bytes ([`content_hash`]).
    pub hash: String,
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
            hash: content_hash(&body),
            body,
        }
    }

    /// The copy as an answer: 304 when `If-None-Match` names its `ETag`, else 200 with the
    /// body; its validators and type, `Cache-Control: no-cache` (the browser asks again
    /// once the service is back; `immutable` when the request's `?v=` is the hash of these
    /// very bytes) and `x-mf-status: cached`.
    pub fn respond(&self, req: &HttpRequest) -> HttpResponse {
        let cache_control = if requested_hash(req.query_string()) == Some(self.hash.as_str()) {
            IMMUTABLE
        } else {
            "no-cache"
        };
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
        set(header::CACHE_CONTROL, Some(cache_control));
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

/// Whether `path` (with or without a content hash) is a stylesheet or a controller module
/// that `service`'s manifest declares.
pub fn is_declared_asset(service: &Service, path: &str) -> bool {
    let path = asset_path(path);
    service.manifest().is_some_and(|m| {
        m.assets.css.iter().any(|c| asset_path(c) == path)
            || m.assets
                .controllers
                .iter()
                .any(|c| asset_path(&c.module) == path)
    })
}

/// What the proxy must send instead of a relayed asset answer's own `Cache-Control`, if
/// anything: for a request whose `?v=` is a content hash, `no-cache` unless the bytes are
/// known to be the ones that hash names: a `200`'s own `body`, or for a body-less answer
/// (a `304`, a `HEAD`: `body` is `None`) the held `copy` with the answer's `etag`. A service that says `immutable`
/// for other bytes (a stale hash, a bug) thus never gets a browser to keep them for a year.
/// `None`: keep the service's header (no hash asked, or the bytes match).
pub fn vouched_cache_control(
    query: Option<&str>,
    body: Option<&[u8]>,
    etag: Option<&str>,
    copy: Option<&StoredAsset>,
) -> Option<&'static str> {
    let wanted = requested_hash(query?)?;
    let matches = match body {
        Some(body) => content_hash(body) == wanted,
        None => {
            copy.is_some_and(|c| c.hash == wanted && c.etag.is_some() && c.etag.as_deref() == etag)
        }
    };
    (!matches).then_some("no-cache")
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
        let path = asset_path(path);
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

    /// The last good copy of `path` of `service` (with or without a content hash), if one
    /// is held.
    pub fn last_good(&self, service: &str, path: &str) -> Option<Arc<StoredAsset>> {
        self.entries.get(&key(service, asset_path(path)))
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
    fn a_copy_is_immutable_only_for_the_hash_of_its_own_bytes() {
        let copy = StoredAsset::from_answer("7", "/assets/a.css", &answer("\"e1\""), "p{}".into());
        let cache_control = |uri: &str| {
            let req = actix_web::test::TestRequest::get()
                .uri(uri)
                .to_http_request();
            let res = copy.respond(&req);
            res.headers()
                .get("cache-control")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        };
        let current = format!("/svc/x/assets/a.css?v={}", content_hash(b"p{}"));
        assert_eq!(cache_control(&current), IMMUTABLE);
        assert_eq!(
            cache_control("/svc/x/assets/a.css?v=0123456789abcdef"),
            "no-cache"
        );
        assert_eq!(cache_control("/svc/x/assets/a.css"), "no-cache");
    }

    #[test]
    fn a_relayed_answer_keeps_a_long_cache_only_for_matching_bytes() {
        let body: &[u8] = b"p{}";
        let good = format!("v={}", content_hash(body));
        let stale = "v=0123456789abcdef";
        assert_eq!(vouched_cache_control(None, Some(body), None, None), None);
        assert_eq!(
            vouched_cache_control(Some(&good), Some(body), None, None),
            None
        );
        let mismatch = vouched_cache_control(Some(stale), Some(body), None, None);
        assert_eq!(mismatch, Some("no-cache"));
        // A 304 has no body: only a held copy with its ETag vouches for it.
        let etag = Some("\"e1\"");
        assert_eq!(
            vouched_cache_control(Some(&good), None, etag, None),
            Some("no-cache")
        );
        let copy = StoredAsset::from_answer(
            "7",
            "/assets/a.css",
            &answer("\"e1\""),
            body.to_vec().into(),
        );
        assert_eq!(
            vouched_cache_control(Some(&good), None, etag, Some(&copy)),
            None
        );
        let other = Some("\"e2\"");
        assert_eq!(
            vouched_cache_control(Some(&good), None, other, Some(&copy)),
            Some("no-cache")
        );
    }

    #[test]
    fn a_copy_without_a_type_gets_one_from_its_name() {
        let headers = reqwest::header::HeaderMap::new();
        let copy = StoredAsset::from_answer("1", "/assets/x.js", &headers, Bytes::new());
        assert_eq!(copy.content_type, "text/javascript; charset=utf-8");
        assert_eq!(copy.etag, None);
    }
}
