//! The shell's settings, in layers: built-in defaults, then `--config shell.toml`, then
//! `SHELL_SERVICES` / flags. [`Settings::resolve`] checks everything and returns a
//! [`Config`] whose registry cannot hold a bad entry: a bad name, a URL that is not
//! http(s), a section naming an unknown service or a duplicate is refused with a
//! [`SettingError`] that names it.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use shared_ui::contract::{is_name, is_safe_path, ServiceName, ServiceUrl, ServiceUrlError};
use shared_ui::settings::{Common, CommonSettings, SettingError};

use crate::hosts::{self, HostPatterns};
use crate::slot::SlotMode;

/// The shell's port (`docs/DESIGN.md#ports-and-settings`).
pub const DEFAULT_PORT: u16 = 8000;
/// The admin port (`GET /metrics`), on the same bind address.
pub const DEFAULT_ADMIN_PORT: u16 = 9000;
/// The memory of the asset cache when nothing else is configured, in MiB.
pub const DEFAULT_ASSET_CACHE_MIB: u64 = 8;
/// The services when nothing else is configured: the three local ports.
pub const DEFAULT_SERVICES: &str =
    "pricing=http://127.0.0.1:1313,dashboard=http://127.0.0.1:3000,accounts=http://127.0.0.1:4000";

const SERVICES_SETTING: &str = "--services / SHELL_SERVICES";
const CONFIG_SETTING: &str = "--config / SHELL_CONFIG";

/// The command line of `shell`.
#[derive(Debug, clap::Parser)]
#[command(
    name = "shell",
    version,
    about = "The shell: composes the teams' fragment servers into one site (pages, proxy, registry).",
    // CORS is what the services answer in direct mode; the shell itself has no use for it.
    mut_arg("cors_origins", |a| a.hide(true))
)]
pub struct Settings {
    /// Settings every service shares.
    #[command(flatten)]
    pub common: CommonSettings,
    /// Services as `name=url` pairs, comma separated; overrides the URLs of the config file
    /// [default: pricing=http://127.0.0.1:1313,dashboard=http://127.0.0.1:3000,accounts=http://127.0.0.1:4000]
    #[arg(long, env = "SHELL_SERVICES", value_name = "PAIRS")]
    pub services: Option<String>,
    /// The full configuration (public URLs, timeouts, sections); see shell.example.toml
    #[arg(long, env = "SHELL_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Time a fragment gets before its fallback is shown, in ms [default: 1000]
    #[arg(long, env = "SHELL_FRAGMENT_TIMEOUT_MS", value_name = "MS")]
    pub fragment_timeout_ms: Option<u64>,
    /// Time a whole page gets, in ms [default: fragment timeout + 1000]
    #[arg(long, env = "SHELL_PAGE_BUDGET_MS", value_name = "MS")]
    pub page_budget_ms: Option<u64>,
    /// Seconds between manifest refreshes [default: 30]
    #[arg(long, env = "SHELL_MANIFEST_REFRESH_SECS", value_name = "SECS")]
    pub manifest_refresh_secs: Option<u64>,
    /// Per-browser overrides: the hosts a browser may point a service at, comma separated
    /// (`localhost`, `pricing.dev.example`, `*.dev.example`); empty: off. `--dev` allows the
    /// loopback hosts
    #[arg(long, env = "ALLOW_OVERRIDES", value_name = "HOSTS")]
    pub allow_overrides: Option<String>,
    /// Memory for the last good copies of the services' CSS and controllers, served while a
    /// service is down, in MiB; 0 keeps none [default: 8]
    #[arg(long, env = "SHELL_ASSET_CACHE_MIB", value_name = "MIB")]
    pub asset_cache_mib: Option<u64>,
    /// HTTP worker threads
    #[arg(long, env = "SHELL_WORKERS", default_value_t = 2)]
    pub workers: usize,
    /// Port of the admin listener, on the same bind address: the status page (`GET /`) and
    /// `GET /metrics` (Prometheus), nothing else; never served on the public port (0 picks
    /// a free one)
    #[arg(long, env = "ADMIN_PORT", default_value_t = DEFAULT_ADMIN_PORT)]
    pub admin_port: u16,
    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Exit 0 when a shell on --bind (0.0.0.0: 127.0.0.1, :: : ::1) and --port (default
    /// 8000) answers /healthz with 200, else 1
    Healthcheck,
    /// Check a fragment server (any language) against the contract of `docs/CONTRACT.md` and
    /// print a report; exits 1 when a check fails
    Check {
        /// The server's base URL, e.g. http://127.0.0.1:1313
        url: String,
        /// Also check everything the contract requires that is visible from outside
        /// (security headers, HEAD, request ids, the base path, the user context, the
        /// preview): the definition of joining
        #[arg(long)]
        strict: bool,
        /// The server's CONTEXT_SECRET, to sign user contexts with in --strict [default: the
        /// secret of docs/context-vectors.json]
        #[arg(
            long = "context-secret",
            env = "CONTEXT_SECRET",
            hide_env_values = true
        )]
        context_secret: Option<String>,
    },
}

