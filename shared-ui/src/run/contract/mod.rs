//! The fragment contract of `docs/DESIGN.md#the-manifest` as serde types.
//!
//! Services build a [`Manifest`] and publish it at `GET /manifest.json`; the shell and
//! `shell check` parse it back with [`Manifest::parse`], which also runs
//! [`Manifest::validate`]. Validation errors name the bad field (`fragments[1].path`), so a
//! team sees at once what to fix.
//!
//! The rules every party applies: [`ServiceName`] (and [`is_name`], the rule of every name),
//! [`ServiceUrl`], [`is_safe_path`] for the paths a manifest declares, [`is_asset_url`]
//! and [`content_hash`] for its assets' content-hashed URLs (`/assets/a.css?v=<hash>`), and
//! [`contains_document`] for a fragment that is a whole page.
//!
//! [`check`] (feature `check`): the checks of `shell check`, run against a live server.

use std::collections::HashSet;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[cfg(feature = "check")]
pub mod check;
#[cfg(feature = "check")]
mod report;
pub mod schema;
mod service;
#[cfg(feature = "check")]
mod strict;

pub use service::{is_name, NameError, ServiceName, ServiceUrl, ServiceUrlError, MAX_NAME_LEN};

/// A service's manifest: who it is, which fragments it serves, what they need.
// The `#[schemars]` attributes state the rules of `Manifest::validate` that a JSON Schema
// can state (`schema`); `validate` stays the authority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Manifest {
    /// Service name: lowercase letters, digits and `-` (e.g. `pricing`).
    #[schemars(regex(pattern = schema::NAME_PATTERN))]
    pub name: String,
    /// Changes on every deploy; sent back on each fragment answer.
    #[schemars(regex(pattern = schema::VERSION_PATTERN))]
    pub version: String,
    /// The fragments the service serves, at least one.
    #[schemars(length(min = 1))]
    pub fragments: Vec<FragmentSpec>,
    /// CSS and Stimulus controllers the fragments need.
    #[serde(default)]
    pub assets: ManifestAssets,
    /// The POST paths that the service's forms use.
    #[serde(default)]
    #[schemars(inner(length(max = 200), regex(pattern = schema::SAFE_PATH_PATTERN)))]
    pub actions: Vec<String>,
}

/// One fragment of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FragmentSpec {
    /// Identifier, unique in the manifest (e.g. `plans`).
    #[schemars(regex(pattern = schema::NAME_PATTERN))]
    pub id: String,
    /// Service-relative path the fragment is served at (e.g. `/fragments/plans`).
    #[schemars(length(max = 200), regex(pattern = schema::SAFE_PATH_PATTERN))]
    pub path: String,
    /// Human title (e.g. `Plans`), used in fallbacks and titles.
    #[schemars(length(min = 1, max = 100), regex(pattern = schema::NOT_BLANK_PATTERN))]
    pub title: String,
    /// HTML to show when the service cannot answer in time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_FALLBACK_BYTES))]
    pub fallback: Option<String>,
    /// Whether the fragment depends on who is asking (the default). `false`: the shell
    /// fetches it at once, without waiting for the session lookup, and sends it no user
    /// context (no `x-mf-user`, no cookies), so every user shares one cached copy.
    #[serde(default = "personal_default", skip_serializing_if = "is_personal")]
    pub personal: bool,
    /// The height the fragment usually takes, in CSS pixels ([`MIN_HEIGHT_RANGE`]): the
    /// shell reserves it for the slot, so a placeholder swapped for the fragment shifts
    /// nothing below it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 4000))]
    pub min_height: Option<u32>,
}

fn personal_default() -> bool {
    true
}

fn is_personal(personal: &bool) -> bool {
    *personal
}

impl FragmentSpec {
    /// A personal fragment with no fallback and no size hint.
    pub fn new(id: impl Into<String>, path: impl Into<String>, title: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            path: path.into(),
            title: title.into(),
            fallback: None,
            personal: true,
            min_height: None,
        }
    }
}

