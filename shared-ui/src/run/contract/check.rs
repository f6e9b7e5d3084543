//! The contract checks behind `shell check URL` and every team's contract test: checks any
//! fragment server, in any language, against the contract of `DESIGN.md` and reports one
//! line per check.
//!
//! [`run`] (also named [`check`]) returns a [`Report`] (so tests can assert on it); [`Report`]'s `Display` is the
//! readable form the subcommand prints. Checks: the manifest parses and validates; every
//! fragment answers 200 `text/html; charset=utf-8` with a `Cache-Control`, an
//! `x-fragment-version` equal to the manifest's version, no `<html`, and its root carries
//! `data-fragment="<service>/<id>"`; every asset answers 200 with an `ETag` and 304 to
//! `If-None-Match`; `/healthz` and `/readyz` answer 200; an unknown route answers 404.

use std::fmt;
use std::time::Duration;

use super::Manifest;
use crate::headers;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use reqwest::StatusCode;

/// Time each request of the check gets.
const TIMEOUT: Duration = Duration::from_secs(5);

/// One check and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked (`GET /fragments/plans: x-fragment-version`).
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// Why it failed, or what was seen.
    pub detail: String,
}

/// Every check run against one server.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The server checked.
    pub base: String,
    /// The checks, in order.
    pub checks: Vec<Check>,
}

impl Report {
    fn record(&mut self, name: impl Into<String>, result: Result<String, String>) -> bool {
        let (passed, detail) = match result {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        self.checks.push(Check {
            name: name.into(),
            passed,
            detail,
        });
        passed
    }

    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.passed)
    }

    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Contract check of {}", self.base)?;
        for c in &self.checks {
            let mark = if c.passed { "✔" } else { "✘" };
            if c.detail.is_empty() {
                writeln!(f, "  {mark} {}", c.name)?;
            } else {
                writeln!(f, "  {mark} {}: {}", c.name, c.detail)?;
            }
        }
        let failed = self.failures().count();
        if failed == 0 {
            write!(f, "All {} checks passed.", self.checks.len())
        } else {
            write!(f, "{failed} of {} checks failed.", self.checks.len())
        }
    }
}

fn header_text(
    res: &reqwest::Response,
    name: impl reqwest::header::AsHeaderName,
) -> Option<String> {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Runs every check against the server at `base` (`http://127.0.0.1:1313`).
pub async fn run(base: &str) -> Report {
    check(base).await
}

/// Runs every check against the server at `base` (`http://127.0.0.1:1313`).
pub async fn check(base: &str) -> Report {
    let mut report = Report {
        base: base.to_owned(),
        checks: Vec::new(),
    };
    let base = match parse_service_url(base) {
        Ok(b) => b,
        Err(e) => {
            report.record("server URL", Err(e));
            return report;
        }
    };
    report.base = base.clone();
    let client = match reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            report.record("HTTP client", Err(e.to_string()));
            return report;
        }
    };
    let get = |path: &str| client.get(format!("{base}{path}"));

    // The manifest: everything else depends on it.
    let manifest = match get("/manifest.json").send().await {
        Err(e) => Err(format!("no answer: {e}")),
        Ok(res) if res.status() != StatusCode::OK => Err(format!("answered {}", res.status())),
        Ok(res) => match res.bytes().await {
            Err(e) => Err(format!("body not read: {e}")),
            Ok(body) => Manifest::parse(&body).map_err(|e| e.to_string()),
        },
    };
    let manifest = match manifest {
        Ok(m) => {
            report.record(
                "GET /manifest.json parses and validates",
                Ok(format!(
                    "{} {} ({} fragments)",
                    m.name,
                    m.version,
                    m.fragments.len()
                )),
            );
            Some(m)
        }
        Err(e) => {
            report.record("GET /manifest.json parses and validates", Err(e));
            None
        }
    };

    if let Some(m) = &manifest {
        for f in &m.fragments {
            check_fragment(&mut report, &client, &base, m, &f.id, &f.path).await;
        }
        let assets = m
            .assets
            .css
            .iter()
            .chain(m.assets.controllers.iter().map(|c| &c.module));
        for path in assets {
            check_asset(&mut report, &client, &base, path).await;
        }
    }

    for path in ["/healthz", "/readyz"] {
        let result = match get(path).send().await {
            Ok(res) if res.status() == StatusCode::OK => Ok(String::new()),
            Ok(res) => Err(format!("answered {}, expected 200", res.status())),
            Err(e) => Err(format!("no answer: {e}")),
        };
        report.record(format!("GET {path} answers 200"), result);
    }
    let unknown = format!(
        "/mf-contract-check-{}",
        hex::encode(rand::random::<[u8; 4]>())
    );
    let result = match get(&unknown).send().await {
        Ok(res) if res.status() == StatusCode::NOT_FOUND => Ok(String::new()),
        Ok(res) => Err(format!("answered {}, expected 404", res.status())),
        Err(e) => Err(format!("no answer: {e}")),
    };
    report.record("an unknown route answers 404", result);
    report
}