/// One registered service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConfig {
    /// Its name, as in its manifest and in `/svc/{name}/…`.
    pub name: String,
    /// Where the shell reaches it, without a trailing slash (`http://127.0.0.1:1313`).
    pub url: String,
    /// Where browsers reach it in direct mode (an origin like `https://pricing.example`).
    pub public_url: Option<String>,
}

/// A fragment placed on a page.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotConfig {
    /// The service that serves it.
    pub service: String,
    /// The fragment id in that service's manifest.
    pub fragment: String,
    /// `inline` (the default), `async` or `lazy`: see [`SlotMode`].
    #[serde(default)]
    pub mode: SlotMode,
}

/// A section: one page of the site.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectionConfig {
    /// Identifier (`dashboard`).
    pub id: String,
    /// Title in the nav and the `<title>` (`Dashboard`).
    pub title: String,
    /// Its path (`/dashboard`).
    pub path: String,
    /// The page's `<meta name="description">`: one sentence for search results (default:
    /// "{title}: a page of {brand}.").
    #[serde(default)]
    pub description: Option<String>,
    /// Its fragments, in page order.
    pub slots: Vec<SlotConfig>,
}

/// A fragment in the chrome (the header), on every page.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChromeConfig {
    /// Where it goes (`user-menu`).
    pub slot: String,
    /// The service that serves it.
    pub service: String,
    /// The fragment id.
    pub fragment: String,
    /// Accessible title (`Account menu`).
    pub title: String,
    /// `inline` (the default), `async` or `lazy`: see [`SlotMode`].
    #[serde(default)]
    pub mode: SlotMode,
}

/// The checked configuration the shell runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address, context secret.
    pub common: Common,
    /// Services, in the order given.
    pub services: Vec<ServiceConfig>,
    /// Sections, in nav order.
    pub sections: Vec<SectionConfig>,
    /// The header's fragments.
    pub chrome: Vec<ChromeConfig>,
    /// The section `/` shows.
    pub default_section: String,
    /// The service answering `GET /internal/session` (none: everybody is signed out).
    pub session_service: Option<String>,
    /// Time a fragment gets.
    pub fragment_timeout: Duration,
    /// Time a page gets.
    pub page_budget: Duration,
    /// Time a proxied request gets.
    pub proxy_timeout: Duration,
    /// Time between manifest refreshes.
    pub manifest_refresh: Duration,
    /// Bytes of assets' last good copies kept ([`crate::asset_cache`]); 0 keeps none.
    pub asset_cache_bytes: u64,
    /// The shell's public origin, for CORS of direct-mode services (informational).
    pub public_origin: Option<String>,
    /// The product name in the header and titles.
    pub brand: String,
    /// HTTP worker threads.
    pub workers: usize,
    /// Where the admin listener (`/metrics`) binds: the bind address, the admin port.
    pub admin_addr: SocketAddr,
    /// The hosts a browser may point a service at (per-browser overrides); none: off.
    pub allow_overrides: HostPatterns,
    /// Development mode (`--dev`): the dev loop's routes ([`crate::dev`]) are mounted.
    pub dev: bool,
}

