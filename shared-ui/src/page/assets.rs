//! Embedded static assets, served with a strong ETag, an honest `Cache-Control` and 304s.
//!
//! Shared assets (under `/assets/shared/`): the design tokens and base styles
//! ([`SHARED_CSS_URL`]), the vendored Stimulus runtime ([`STIMULUS_URL`], versioned name,
//! cached for a year) and the boot module ([`BOOT_URL`]) that starts Stimulus and registers
//! the controllers a page lists. A service serves its own assets with an [`AssetSet`].

use std::collections::HashMap;
use std::sync::OnceLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

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
    /// `Cache-Control` to send.
    pub cache_control: &'static str,
}

impl Asset {
    /// An asset revalidated on every use (cheap with the ETag): for unversioned names.
    pub const fn revalidated(name: &'static str, body: &'static [u8]) -> Self {
        Self {
            name,
            body,
            cache_control: "public, no-cache",
        }
    }
    /// An asset whose name carries its version: cached for a year.
    pub const fn immutable(name: &'static str, body: &'static [u8]) -> Self {
        Self {
            name,
            body,
            cache_control: "public, max-age=31536000, immutable",
        }
    }
}

struct Entry {
    asset: Asset,
    etag: String,
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
    /// Indexes the assets, computing their ETags once.
    pub fn new(assets: &[Asset]) -> Self {
        let entries = assets
            .iter()
            .map(|a| {
                (
                    a.name,
                    Entry {
                        asset: *a,
                        etag: etag_of(a.body),
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

    /// Serves `name`: 200 with body, 304 when `If-None-Match` hits (with the `Vary` of its
    /// 200), 404 otherwise.
    pub fn respond(&self, req: &HttpRequest, name: &str) -> HttpResponse {
        let Some(entry) = self.entries.get(name) else {
            return HttpResponse::NotFound()
                .content_type("text/plain; charset=utf-8")
                .body("no such asset\n");
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
            .insert_header((header::CACHE_CONTROL, entry.asset.cache_control));
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

/// The import map JSON that maps `@hotwired/stimulus` to [`STIMULUS_URL`] under `prefix`
/// (`""` for a service's own origin).
pub fn import_map_json(prefix: &str) -> String {
    serde_json::json!({ "imports": { "@hotwired/stimulus": format!("{prefix}{STIMULUS_URL}") } })
        .to_string()
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
    fn import_map_points_at_the_vendored_file() {
        let map: serde_json::Value = serde_json::from_str(&import_map_json("")).unwrap();
        assert_eq!(map["imports"]["@hotwired/stimulus"], STIMULUS_URL);
    }
}