/// A server URL: http or https, a host, no user, query or fragment; without a trailing `/`.
pub fn parse_service_url(raw: &str) -> Result<String, String> {
    let url = url::Url::parse(raw.trim()).map_err(|e| format!("`{raw}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{raw}` must be an http:// or https:// URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{raw}` has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("`{raw}` must not carry a user name or password"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{raw}` must not have a query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Whether HTML holds `<html` (any case): a whole document, not a fragment.
fn contains_document(body: &str) -> bool {
    body.as_bytes()
        .windows(5)
        .any(|w| w.eq_ignore_ascii_case(b"<html"))
}

async fn check_fragment(
    report: &mut Report,
    client: &reqwest::Client,
    base: &str,
    manifest: &Manifest,
    id: &str,
    path: &str,
) {
    let name = |what: &str| format!("fragment `{id}` (GET {path}): {what}");
    let res = match client.get(format!("{base}{path}")).send().await {
        Ok(res) => res,
        Err(e) => {
            report.record(name("answers"), Err(format!("no answer: {e}")));
            return;
        }
    };
    if !report.record(
        name("answers 200"),
        if res.status() == StatusCode::OK {
            Ok(String::new())
        } else {
            Err(format!("answered {}", res.status()))
        },
    ) {
        return;
    }
    let content_type = header_text(&res, CONTENT_TYPE).unwrap_or_default();
    let normalised = content_type.to_ascii_lowercase().replace(' ', "");
    report.record(
        name("Content-Type is text/html; charset=utf-8"),
        if normalised == "text/html;charset=utf-8" {
            Ok(String::new())
        } else {
            Err(format!("got `{content_type}`"))
        },
    );
    report.record(
        name("has a Cache-Control"),
        header_text(&res, CACHE_CONTROL)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| "the Cache-Control header is missing".to_owned()),
    );
    let version = header_text(&res, headers::FRAGMENT_VERSION);
    report.record(
        name("x-fragment-version matches the manifest"),
        match version {
            Some(v) if v == manifest.version => Ok(v),
            Some(v) => Err(format!(
                "x-fragment-version is `{v}`, the manifest says `{}`",
                manifest.version
            )),
            None => Err("the x-fragment-version header is missing".to_owned()),
        },
    );
    let body = match res.text().await {
        Ok(b) => b,
        Err(e) => {
            report.record(name("body"), Err(format!("not read: {e}")));
            return;
        }
    };
    report.record(
        name("is a fragment, not a document"),
        if contains_document(&body) || body.to_ascii_lowercase().contains("<body") {
            Err("the body holds <html> or <body>".to_owned())
        } else {
            Ok(String::new())
        },
    );
    let marker = format!("data-fragment=\"{}/{id}\"", manifest.name);
    report.record(
        name("root element carries data-fragment"),
        if body.contains(&marker) {
            Ok(String::new())
        } else {
            Err(format!("no `{marker}` in the answer"))
        },
    );
}

async fn check_asset(report: &mut Report, client: &reqwest::Client, base: &str, path: &str) {
    let name = format!("asset GET {path} answers 200 with an ETag and 304 to If-None-Match");
    let url = format!("{base}{path}");
    let res = match client.get(&url).send().await {
        Ok(res) => res,
        Err(e) => {
            report.record(name, Err(format!("no answer: {e}")));
            return;
        }
    };
    if res.status() != StatusCode::OK {
        report.record(name, Err(format!("answered {}", res.status())));
        return;
    }
    let Some(etag) = header_text(&res, ETAG) else {
        report.record(name, Err("the ETag header is missing".to_owned()));
        return;
    };
    let again = client.get(&url).header(IF_NONE_MATCH, &etag).send().await;
    report.record(
        name,
        match again {
            Ok(r) if r.status() == StatusCode::NOT_MODIFIED => Ok(etag),
            Ok(r) => Err(format!(
                "If-None-Match: {etag} answered {}, expected 304",
                r.status()
            )),
            Err(e) => Err(format!("revalidation got no answer: {e}")),
        },
    );
}