/// The file form (`--config shell.toml`); every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    brand: Option<String>,
    fragment_timeout_ms: Option<u64>,
    page_budget_ms: Option<u64>,
    proxy_timeout_ms: Option<u64>,
    manifest_refresh_secs: Option<u64>,
    asset_cache_mib: Option<u64>,
    default_section: Option<String>,
    session_service: Option<String>,
    public_origin: Option<String>,
    #[serde(default)]
    services: Vec<FileService>,
    sections: Option<Vec<SectionConfig>>,
    chrome: Option<Vec<ChromeConfig>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileService {
    name: String,
    url: String,
    public_url: Option<String>,
}

fn slot(service: &str, fragment: &str) -> SlotConfig {
    SlotConfig {
        service: service.to_owned(),
        fragment: fragment.to_owned(),
        mode: SlotMode::Inline,
    }
}

/// The default sections: dashboard (overview + pricing teaser), accounts, pricing.
pub fn default_sections() -> Vec<SectionConfig> {
    vec![
        SectionConfig {
            id: "dashboard".into(),
            title: "Dashboard".into(),
            path: "/dashboard".into(),
            description: Some(
                "Your home on Mosaic: your plan, what it includes and your account's recent activity."
                    .into(),
            ),
            slots: vec![slot("dashboard", "overview"), slot("pricing", "teaser")],
        },
        SectionConfig {
            id: "accounts".into(),
            title: "Account".into(),
            path: "/accounts".into(),
            description: Some(
                "Sign in to Mosaic or create an account, and change your name and plan.".into(),
            ),
            slots: vec![slot("accounts", "account")],
        },
        SectionConfig {
            id: "pricing".into(),
            title: "Pricing".into(),
            path: "/pricing".into(),
            description: Some(
                "Mosaic's plans and prices, monthly or yearly: start free, upgrade when your team needs more."
                    .into(),
            ),
            slots: vec![slot("pricing", "plans")],
        },
    ]
}

/// The default chrome: the accounts user menu in the header.
pub fn default_chrome() -> Vec<ChromeConfig> {
    vec![ChromeConfig {
        slot: "user-menu".into(),
        service: "accounts".into(),
        fragment: "user-menu".into(),
        title: "Account menu".into(),
        mode: SlotMode::Inline,
    }]
}

/// The dev loop's event stream (`--dev` only, [`crate::dev`]), which pages name in
/// `data-fragment-loader-dev-events-value`. Here, below the page template that names it.
pub const DEV_EVENTS_PATH: &str = "/_mosaic/dev/events";
/// The launcher's restart notice (`--dev` only, admin port).
pub const DEV_RESTARTED_PATH: &str = "/_mosaic/dev/restarted";

/// Paths the shell keeps for itself; a section cannot take them.
const RESERVED: &[&str] = &[
    "/svc",
    "/_mosaic",
    "/assets",
    "/registry.json",
    "/healthz",
    "/readyz",
    "/metrics",
];

/// A name of the contract: 1 to 40 of a-z, 0-9 and `-`, starting with a letter
/// ([`shared_ui::contract::is_name`], which this delegates to; the proxy and the fuzz
/// targets still call it by this name).
pub fn valid_name(name: &str) -> bool {
    is_name(name)
}

/// Parses `name=url,name=url`.
pub fn parse_pairs(pairs: &str) -> Result<Vec<(String, String)>, SettingError> {
    let mut out = Vec::new();
    for pair in pairs.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, url)) = pair.split_once('=') else {
            return Err(SettingError::new(
                SERVICES_SETTING,
                format!("`{pair}` is not a name=url pair"),
            ));
        };
        out.push((name.trim().to_owned(), url.trim().to_owned()));
    }
    Ok(out)
}

fn bad(name: &'static str, problem: impl Into<String>) -> SettingError {
    SettingError::new(name, problem)
}

/// The timeouts of [`Config`], checked.
struct Timeouts {
    fragment: Duration,
    page: Duration,
    proxy: Duration,
    refresh: Duration,
}

impl Settings {
    /// The port `healthcheck` probes.
    pub fn port(&self) -> u16 {
        self.common.port.unwrap_or(DEFAULT_PORT)
    }

