//! The contract checks behind `shell check URL` and every team's contract test: checks any
//! fragment server, in any language, against the contract of `docs/DESIGN.md` and reports one
//! line per check.
//!
//! [`run`] (also named [`check`]) returns a [`Report`] (so tests can assert on it); [`Report`]'s `Display` is the
//! readable form the subcommand prints. Checks: the manifest parses and validates; every
//! fragment answers 200 `text/html; charset=utf-8` with a `Cache-Control`, an
//! `x-fragment-version` equal to the manifest's version, no `<html`, and its root carries
//! `data-fragment="<service>/<id>"`; every asset answers 200 with an `ETag` (and, at a hashed URL, the bytes its `?v=` names) and 304 to
//! `If-None-Match`; `/healthz` and `/readyz` answer 200; an unknown route answers 404.
//! [`check_with`] and [`Options::strict`] add the strict checks of `super::strict`
//! (`shell check --strict`, the definition of joining: `docs/CONTRACT.md#checking-a-server`).

use std::time::Duration;

use super::{contains_document, Manifest, ServiceUrl};
use crate::headers;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use reqwest::StatusCode;

use super::report::header_text;
pub use super::report::{Check, Report};
pub use super::strict::VECTOR_SECRET;

/// Time each request of the check gets.
const TIMEOUT: Duration = Duration::from_secs(5);

/// What to check beyond the basic checks.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Also run the strict checks (`shell check --strict`): everything of
    /// `docs/CONTRACT.md` visible from outside.
    pub strict: bool,
    /// The secret the strict checks sign user contexts with; `None`: the test vectors'
    /// ([`VECTOR_SECRET`]).
    pub context_secret: Option<String>,
}

impl Options {
    /// The strict checks, signing with `secret` (the server's `CONTEXT_SECRET`).
    pub fn strict(secret: &str) -> Self {
        Self {
            strict: true,
            context_secret: Some(secret.to_owned()),
        }
    }
}

/// Runs every basic check against the server at `base` (`http://127.0.0.1:1313`).
pub async fn run(base: &str) -> Report {
    check(base).await
}

/// Runs every basic check against the server at `base` (`http://127.0.0.1:1313`).
pub async fn check(base: &str) -> Report {
    check_with(base, &Options::default()).await
}

/// Runs the checks `options` asks for against the server at `base`.
pub async fn check_with(base: &str, options: &Options) -> Report {
    let mut report = Report {
        base: base.to_owned(),
        checks: Vec::new(),
    };
    let base = match base.parse::<ServiceUrl>() {
        Ok(b) => b.into_string(),
        Err(e) => {
            report.record("server URL", Err(e.to_string()));
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
    // The manifest: everything else depends on it.
    if let Some(m) = check_manifest(&mut report, &client, &base).await {
        for f in &m.fragments {
            check_fragment(&mut report, &client, &base, &m, &f.id, &f.path).await;
        }
        let assets = m
            .assets
            .css
            .iter()
            .chain(m.assets.controllers.iter().map(|c| &c.module));
        for path in assets {
            check_asset(&mut report, &client, &base, path).await;
        }
        if options.strict {
            let secret = options.context_secret.as_deref().unwrap_or(VECTOR_SECRET);
            super::strict::run(&mut report, &client, &base, &m, secret).await;
        }
    }
    check_routes(&mut report, &client, &base).await;
    report
}

/// `GET /manifest.json` parses and validates; the manifest, when it does.
async fn check_manifest(
    report: &mut Report,
    client: &reqwest::Client,
    base: &str,
) -> Option<Manifest> {
    let manifest = match client.get(format!("{base}/manifest.json")).send().await {
        Err(e) => Err(format!("no answer: {e}")),
        Ok(res) if res.status() != StatusCode::OK => Err(format!("answered {}", res.status())),
        Ok(res) => match res.bytes().await {
            Err(e) => Err(format!("body not read: {e}")),
            Ok(body) => Manifest::parse(&body).map_err(|e| e.to_string()),
        },
    };
    let name = "GET /manifest.json parses and validates";
    match manifest {
        Ok(m) => {
            let seen = format!("{} {} ({} fragments)", m.name, m.version, m.fragments.len());
            report.record(name, Ok(seen));
            Some(m)
        }
        Err(e) => {
            report.record(name, Err(e));
            None
        }
    }
}

/// `/healthz` and `/readyz` answer 200; an unknown route answers 404.
async fn check_routes(report: &mut Report, client: &reqwest::Client, base: &str) {
    let get = |path: &str| client.get(format!("{base}{path}"));
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
    check_fragment_headers(report, &res, &manifest.version, &name);
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

/// A fragment answer's headers: the content type, a `Cache-Control`, the manifest's version.
fn check_fragment_headers(
    report: &mut Report,
    res: &reqwest::Response,
    manifest_version: &str,
    name: &dyn Fn(&str) -> String,
) {
    let content_type = header_text(res, CONTENT_TYPE).unwrap_or_default();
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
        header_text(res, CACHE_CONTROL)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| "the Cache-Control header is missing".to_owned()),
    );
    report.record(
        name("x-fragment-version matches the manifest"),
        match header_text(res, headers::FRAGMENT_VERSION) {
            Some(v) if v == manifest_version => Ok(v),
            Some(v) => Err(format!(
                "x-fragment-version is `{v}`, the manifest says `{manifest_version}`"
            )),
            None => Err("the x-fragment-version header is missing".to_owned()),
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
    if let (_, Some(Some(hash))) = super::split_asset_url(path) {
        let body = res.bytes().await.unwrap_or_default();
        let actual = super::content_hash(&body);
        report.record(
            format!("asset {path}: its ?v= is the content hash of the bytes it answers"),
            match actual == hash {
                true => Ok(hash.to_owned()),
                false => Err(format!("the bytes hash to {actual}: a stale or wrong hash")),
            },
        );
    }
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