/// Assets of a manifest; every URL is a service-relative path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ManifestAssets {
    /// Stylesheets (`/assets/pricing.css?v=3f2a…`): asset URLs ([`is_asset_url`]).
    #[serde(default)]
    #[schemars(inner(length(max = 219), regex(pattern = schema::ASSET_URL_PATTERN)))]
    pub css: Vec<String>,
    /// Stimulus controllers: identifier and ES module URL.
    #[serde(default)]
    pub controllers: Vec<ControllerAsset>,
}

/// A Stimulus controller a fragment uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ControllerAsset {
    /// The `data-controller` identifier (`pricing-toggle`).
    #[schemars(regex(pattern = schema::IDENTIFIER_PATTERN))]
    pub identifier: String,
    /// Service-relative URL of the ES module whose default export is the controller: an
    /// asset URL ([`is_asset_url`]).
    #[schemars(length(max = 219), regex(pattern = schema::ASSET_URL_PATTERN))]
    pub module: String,
}

/// A manifest that does not follow the contract; `field` names the bad field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("manifest field `{field}`: {problem}")]
pub struct ContractError {
    /// Path of the bad field, e.g. `fragments[1].path`, or `(document)` for a parse error.
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

impl ContractError {
    fn new(field: impl fmt::Display, problem: impl Into<String>) -> Self {
        Self {
            field: field.to_string(),
            problem: problem.into(),
        }
    }
}

/// Largest accepted fallback HTML, in bytes.
pub const MAX_FALLBACK_BYTES: usize = 16 * 1024;
/// The heights a fragment may declare as `min_height`, in CSS pixels.
pub const MIN_HEIGHT_RANGE: std::ops::RangeInclusive<u32> = 1..=4000;

impl Manifest {
    /// Parses JSON and validates it.
    pub fn parse(json: &[u8]) -> Result<Self, ContractError> {
        let manifest: Manifest = serde_json::from_slice(json)
            .map_err(|e| ContractError::new("(document)", e.to_string()))?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// Checks every rule of the contract; the error names the first bad field.
    pub fn validate(&self) -> Result<(), ContractError> {
        check_name("name", &self.name)?;
        if self.version.is_empty()
            || self.version.len() > 64
            || !self.version.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(ContractError::new(
                "version",
                "must be 1 to 64 printable ASCII characters without spaces",
            ));
        }
        if self.fragments.is_empty() {
            return Err(ContractError::new(
                "fragments",
                "must list at least one fragment",
            ));
        }
        let mut ids = HashSet::new();
        for (i, f) in self.fragments.iter().enumerate() {
            check_name(format!("fragments[{i}].id"), &f.id)?;
            if !ids.insert(f.id.as_str()) {
                return Err(ContractError::new(
                    format!("fragments[{i}].id"),
                    format!("`{}` is listed twice", f.id),
                ));
            }
            check_path(format!("fragments[{i}].path"), &f.path)?;
            if f.title.trim().is_empty() || f.title.len() > 100 {
                return Err(ContractError::new(
                    format!("fragments[{i}].title"),
                    "must be 1 to 100 characters",
                ));
            }
            if let Some(fallback) = &f.fallback {
                if fallback.len() > MAX_FALLBACK_BYTES {
                    return Err(ContractError::new(
                        format!("fragments[{i}].fallback"),
                        format!("is larger than {MAX_FALLBACK_BYTES} bytes"),
                    ));
                }
            }
            if let Some(h) = f.min_height {
                if !MIN_HEIGHT_RANGE.contains(&h) {
                    return Err(ContractError::new(
                        format!("fragments[{i}].min_height"),
                        format!(
                            "{h} is not a height in CSS pixels from {} to {}",
                            MIN_HEIGHT_RANGE.start(),
                            MIN_HEIGHT_RANGE.end()
                        ),
                    ));
                }
            }
        }
        for (i, css) in self.assets.css.iter().enumerate() {
            check_asset(format!("assets.css[{i}]"), css)?;
        }
        for (i, c) in self.assets.controllers.iter().enumerate() {
            check_identifier(format!("assets.controllers[{i}].identifier"), &c.identifier)?;
            check_asset(format!("assets.controllers[{i}].module"), &c.module)?;
        }
        for (i, a) in self.actions.iter().enumerate() {
            check_path(format!("actions[{i}]"), a)?;
        }
        Ok(())
    }