    /// Checks every setting; the error names the first bad one: the shared settings, the
    /// file, the services, the sections and the chrome, then the rest.
    pub fn resolve(&self) -> Result<Config, SettingError> {
        let common = self.common.resolve(DEFAULT_PORT)?;
        let mut file = read_file(self.config.as_deref())?;
        let services = self.services(&file.services)?;
        let known = |name: &str| services.iter().any(|s| s.name == name);
        let sections = file.sections.take().unwrap_or_else(default_sections);
        check_sections(&sections, &known)?;
        let chrome = file.chrome.take().unwrap_or_else(default_chrome);
        check_chrome(&chrome, &known)?;
        let default_section = file
            .default_section
            .take()
            .unwrap_or_else(|| sections[0].id.clone());
        if !sections.iter().any(|s| s.id == default_section) {
            return Err(bad(
                CONFIG_SETTING,
                format!("default_section `{default_section}` is not a section"),
            ));
        }
        let session_service = session_service(file.session_service.take(), &known)?;
        let public_origin = match file.public_origin.take() {
            None => None,
            Some(o) => Some(
                origin_of(&o).map_err(|e| bad(CONFIG_SETTING, format!("public_origin: {e}")))?,
            ),
        };
        let timeouts = self.timeouts(&file)?;
        let admin_addr = self.admin_addr(&common)?;
        if self.workers == 0 || self.workers > 64 {
            return Err(bad("--workers / SHELL_WORKERS", "must be 1 to 64"));
        }
        let allow_overrides = HostPatterns::parse(
            self.allow_overrides.as_deref().unwrap_or_default(),
            self.common.dev,
        )
        .map_err(|e| bad(hosts::SETTING, e.to_string()))?;
        let brand = file.brand.take().unwrap_or_else(|| "Mosaic".to_owned());
        if brand.trim().is_empty() || brand.len() > 60 {
            return Err(bad(CONFIG_SETTING, "brand must be 1 to 60 characters"));
        }
        Ok(Config {
            common,
            services,
            sections,
            chrome,
            default_section,
            session_service,
            fragment_timeout: timeouts.fragment,
            page_budget: timeouts.page,
            proxy_timeout: timeouts.proxy,
            manifest_refresh: timeouts.refresh,
            asset_cache_bytes: self.asset_cache_bytes(&file)?,
            public_origin,
            brand,
            workers: self.workers,
            admin_addr,
            allow_overrides,
            dev: self.common.dev,
        })
    }

    /// The services: the file's, then `SHELL_SERVICES` replaces URLs by name or adds
    /// services; the three local ones when neither lists any.
    fn services(&self, listed: &[FileService]) -> Result<Vec<ServiceConfig>, SettingError> {
        let mut services = file_services(listed)?;
        let pairs = match (&self.services, listed.is_empty()) {
            (Some(p), _) => parse_pairs(p)?,
            (None, true) => parse_pairs(DEFAULT_SERVICES)?,
            (None, false) => Vec::new(),
        };
        let mut from_pairs = HashSet::new();
        for (name, raw) in pairs {
            let name = service_name(SERVICES_SETTING, &name)?;
            if !from_pairs.insert(name.clone()) {
                return Err(bad(
                    SERVICES_SETTING,
                    format!("service `{name}` is listed twice"),
                ));
            }
            let url = service_url(SERVICES_SETTING, &name, &raw)?;
            match services.iter_mut().find(|s| s.name == name) {
                Some(existing) => existing.url = url,
                None => services.push(ServiceConfig {
                    name,
                    url,
                    public_url: None,
                }),
            }
        }
        Ok(services)
    }

