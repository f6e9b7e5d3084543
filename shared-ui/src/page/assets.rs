//! Embedded static assets, served with a strong ETag, an honest `Cache-Control` and 304s.
//!
//! Every asset has a content hash ([`crate::contract::content_hash`], computed once when
//! its [`AssetSet`] is built), and every URL a page, a manifest or the import map gives for
//! it carries that hash: [`AssetSet::url`] is `/assets/name.css?v=<hash>`. A request whose
//! `v` is the current hash gets `Cache-Control: public, max-age=31536000, immutable`, so a
//! browser never asks again; one with another `v` or none (a page still open from before a
//! deploy, an old bookmark) gets the current bytes with the asset's own policy (`no-cache`,
//! revalidated by ETag): never a 404, never a year-long cache for bytes that do not match
//! the hash in the URL.
//!
//! Shared assets (under `/assets/shared/`): the design tokens and base styles
//! ([`SHARED_CSS_URL`]), the vendored Stimulus runtime ([`STIMULUS_URL`], versioned name,
//! cached for a year even without the hash) and the boot module ([`BOOT_URL`]) that starts
//! Stimulus and registers the controllers a page lists; [`shared_url`] gives each with its
//! hash. A service serves its own assets with an [`AssetSet`].

use std::collections::HashMap;
use std::sync::OnceLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use crate::contract::{content_hash, requested_hash};

/// The recorded sha256 of the vendored `@hotwired/stimulus` 3.2.2 `dist/stimulus.js`.
pub const STIMULUS_SHA256: &str =
    "23deecdac6f36c08e8f39fbed6b27f60c850cacad3a34eb71194462b7b1647f3";
/// Where every service and the shell serve Stimulus; the import map points here.
pub const STIMULUS_URL: &str = "/assets/shared/stimulus-3.2.2.js";
/// The shared stylesheet.
pub const SHARED_CSS_URL: &str = "/assets/shared/shared.css";
/// The boot module (starts Stimulus, registers listed controllers).
pub const BOOT_URL: &str = "/assets/shared/boot.js";
/// The shared icon (so browsers do not ask for `/favicon.ico`).
pub const FAVICON_URL: &str = "/assets/shared/favicon.svg";
/// Where the shared assets are served.
pub const SHARED_PREFIX: &str = "/assets/shared/";
/// The import map's name of the boot module, so a module that imports it (the shell's
/// loader) gets the very module instance the page started, at its hashed URL.
pub const BOOT_SPECIFIER: &str = "@mosaic/boot";
/// `Cache-Control` of an answer whose URL carries the asset's current content hash.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

const STIMULUS_JS: &[u8] = include_bytes!("../../assets/vendor/stimulus-3.2.2.js");
const SHARED_CSS: &[u8] = include_bytes!("../../assets/shared.css");
const BOOT_JS: &[u8] = include_bytes!("../../assets/boot.js");

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// File name under the asset prefix (`pricing-toggle.js`).
    pub name: &'static str,
    /// The bytes.
    pub body: &'static [u8],
    /// `Cache-Control` to send when the URL does not carry the current content hash (with
    /// it, [`IMMUTABLE`]).
    pub cache_control: &'static str,
}

impl Asset {
    /// An asset revalidated on every use (cheap with the ETag) unless its URL carries its
    /// content hash: for unversioned names.
    pub const fn revalidated(name: &'static str, body: &'static [u8]) -> Self {
        Self {
            name,
            body,
            cache_control: "public, no-cache",
        }
    }
    /// An asset whose name carries its version: cached for a year, hash or no hash.
    pub const fn immutable(name: &'static str, body: &'static [u8]) -> Self {
        Self {
            name,
            body,
            cache_control: IMMUTABLE,
        }
    }
}

struct Entry {
    asset: Asset,
    etag: String,
    hash: String,
    content_type: &'static str,
}

/// A set of embedded assets, looked up by file name.
pub struct AssetSet {
    entries: HashMap<&'static str, Entry>,
}

impl std::fmt::Debug for AssetSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.entries.keys()).finish()
    }
}

/// The content type for a file name.
pub fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("txt" | "md") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The strong ETag of some bytes.
pub fn etag_of(body: &[u8]) -> String {
    format!("\"{}\"", &hex::encode(Sha256::digest(body))[..20])
}

/// Whether an `If-None-Match` header value matches `etag` (weak comparison, lists, `*`).
pub fn if_none_match_hits(value: &str, etag: &str) -> bool {
    value.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

impl AssetSet {
    /// Indexes the assets, computing their ETags and content hashes once.
    pub fn new(assets: &[Asset]) -> Self {
        let entries = assets
            .iter()
            .map(|a| {
                (
                    a.name,
                    Entry {
                        asset: *a,
                        etag: etag_of(a.body),
                        hash: content_hash(a.body),
                        content_type: content_type(a.name),
                    },
                )
            })
            .collect();
        Self { entries }
    }

    /// The ETag of an asset, for links that want to fingerprint it.
    pub fn etag(&self, name: &str) -> Option<&str> {
        self.entries.get(name).map(|e| e.etag.as_str())
    }

    /// The content hash of an asset ([`content_hash`]).
    pub fn hash(&self, name: &str) -> Option<&str> {
        self.entries.get(name).map(|e| e.hash.as_str())
    }

    /// The URL of `name` under `prefix`, carrying its content hash:
    /// `url("/assets/", "a.css")` is `/assets/a.css?v=<hash>`; an unknown name gets no hash.
    pub fn url(&self, prefix: &str, name: &str) -> String {
        match self.hash(name) {
            Some(hash) => format!("{prefix}{name}?v={hash}"),
            None => format!("{prefix}{name}"),
        }
    }

    /// Serves `name`: 200 with body, 304 when `If-None-Match` hits (with the `Vary` of its
    /// 200), 404 otherwise. The `Cache-Control` is [`IMMUTABLE`] when the query's `v` is the
    /// current content hash, the asset's own without a query, and `no-cache` with any other.
    pub fn respond(&self, req: &HttpRequest, name: &str) -> HttpResponse {
        let Some(entry) = self.entries.get(name) else {
            return HttpResponse::NotFound()
                .content_type("text/plain; charset=utf-8")
                .body("no such asset\n");
        };
        let query = req.query_string();
        let cache_control = if requested_hash(query) == Some(entry.hash.as_str()) {
            IMMUTABLE
        } else if query.is_empty() {
            entry.asset.cache_control
        } else {
            // Another hash: these bytes are not the ones that URL names.
            "public, no-cache"
        };
        let hit = req
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| if_none_match_hits(v, &entry.etag));
        let mut builder = if hit {
            HttpResponse::NotModified()
        } else {
            HttpResponse::Ok()
        };
        builder
            .insert_header((header::ETAG, entry.etag.as_str()))
            .insert_header((header::CACHE_CONTROL, cache_control));
        if hit {
            let mut res = builder.finish();
            crate::compress::not_modified_vary(
                &mut res,
                entry.content_type,
                entry.asset.body.len(),
            );
            return res;
        }
        let mut res = builder.body(entry.asset.body);
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(entry.content_type),
        );
        res
    }
}