    /// The fragment with this id.
    pub fn fragment(&self, id: &str) -> Option<&FragmentSpec> {
        self.fragments.iter().find(|f| f.id == id)
    }
}

fn check_name(field: impl fmt::Display, value: &str) -> Result<(), ContractError> {
    match value.parse::<ServiceName>() {
        Ok(_) => Ok(()),
        Err(e) => Err(ContractError::new(field, e.to_string())),
    }
}

fn check_identifier(field: impl fmt::Display, value: &str) -> Result<(), ContractError> {
    // Stimulus identifiers may hold `--` for namespaced controllers; otherwise a name, up
    // to 60 bytes.
    if service::is_name_up_to(value, 60) {
        Ok(())
    } else {
        Err(ContractError::new(
            field,
            format!("`{}` is not a Stimulus identifier", value.escape_default()),
        ))
    }
}

fn check_path(field: impl fmt::Display, value: &str) -> Result<(), ContractError> {
    if value == "/metrics" {
        // Declared paths are what the shell proxies; metrics stay off the public site.
        return Err(ContractError::new(
            field,
            "`/metrics` is never declared: the shell proxies declared paths, and metrics are for the scraper only",
        ));
    }
    if is_safe_path(value) {
        Ok(())
    } else {
        Err(ContractError::new(
            field,
            format!(
                "`{}` must be a service-relative path such as `/fragments/x`",
                value.escape_default()
            ),
        ))
    }
}

fn check_asset(field: impl fmt::Display, value: &str) -> Result<(), ContractError> {
    let (path, hash) = split_asset_url(value);
    check_path(&field, path)?;
    match hash {
        Some(Some(_)) | None => Ok(()),
        Some(None) => Err(ContractError::new(
            field,
            format!(
                "`{}`: an asset URL's only query is `?v=` and {HASH_HEX_LEN} lowercase hex \
                 digits, the start of the SHA-256 of its bytes",
                value.escape_default()
            ),
        )),
    }
}

/// How many hex digits of the SHA-256 an asset URL's `?v=` carries.
pub const HASH_HEX_LEN: usize = 16;

/// The content hash of an asset's bytes, as its URL carries it (`?v=<this>`): the first
/// [`HASH_HEX_LEN`] lowercase hex digits of their SHA-256.
pub fn content_hash(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut hex = hex::encode(Sha256::digest(bytes));
    hex.truncate(HASH_HEX_LEN);
    hex
}

/// An asset URL split at its query: the path, and `None` without a query, `Some(Some(hash))`
/// with a well-formed `?v=<hash>`, `Some(None)` with any other query.
pub fn split_asset_url(url: &str) -> (&str, Option<Option<&str>>) {
    let Some((path, query)) = url.split_once('?') else {
        return (url, None);
    };
    let hash = query
        .strip_prefix("v=")
        .filter(|h| h.len() == HASH_HEX_LEN)
        .filter(|h| h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
    (path, Some(hash))
}

/// The path of an asset URL (the part before `?v=`).
pub fn asset_path(url: &str) -> &str {
    split_asset_url(url).0
}

/// The `v` of a request's query string, when it is a well-formed content hash.
pub fn requested_hash(query: &str) -> Option<&str> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("v="))
        .filter(|h| h.len() == HASH_HEX_LEN)
        .filter(|h| h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// Whether `url` is an asset URL a manifest may declare: a [safe path](is_safe_path),
/// optionally followed by its content hash, `?v=` and [`HASH_HEX_LEN`] lowercase hex digits
/// ([`content_hash`]). Nothing else may follow the path.
pub fn is_asset_url(url: &str) -> bool {
    match split_asset_url(url) {
        (path, None | Some(Some(_))) => is_safe_path(path),
        (_, Some(None)) => false,
    }
}

/// A service-relative path with nothing that could leave the service: it starts with one
/// `/`, has no `..` or `.` segment, no `//`, no backslash, no `%`, no `@`, no `:`, no
/// control character, no query or fragment, and is at most 200 bytes.
pub fn is_safe_path(path: &str) -> bool {
    path.len() <= 200
        && path.starts_with('/')
        && !path.starts_with("//")
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~'))
        && path
            .split('/')
            .skip(1)
            .all(|seg| seg != ".." && seg != "." && !seg.is_empty() || path == "/")
}

/// How long a shared cache (the shell's fragment cache) may keep an answer with this
/// `Cache-Control`, in seconds: `s-maxage`, else `max-age`, when above zero and none of
/// `private`, `no-store`, `no-cache` is present; `None`: not shared at all
/// (`docs/CONTRACT.md#caching`).
pub fn shared_cache_seconds(cache_control: &str) -> Option<u64> {
    let mut max_age = None;
    let mut s_maxage = None;
    let seconds = |v: &str| v.trim().trim_matches('"').parse::<u64>().ok();
    for directive in cache_control.split(',') {
        let directive = directive.trim();
        match directive.split_once('=') {
            Some((name, v)) if name.trim().eq_ignore_ascii_case("max-age") => max_age = seconds(v),
            Some((name, v)) if name.trim().eq_ignore_ascii_case("s-maxage") => {
                s_maxage = seconds(v)
            }
            Some(_) => {}
            None if ["private", "no-store", "no-cache"]
                .iter()
                .any(|d| directive.eq_ignore_ascii_case(d)) =>
            {
                return None
            }
            None => {}
        }
    }
    s_maxage.or(max_age).filter(|s| *s > 0)
}

/// Whether HTML holds `<html` (any case): a whole document, not a fragment. Looks only
/// where a tag name starts with `h` or `H` (two vectorised substring searches, `<h` and
/// `<H`): jumping from every `<` to the next cost a call per tag. Takes text or its bytes
/// (a fragment's body, checked as UTF-8 once: the shell's `slot::Html`).
pub fn contains_document(body: impl AsRef<[u8]>) -> bool {
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    static LOWER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"<h"));
    static UPPER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"<H"));
    let bytes = body.as_ref();
    let html_at = |at: usize| {
        bytes
            .get(at + 2..at + 5)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"tml"))
    };
    LOWER.find_iter(bytes).any(html_at) || UPPER.find_iter(bytes).any(html_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            name: "pricing".into(),
            version: "1.0.0+abc".into(),
            fragments: vec![FragmentSpec::new("plans", "/fragments/plans", "Plans")],
            assets: ManifestAssets {
                css: vec!["/assets/pricing.css".into()],
                controllers: vec![ControllerAsset {
                    identifier: "pricing-toggle".into(),
                    module: "/assets/pricing-toggle.js".into(),
                }],
            },
            actions: vec![],
        }
    }

    #[test]
    fn a_good_manifest_round_trips_through_json() {
        let json = serde_json::to_vec(&sample()).unwrap();
        assert_eq!(Manifest::parse(&json).unwrap(), sample());
    }

    #[test]
    fn errors_name_the_bad_field() {
        let mut m = sample();
        m.fragments
            .push(FragmentSpec::new("teaser", "/../etc/passwd", "Teaser"));
        let err = m.validate().unwrap_err();
        assert_eq!(err.field, "fragments[1].path");

        let mut m = sample();
        m.fragments.push(m.fragments[0].clone());
        assert_eq!(m.validate().unwrap_err().field, "fragments[1].id");

        let mut m = sample();
        m.assets.controllers[0].module = "https://evil.example/x.js".into();
        assert_eq!(
            m.validate().unwrap_err().field,
            "assets.controllers[0].module"
        );

        let mut m = sample();
        m.name = "Pricing Team".into();
        assert_eq!(m.validate().unwrap_err().field, "name");

        // `/metrics` is never declared (the shell would proxy it).
        let mut m = sample();
        m.actions.push("/metrics".into());
        let err = m.validate().unwrap_err();
        assert_eq!(err.field, format!("actions[{}]", m.actions.len() - 1));
    }

    #[test]
    fn personal_and_min_height_are_optional_and_checked() {
        // Left out: personal, no size hint; and written back out the same way.
        let m = sample();
        assert!(m.fragments[0].personal);
        let json = serde_json::to_string(&m).unwrap();
        assert!(
            !json.contains("personal") && !json.contains("min_height"),
            "{json}"
        );

        let mut m = sample();
        m.fragments[0].personal = false;
        m.fragments[0].min_height = Some(180);
        let json = serde_json::to_vec(&m).unwrap();
        assert_eq!(Manifest::parse(&json).unwrap(), m);

        for bad in [0, 4001, u32::MAX] {
            let mut m = sample();
            m.fragments[0].min_height = Some(bad);
            assert_eq!(m.validate().unwrap_err().field, "fragments[0].min_height");
        }
        let err = Manifest::parse(
            br#"{"name":"x","version":"1","fragments":[{"id":"a","path":"/a","title":"A","personal":"no"}]}"#,
        )
        .unwrap_err();
        assert!(err.problem.contains("boolean"), "{err}");
        let err = Manifest::parse(
            br#"{"name":"x","version":"1","fragments":[{"id":"a","path":"/a","title":"A","min_height":-5}]}"#,
        )
        .unwrap_err();
        assert!(err.problem.contains("-5"), "{err}");
    }

    #[test]
    fn a_missing_field_is_named_in_the_parse_error() {
        let err = Manifest::parse(br#"{"name":"x","fragments":[]}"#).unwrap_err();
        assert!(err.problem.contains("version"), "{err}");
    }

    #[test]
    fn safe_paths_refuse_every_escape() {
        for bad in [
            "",
            "x",
            "//evil.example/",
            "/a/../b",
            "/a/./b",
            "/a//b",
            "/a\\b",
            "/a%2e%2e/b",
            "/user@host",
            "/http://x",
            "/a?b",
            "/a#b",
            "/a\0b",
            "/a b",
        ] {
            assert!(!is_safe_path(bad), "{bad:?} should be refused");
        }
        for good in ["/", "/fragments/plans", "/assets/app-1.2.css", "/a/b_c~d"] {
            assert!(is_safe_path(good), "{good:?} should pass");
        }
    }

    #[test]
    fn asset_urls_carry_at_most_a_content_hash() {
        let hash = content_hash(b"p{}");
        assert_eq!(hash.len(), HASH_HEX_LEN);
        for good in [
            "/assets/a.css".to_owned(),
            format!("/assets/a.css?v={hash}"),
        ] {
            assert!(is_asset_url(&good), "{good}");
        }
        for bad in [
            "/assets/a.css?v=",
            "/assets/a.css?v=ABCDEF0123456789",
            "/assets/a.css?v=0123456789abcdef0",
            "/assets/a.css?x=0123456789abcdef",
            "/assets/a.css?v=0123456789abcdef&x=1",
            "/assets/../a.css?v=0123456789abcdef",
        ] {
            assert!(!is_asset_url(bad), "{bad}");
        }
        assert_eq!(
            asset_path("/assets/a.css?v=0123456789abcdef"),
            "/assets/a.css"
        );
        assert_eq!(
            requested_hash("x=1&v=0123456789abcdef"),
            Some("0123456789abcdef")
        );
        assert_eq!(requested_hash("v=zz"), None);
    }

    #[test]
    fn whole_documents_are_spotted_in_any_case() {
        assert!(contains_document("<!doctype html><HTML lang=en>"));
        assert!(contains_document("<p>a</p><html"));
        assert!(!contains_document("<p>a</p><htm"));
        assert!(!contains_document("<<<"));
        assert!(!contains_document(
            "<section data-fragment=\"a/b\">html</section>"
        ));
    }
}