    /// The fragment timeout, the page budget, the proxy timeout and the manifest refresh.
    fn timeouts(&self, file: &FileConfig) -> Result<Timeouts, SettingError> {
        let fragment_ms = self
            .fragment_timeout_ms
            .or(file.fragment_timeout_ms)
            .unwrap_or(1000);
        if !(10..=60_000).contains(&fragment_ms) {
            return Err(bad(
                "--fragment-timeout-ms / SHELL_FRAGMENT_TIMEOUT_MS",
                "must be between 10 and 60000",
            ));
        }
        let page_ms = self
            .page_budget_ms
            .or(file.page_budget_ms)
            .unwrap_or(fragment_ms + 1000);
        if page_ms < fragment_ms || page_ms > 120_000 {
            return Err(bad(
                "--page-budget-ms / SHELL_PAGE_BUDGET_MS",
                "must be at least the fragment timeout and at most 120000",
            ));
        }
        let proxy_ms = file.proxy_timeout_ms.unwrap_or(10_000);
        if !(100..=120_000).contains(&proxy_ms) {
            return Err(bad(
                CONFIG_SETTING,
                "proxy_timeout_ms must be 100 to 120000",
            ));
        }
        let refresh = self
            .manifest_refresh_secs
            .or(file.manifest_refresh_secs)
            .unwrap_or(30);
        if !(1..=86_400).contains(&refresh) {
            return Err(bad(
                "--manifest-refresh-secs / SHELL_MANIFEST_REFRESH_SECS",
                "must be between 1 and 86400",
            ));
        }
        Ok(Timeouts {
            fragment: Duration::from_millis(fragment_ms),
            page: Duration::from_millis(page_ms),
            proxy: Duration::from_millis(proxy_ms),
            refresh: Duration::from_secs(refresh),
        })
    }

    /// The bytes of the asset cache: `--asset-cache-mib`, else the file's, else 8 MiB.
    fn asset_cache_bytes(&self, file: &FileConfig) -> Result<u64, SettingError> {
        let mib = self
            .asset_cache_mib
            .or(file.asset_cache_mib)
            .unwrap_or(DEFAULT_ASSET_CACHE_MIB);
        if mib > 1024 {
            return Err(bad(
                "--asset-cache-mib / SHELL_ASSET_CACHE_MIB",
                "must be between 0 and 1024",
            ));
        }
        Ok(mib * 1024 * 1024)
    }

    /// Where the admin listener binds: the bind address, the admin port (never the public
    /// port).
    fn admin_addr(&self, common: &Common) -> Result<SocketAddr, SettingError> {
        if self.admin_port != 0 && self.admin_port == common.addr.port() {
            return Err(bad(
                "--admin-port / ADMIN_PORT",
                format!(
                    "must differ from --port ({}): /metrics is never served on the public port",
                    self.admin_port
                ),
            ));
        }
        Ok(SocketAddr::new(common.addr.ip(), self.admin_port))
    }
}