/// The shared assets.
pub fn shared() -> &'static AssetSet {
    static SET: OnceLock<AssetSet> = OnceLock::new();
    SET.get_or_init(|| {
        AssetSet::new(&[
            Asset::immutable("stimulus-3.2.2.js", STIMULUS_JS),
            Asset::revalidated("shared.css", SHARED_CSS),
            Asset::revalidated("boot.js", BOOT_JS),
            Asset::revalidated("favicon.svg", include_bytes!("../../assets/favicon.svg")),
            Asset::revalidated(
                "STIMULUS-LICENSE.md",
                include_bytes!("../../assets/vendor/STIMULUS-LICENSE.md"),
            ),
        ])
    })
}

/// Handler for `/assets/shared/{file}`.
pub async fn serve_shared(req: HttpRequest, file: web::Path<String>) -> HttpResponse {
    shared().respond(&req, &file)
}

/// The URL of a shared asset (`shared.css`) with its content hash:
/// `/assets/shared/shared.css?v=<hash>`.
pub fn shared_url(name: &str) -> String {
    shared().url(SHARED_PREFIX, name)
}

/// The import map JSON, made once: `@hotwired/stimulus` and [`BOOT_SPECIFIER`] mapped to the
/// vendored Stimulus and the boot module, each at its hashed URL. Every page of the site and
/// of every service's preview carries these same bytes, whose hash the CSP allows.
pub fn import_map_json() -> &'static str {
    static MAP: OnceLock<String> = OnceLock::new();
    MAP.get_or_init(|| {
        serde_json::json!({ "imports": {
            "@hotwired/stimulus": shared_url("stimulus-3.2.2.js"),
            BOOT_SPECIFIER: shared_url("boot.js"),
        } })
        .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendored_stimulus_matches_recorded_sha256() {
        assert_eq!(hex::encode(Sha256::digest(STIMULUS_JS)), STIMULUS_SHA256);
    }

    #[test]
    fn if_none_match_handles_lists_weak_tags_and_star() {
        assert!(if_none_match_hits("\"a\", W/\"b\"", "\"b\""));
        assert!(if_none_match_hits("*", "\"b\""));
        assert!(!if_none_match_hits("\"a\"", "\"b\""));
    }

    #[test]
    fn import_map_points_at_the_hashed_vendored_file_and_boot_module() {
        let map: serde_json::Value = serde_json::from_str(import_map_json()).unwrap();
        let stimulus = format!("{STIMULUS_URL}?v={}", &STIMULUS_SHA256[..16]);
        assert_eq!(map["imports"]["@hotwired/stimulus"], stimulus);
        assert_eq!(map["imports"][BOOT_SPECIFIER], shared_url("boot.js"));
        assert!(shared_url("boot.js").starts_with(&format!("{BOOT_URL}?v=")));
    }

    fn cache_control(set: &AssetSet, uri: &str, name: &str) -> String {
        let req = actix_web::test::TestRequest::get()
            .uri(uri)
            .to_http_request();
        let res = set.respond(&req, name);
        assert_eq!(res.status(), 200, "{uri}");
        res.headers()
            .get(header::CACHE_CONTROL)
            .expect("a Cache-Control")
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn the_current_hash_is_immutable_and_any_other_is_revalidated() {
        let set = AssetSet::new(&[Asset::revalidated("a.css", b"p{}")]);
        let url = set.url("/assets/", "a.css");
        assert_eq!(url, format!("/assets/a.css?v={}", content_hash(b"p{}")));
        assert_eq!(cache_control(&set, &url, "a.css"), IMMUTABLE);
        let stale = "/assets/a.css?v=0123456789abcdef";
        assert_eq!(cache_control(&set, stale, "a.css"), "public, no-cache");
        assert_eq!(
            cache_control(&set, "/assets/a.css", "a.css"),
            "public, no-cache"
        );
        // A versioned name stays immutable without the hash, but not with another one.
        let stimulus = shared();
        assert_eq!(
            cache_control(stimulus, STIMULUS_URL, "stimulus-3.2.2.js"),
            IMMUTABLE
        );
        let stale = format!("{STIMULUS_URL}?v=0123456789abcdef");
        assert_eq!(
            cache_control(stimulus, &stale, "stimulus-3.2.2.js"),
            "public, no-cache"
        );
    }
}