/// The file of `--config`, or the defaults when none is given.
fn read_file(path: Option<&Path>) -> Result<FileConfig, SettingError> {
    let Some(path) = path else {
        return Ok(FileConfig::default());
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        bad(
            CONFIG_SETTING,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    toml::from_str(&text).map_err(|e| bad(CONFIG_SETTING, format!("{}: {e}", path.display())))
}

/// The services of the file, checked.
fn file_services(listed: &[FileService]) -> Result<Vec<ServiceConfig>, SettingError> {
    let mut services: Vec<ServiceConfig> = Vec::new();
    for s in listed {
        let name = service_name(CONFIG_SETTING, &s.name)?;
        if services.iter().any(|known| known.name == name) {
            return Err(bad(
                CONFIG_SETTING,
                format!("service `{name}` is listed twice"),
            ));
        }
        let url = service_url(CONFIG_SETTING, &name, &s.url)?;
        let public_url =
            match &s.public_url {
                None => None,
                Some(p) => Some(origin_of(p).map_err(|e| {
                    bad(CONFIG_SETTING, format!("service `{name}` public_url: {e}"))
                })?),
            };
        services.push(ServiceConfig {
            name,
            url,
            public_url,
        });
    }
    Ok(services)
}

fn service_name(setting: &'static str, name: &str) -> Result<String, SettingError> {
    match name.parse::<ServiceName>() {
        Ok(name) => Ok(name.into_string()),
        Err(e) => Err(bad(setting, format!("service name {e}"))),
    }
}

fn service_url(setting: &'static str, name: &str, raw: &str) -> Result<String, SettingError> {
    match raw.parse::<ServiceUrl>() {
        Ok(url) => Ok(url.into_string()),
        Err(e) => Err(bad(setting, format!("service `{name}`: {e}"))),
    }
}

fn origin_of(raw: &str) -> Result<String, ServiceUrlError> {
    raw.parse::<ServiceUrl>().map(|url| url.origin())
}

/// The service answering `GET /internal/session`: the file's (empty: none), else
/// `accounts` when it is registered.
fn session_service(
    named: Option<String>,
    known: &dyn Fn(&str) -> bool,
) -> Result<Option<String>, SettingError> {
    match named {
        Some(name) if name.is_empty() => Ok(None),
        Some(name) if known(&name) => Ok(Some(name)),
        Some(name) => Err(bad(
            CONFIG_SETTING,
            format!("session_service `{name}` is not a registered service"),
        )),
        None => Ok(known("accounts").then(|| "accounts".to_owned())),
    }
}

fn check_chrome(chrome: &[ChromeConfig], known: &dyn Fn(&str) -> bool) -> Result<(), SettingError> {
    let mut slots = HashSet::new();
    for c in chrome {
        if !is_name(&c.slot) || !slots.insert(c.slot.clone()) {
            return Err(bad(
                CONFIG_SETTING,
                format!("chrome slot `{}` is not a name or is listed twice", c.slot),
            ));
        }
        check_slot(
            &format!("chrome `{}`", c.slot),
            &c.service,
            &c.fragment,
            known,
        )?;
    }
    Ok(())
}

fn check_slot(
    place: &str,
    service: &str,
    fragment: &str,
    known: &dyn Fn(&str) -> bool,
) -> Result<(), SettingError> {
    if !known(service) {
        return Err(bad(
            CONFIG_SETTING,
            format!(
                "{place} names unknown service `{}`",
                service.escape_default()
            ),
        ));
    }
    if !is_name(fragment) {
        return Err(bad(
            CONFIG_SETTING,
            format!(
                "{place}: fragment `{}` is not a fragment id",
                fragment.escape_default()
            ),
        ));
    }
    Ok(())
}

fn check_sections(
    sections: &[SectionConfig],
    known: &dyn Fn(&str) -> bool,
) -> Result<(), SettingError> {
    if sections.is_empty() {
        return Err(bad(CONFIG_SETTING, "at least one section is needed"));
    }
    let mut ids = HashSet::new();
    let mut paths = HashSet::new();
    for s in sections {
        let place = format!("section `{}`", s.id.escape_default());
        if !is_name(&s.id) || !ids.insert(s.id.clone()) {
            return Err(bad(
                CONFIG_SETTING,
                format!("{place}: the id must be a name and unique"),
            ));
        }
        if s.title.trim().is_empty() || s.title.len() > 60 {
            return Err(bad(
                CONFIG_SETTING,
                format!("{place}: title must be 1 to 60 characters"),
            ));
        }
        let reserved = RESERVED
            .iter()
            .any(|r| s.path == *r || s.path.starts_with(&format!("{r}/")));
        if !is_safe_path(&s.path) || s.path == "/" || reserved || !paths.insert(s.path.clone()) {
            return Err(bad(
                CONFIG_SETTING,
                format!(
                    "{place}: path `{}` must be a unique path like /dashboard, not / or one the shell keeps",
                    s.path.escape_default()
                ),
            ));
        }
        if s.slots.is_empty() {
            return Err(bad(CONFIG_SETTING, format!("{place} has no slots")));
        }
        let mut slots = HashSet::new();
        for sl in &s.slots {
            check_slot(&place, &sl.service, &sl.fragment, known)?;
            if !slots.insert((sl.service.clone(), sl.fragment.clone())) {
                return Err(bad(
                    CONFIG_SETTING,
                    format!("{place} lists {}/{} twice", sl.service, sl.fragment),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn parse(args: &[&str]) -> Result<Config, SettingError> {
        let mut all = vec!["shell"];
        all.extend_from_slice(args);
        Settings::try_parse_from(all).unwrap().resolve()
    }

    #[test]
    fn defaults_register_the_three_local_services_and_sections() {
        let c = parse(&["--services", DEFAULT_SERVICES]).unwrap();
        let names: Vec<_> = c.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["pricing", "dashboard", "accounts"]);
        assert_eq!(c.default_section, "dashboard");
        assert_eq!(c.session_service.as_deref(), Some("accounts"));
        assert_eq!(c.fragment_timeout, Duration::from_millis(1000));
        assert_eq!(c.admin_addr.port(), DEFAULT_ADMIN_PORT);
        assert_eq!(c.asset_cache_bytes, 8 * 1024 * 1024);
        assert!(c.sections[0]
            .slots
            .iter()
            .all(|s| s.mode == SlotMode::Inline));
    }

    #[test]
    fn the_asset_cache_is_bounded_and_can_be_turned_off() {
        let c = parse(&["--asset-cache-mib", "0"]).unwrap();
        assert_eq!(c.asset_cache_bytes, 0);
        let err = parse(&["--asset-cache-mib", "2048"]).unwrap_err();
        assert_eq!(err.name, "--asset-cache-mib / SHELL_ASSET_CACHE_MIB");
    }

    #[test]
    fn slot_modes_are_read_from_the_file_and_a_bad_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shell.toml");
        let write = |mode: &str| {
            std::fs::write(
                &path,
                format!(
                    "[[sections]]\nid = \"d\"\ntitle = \"D\"\npath = \"/d\"\nslots = [\n  {{ service = \"pricing\", fragment = \"a\", mode = \"{mode}\" }},\n  {{ service = \"pricing\", fragment = \"b\", mode = \"lazy\" }},\n]\n\n[[chrome]]\nslot = \"menu\"\nservice = \"accounts\"\nfragment = \"user-menu\"\ntitle = \"Menu\"\nmode = \"async\"\n"
                ),
            )
            .unwrap();
        };
        let args = |path: &std::path::Path| {
            parse(&[
                "--services",
                DEFAULT_SERVICES,
                "--config",
                path.to_str().unwrap(),
            ])
        };
        write("async");
        let c = args(&path).unwrap();
        let modes: Vec<_> = c.sections[0].slots.iter().map(|s| s.mode).collect();
        assert_eq!(modes, [SlotMode::Async, SlotMode::Lazy]);
        assert_eq!(c.chrome[0].mode, SlotMode::Async);
        write("eager");
        let err = args(&path).unwrap_err().to_string();
        assert!(err.contains("eager") && err.contains("`lazy`"), "{err}");
    }

    #[test]
    fn the_admin_port_cannot_be_the_public_port() {
        let err = parse(&["--port", "8123", "--admin-port", "8123"]).unwrap_err();
        assert_eq!(err.name, "--admin-port / ADMIN_PORT");
        let c = parse(&["--port", "0", "--admin-port", "0", "--bind", "::1"]).unwrap();
        assert_eq!(c.admin_addr.to_string(), "[::1]:0");
    }

    #[test]
    fn overrides_are_off_unless_hosts_are_allowed_or_dev_allows_loopback() {
        assert!(!parse(&[]).unwrap().allow_overrides.is_enabled());
        let c = parse(&["--allow-overrides", "localhost,*.dev.example"]).unwrap();
        assert!(c.allow_overrides.is_enabled());
        assert!(parse(&["--dev"]).unwrap().allow_overrides.is_enabled());
        let err = parse(&["--allow-overrides", "*"]).unwrap_err();
        assert_eq!(err.name, hosts::SETTING);
        assert!(err.to_string().contains("every host"), "{err}");
    }

    #[test]
    fn bad_entries_are_refused_with_their_name() {
        for (pairs, needle) in [
            ("Pricing=http://x", "Pricing"),
            ("pricing=ftp://x", "ftp://x"),
            ("pricing=http://a:1,pricing=http://b:2", "twice"),
            ("pricing", "name=url"),
            ("pricing=http://u@x", "user"),
        ] {
            let err = parse(&["--services", pairs]).unwrap_err().to_string();
            assert!(err.contains(needle), "{pairs}: {err}");
            assert!(err.contains("SHELL_SERVICES"), "{err}");
        }
        // The default sections name dashboard and accounts, which are then unknown.
        let err = parse(&["--services", "pricing=http://127.0.0.1:1"]).unwrap_err();
        assert!(
            err.to_string().contains("unknown service `dashboard`"),
            "{err}"
        );
    }
}
