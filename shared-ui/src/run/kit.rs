//! The service kit: what every fragment service does the same way, written once.
//!
//! A service declares only what is its own, in a [`Service`]: its name and version, its
//! fragments (id, path, title, fallback) with their handlers, its assets (CSS, Stimulus
//! controllers), its actions, its state, its extra routes, its readiness check and its
//! preview. Its binary implements [`Team`] (name, port, its own clap settings flattened next
//! to [`CommonSettings`]) and its `main` is `shared_ui::kit::main::<MyTeam>()`.
//!
//! The kit provides the rest: the manifest (built from the declarations and validated),
//! `GET /manifest.json`, `/healthz`, `/readyz`, `GET /metrics` (Prometheus: the request
//! metrics and the service's own, [`Service::metrics`]), `/assets/…` (with ETags), the 404
//! page of an unknown fragment, the standalone preview at `/` (the fragments inside a
//! shared-ui page with Stimulus), security headers, CORS for direct mode, request ids and
//! W3C trace context, the guard's limits, compression ([`crate::compress`]), tracing, the
//! `healthcheck` subcommand, exit code 2 on a bad setting naming it, a graceful stop on
//! SIGTERM (`/readyz` 503, no new connections, the requests in flight finish within
//! `SHUTDOWN_GRACE`): all of it the shared [`crate::server::Server`], which the shell runs
//! on too. [`Application`] (build, port, handle, run until stopped) is what tests bind on
//! port 0.
//!
//! ```no_run
//! use shared_ui::kit::{self, Fragment, NoSettings, Service, Team};
//! use shared_ui::maud::html;
//! use shared_ui::server::StartError;
//! use shared_ui::settings::Common;
//!
//! struct Hello;
//!
//! impl Team for Hello {
//!     const BINARY: &'static str = "svc-hello";
//!     const ABOUT: &'static str = "Says hello.";
//!     const VERSION: &'static str = env!("CARGO_PKG_VERSION");
//!     const PORT: u16 = 5000;
//!     type Settings = NoSettings;
//!     async fn service(_: NoSettings, _: &Common) -> Result<Service, StartError> {
//!         Ok(Service::new("hello", Self::VERSION).fragment("greeting", "Greeting", || async {
//!             Fragment::new("public, max-age=60", html! {
//!                 p data-fragment="hello/greeting" { "Hello" }
//!             })
//!         }))
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     kit::main::<Hello>()
//! }
//! ```

use std::ffi::OsString;
use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::{from_fn, Next};
use actix_web::{
    web, App, FromRequest, Handler, HttpRequest, HttpResponse, Responder, ResponseError,
};
use clap::{CommandFactory, FromArgMatches};
use maud::{html, Markup};
use sha2::{Digest, Sha256};

use crate::assets::{Asset, AssetSet};
use crate::components::{self, badge, site_header, NavItem, PageOptions, Tone};
use crate::context::{current_user, ContextKey};
use crate::contract::{ContractError, ControllerAsset, FragmentSpec, Manifest, ManifestAssets};
use crate::health::{self, Readiness};
use crate::metrics::{self, prometheus_client, Metrics};
use crate::respond;
use crate::security;
use crate::server::{self, Running, Server, StartError};
use crate::settings::{Common, CommonSettings};

type Configure = Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>;
type MakeRoute = Arc<dyn Fn() -> actix_web::Route + Send + Sync>;
type Render = Arc<dyn Fn(&HttpRequest) -> Markup + Send + Sync>;
type Observer = Arc<dyn Fn(&Outcome<'_>) + Send + Sync>;
type RegisterMetrics = Box<dyn FnOnce(&mut prometheus_client::registry::Registry) + Send + Sync>;

/// A team's binary: its name, its port, its own settings and how it builds its [`Service`].
pub trait Team {
    /// The binary's name (`svc-pricing`): in `--help` and before every start-up error.
    const BINARY: &'static str;
    /// One line for `--help`.
    const ABOUT: &'static str;
    /// The crate version (`env!("CARGO_PKG_VERSION")`), for `--version` and the manifest.
    const VERSION: &'static str;
    /// The default port (`DESIGN.md`).
    const PORT: u16;
    /// The service's own settings, a `clap::Args` struct flattened beside
    /// [`CommonSettings`]; [`NoSettings`] when it has none.
    type Settings: clap::Args + Send + 'static;

    /// Checks the service's own settings and declares the service. A
    /// [`SettingError`](crate::settings::SettingError) (wrapped with `?`) stops the start
    /// with exit code 2 and its message.
    fn service(
        settings: Self::Settings,
        common: &Common,
    ) -> impl Future<Output = Result<Service, StartError>>;

    /// Adjusts the command line (e.g. `args_override_self`); unchanged by default.
    fn command(command: clap::Command) -> clap::Command {
        command
    }
}

/// A service without settings of its own.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct NoSettings {}

/// The command line of a team's binary: the shared settings, the team's own, and the
/// `healthcheck` subcommand. A flag given twice keeps its last value (so tests and scripts
/// can override one).
#[derive(Debug, clap::Parser)]
#[command(args_override_self = true)]
pub struct Cli<S: clap::Args> {
    /// Settings every service shares.
    #[command(flatten)]
    pub common: CommonSettings,
    /// The service's own settings.
    #[command(flatten)]
    pub own: S,
    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands every service has.
#[derive(Debug, Clone, Copy, clap::Subcommand)]
pub enum Command {
    /// Exit 0 when a service on --port answers /healthz with 200, else 1
    Healthcheck,
}

/// The `clap::Command` of a team's binary.
pub fn command<T: Team>() -> clap::Command {
    let healthcheck = format!(
        "Exit 0 when a service on --port (default {}) answers /healthz with 200, else 1",
        T::PORT
    );
    T::command(
        Cli::<T::Settings>::command()
            .name(T::BINARY)
            .bin_name(T::BINARY)
            .about(T::ABOUT)
            .version(T::VERSION)
            .mut_subcommand("healthcheck", |c| c.about(healthcheck)),
    )
}

/// Parses a team's command line (`args` starts with the program name).
pub fn parse<T: Team, I, A>(args: I) -> Result<Cli<T::Settings>, clap::Error>
where
    I: IntoIterator<Item = A>,
    A: Into<OsString> + Clone,
{
    let matches = command::<T>().try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

/// The whole `main` of a team's binary: read the settings, answer `healthcheck`, or build
/// and run the server ([`server::main`]). A bad setting exits with code 2 and a message
/// naming it.
pub fn main<T: Team>() -> ExitCode {
    let cli = match parse::<T, _, _>(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if let Some(Command::Healthcheck) = cli.command {
        return health::healthcheck(cli.common.port.unwrap_or(T::PORT));
    }
    server::main(T::BINARY, async move {
        Ok(Application::build::<T>(cli).await?.run_until_stopped())
    })
}

/// One answered request, for a service's [`Service::observe`] hook (metrics).
#[derive(Debug)]
pub struct Outcome<'a> {
    /// The request method.
    pub method: &'a Method,
    /// The request path.
    pub path: &'a str,
    /// The answer's status.
    pub status: StatusCode,
    /// From the request reaching the service to the answer's head leaving it.
    pub elapsed: Duration,
}

struct FragmentDecl {
    spec: FragmentSpec,
    route: MakeRoute,
    render: Option<Render>,
}

/// What a service declares; see the module doc.
pub struct Service {
    name: String,
    crate_version: String,
    version: Option<String>,
    version_inputs: Vec<Vec<u8>>,
    fragments: Vec<FragmentDecl>,
    assets: Vec<Asset>,
    css: Vec<String>,
    controllers: Vec<ControllerAsset>,
    actions: Vec<String>,
    action_routes: Vec<(String, MakeRoute)>,
    data: Vec<Configure>,
    routes: Vec<Configure>,
    readiness: Readiness,
    observer: Option<Observer>,
    metrics: Vec<RegisterMetrics>,
    preview_heading: Option<String>,
    preview_intro: Option<String>,
    preview: Option<MakeRoute>,
    workers: usize,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("name", &self.name)
            .field("fragments", &self.fragments.len())
            .finish_non_exhaustive()
    }
}

fn route_of<F, Args>(route: fn() -> actix_web::Route, handler: F) -> MakeRoute
where
    F: Handler<Args> + Send + Sync,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    Arc::new(move || route().to(handler.clone()))
}

impl Service {
    /// A service called `name` (manifest name, `/svc/{name}` in the shell) whose version
    /// is `crate_version` plus a hash of its assets and [`Service::version_input`]s.
    pub fn new(name: &str, crate_version: &str) -> Self {
        Self {
            name: name.to_owned(),
            crate_version: crate_version.to_owned(),
            version: None,
            version_inputs: Vec::new(),
            fragments: Vec::new(),
            assets: Vec::new(),
            css: Vec::new(),
            controllers: Vec::new(),
            actions: Vec::new(),
            action_routes: Vec::new(),
            data: Vec::new(),
            routes: Vec::new(),
            readiness: Readiness::always(),
            observer: None,
            metrics: Vec::new(),
            preview_heading: None,
            preview_intro: None,
            preview: None,
            workers: 2,
        }
    }

    /// A fragment at `/fragments/{id}`, answered by an actix-web handler (GET and HEAD)
    /// that returns a [`Fragment`].
    pub fn fragment<F, Args>(self, id: &str, title: &str, handler: F) -> Self
    where
        F: Handler<Args> + Send + Sync,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let path = format!("/fragments/{id}");
        self.fragment_at(id, &path, title, handler)
    }

    /// A fragment at another path.
    pub fn fragment_at<F, Args>(mut self, id: &str, path: &str, title: &str, handler: F) -> Self
    where
        F: Handler<Args> + Send + Sync,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.fragments.push(FragmentDecl {
            spec: FragmentSpec {
                id: id.to_owned(),
                path: path.to_owned(),
                title: title.to_owned(),
                fallback: None,
            },
            route: route_of(respond::read, handler),
            render: None,
        });
        self
    }

    /// A fragment rendered by a plain function, answered `Cache-Control: no-cache`; the
    /// default preview shows it.
    pub fn fragment_fn(
        mut self,
        id: &str,
        title: &str,
        render: impl Fn(&HttpRequest) -> Markup + Send + Sync + 'static,
    ) -> Self {
        let render: Render = Arc::new(render);
        let handler = {
            let render = render.clone();
            move |req: HttpRequest| {
                let markup = render(&req);
                async move { Fragment::new("no-cache", markup) }
            }
        };
        self = self.fragment(id, title, handler);
        if let Some(last) = self.fragments.last_mut() {
            last.render = Some(render);
        }
        self
    }

    /// The fallback HTML of the fragment declared last.
    pub fn fallback(mut self, html: impl Into<String>) -> Self {
        if let Some(last) = self.fragments.last_mut() {
            last.spec.fallback = Some(html.into());
        }
        self
    }

    /// A stylesheet, served at `/assets/{file}` and listed in the manifest.
    pub fn css(mut self, file: &'static str, body: &'static [u8]) -> Self {
        self.assets.push(Asset::revalidated(file, body));
        self.css.push(format!("/assets/{file}"));
        self
    }

    /// A Stimulus controller module, served at `/assets/{file}` and listed in the manifest.
    pub fn controller(mut self, identifier: &str, file: &'static str, body: &'static [u8]) -> Self {
        self.assets.push(Asset::revalidated(file, body));
        self.controllers.push(ControllerAsset {
            identifier: identifier.to_owned(),
            module: format!("/assets/{file}"),
        });
        self
    }

    /// Another file served at `/assets/{name}` (not listed in the manifest).
    pub fn asset(mut self, asset: Asset) -> Self {
        self.assets.push(asset);
        self
    }

    /// More bytes the version hashes (after the assets): e.g. the data the fragments show.
    pub fn version_input(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.version_inputs.push(bytes.into());
        self
    }

    /// A version of the service's own making, instead of the hashed one.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// A form action: `POST path` answered by `handler`, listed in the manifest.
    pub fn action<F, Args>(mut self, path: &str, handler: F) -> Self
    where
        F: Handler<Args> + Send + Sync,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.actions.push(path.to_owned());
        self.action_routes
            .push((path.to_owned(), route_of(web::post, handler)));
        self
    }

    /// Lists an action in the manifest whose route the service mounts itself
    /// ([`Service::routes`]).
    pub fn declare_action(mut self, path: &str) -> Self {
        self.actions.push(path.to_owned());
        self
    }

    /// App data for the handlers (a `web::Data<T>`, an extractor config, …).
    pub fn app_data<U: Clone + Send + Sync + 'static>(mut self, data: U) -> Self {
        self.data.push(Arc::new(move |cfg| {
            cfg.app_data(data.clone());
        }));
        self
    }

    /// The service's state, read in handlers as `web::Data<T>`.
    pub fn state<T: Send + Sync + 'static>(self, state: T) -> Self {
        self.app_data(web::Data::new(state))
    }

    /// The service's own routes besides fragments and actions (mounted before the kit's
    /// catch-alls).
    pub fn routes(
        mut self,
        configure: impl Fn(&mut web::ServiceConfig) + Send + Sync + 'static,
    ) -> Self {
        self.routes.push(Arc::new(configure));
        self
    }

    /// What `/readyz` asks: `Err(why)` answers 503 with the reason.
    pub fn readiness(
        mut self,
        check: impl Fn() -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.readiness = Readiness(Arc::new(check));
        self
    }

    /// Called after every answer, inside the request-id span (metrics).
    pub fn observe(mut self, observer: impl Fn(&Outcome<'_>) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// The service's own metrics: `register` adds them to the app's registry when the app
    /// is built (beside `http_requests_total` and `http_request_duration_seconds`), and
    /// `GET /metrics` shows them. Keep clones of the metrics to update them.
    pub fn metrics(
        mut self,
        register: impl FnOnce(&mut prometheus_client::registry::Registry) + Send + Sync + 'static,
    ) -> Self {
        self.metrics.push(Box::new(register));
        self
    }

    /// The preview page's heading and introduction.
    pub fn preview(mut self, heading: &str, intro: &str) -> Self {
        self.preview_heading = Some(heading.to_owned());
        self.preview_intro = Some(intro.to_owned());
        self
    }

    /// The preview's content, from a handler returning a [`Preview`]; by default the
    /// preview shows the fragments declared with [`Service::fragment_fn`] and links to the
    /// others.
    pub fn preview_with<F, Args>(mut self, handler: F) -> Self
    where
        F: Handler<Args> + Send + Sync,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.preview = Some(route_of(respond::read, handler));
        self
    }

    /// HTTP worker threads (default 2).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// `<crate version>+<12 hex of sha256 of the assets and the version inputs>`, or the
    /// version given with [`Service::version`].
    pub fn version_string(&self) -> String {
        if let Some(v) = &self.version {
            return v.clone();
        }
        let mut hash = Sha256::new();
        let parts = self.assets.iter().map(|a| a.body);
        for part in parts.chain(self.version_inputs.iter().map(Vec::as_slice)) {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        let digest = hex::encode(hash.finalize());
        format!("{}+{}", self.crate_version, &digest[..12])
    }

    /// The manifest of the declarations, validated.
    pub fn manifest(&self) -> Result<Manifest, ContractError> {
        let manifest = Manifest {
            name: self.name.clone(),
            version: self.version_string(),
            fragments: self.fragments.iter().map(|f| f.spec.clone()).collect(),
            assets: ManifestAssets {
                css: self.css.clone(),
                controllers: self.controllers.clone(),
            },
            actions: self.actions.clone(),
        };
        manifest.validate()?;
        Ok(manifest)
    }

    fn configure(&self, cfg: &mut web::ServiceConfig) {
        for data in &self.data {
            data(cfg);
        }
        let preview = self
            .preview
            .as_ref()
            .map_or_else(|| respond::read().to(default_preview), |r| r());
        cfg.route("/", preview)
            .route("/manifest.json", respond::read().to(manifest))
            .route("/metrics", respond::read().to(metrics::serve));
        for f in &self.fragments {
            cfg.route(&f.spec.path, (f.route)());
        }
        for (path, route) in &self.action_routes {
            cfg.route(path, route());
        }
        for routes in &self.routes {
            routes(cfg);
        }
        cfg.route("/fragments/{id}", respond::read().to(unknown_fragment))
            .route("/assets/{file}", respond::read().to(own_asset))
            .configure(health::configure);
    }
}

/// What the kit's handlers and responders know about the running service (app data).
#[derive(Debug)]
pub struct Info {
    /// The manifest, validated.
    pub manifest: Manifest,
    manifest_json: String,
    assets: AssetSet,
    preview_heading: String,
    preview_intro: String,
    /// Each fragment's path, title and render function (for the default preview).
    renders: Vec<(String, String, Option<RenderDebug>)>,
}

struct RenderDebug(Render);

impl std::fmt::Debug for RenderDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("render")
    }
}

impl Info {
    fn new(spec: &Service, manifest: &Manifest) -> Result<Self, StartError> {
        Ok(Self {
            manifest_json: serde_json::to_string(manifest)
                .map_err(|e| StartError::service(e.to_string()))?,
            manifest: manifest.clone(),
            assets: AssetSet::new(&spec.assets),
            preview_heading: spec
                .preview_heading
                .clone()
                .unwrap_or_else(|| spec.name.clone()),
            preview_intro: spec
                .preview_intro
                .clone()
                .unwrap_or_else(|| format!("svc-{} on its own, with no shell running.", spec.name)),
            renders: spec
                .fragments
                .iter()
                .map(|f| {
                    let render = f.render.clone().map(RenderDebug);
                    (f.spec.path.clone(), f.spec.title.clone(), render)
                })
                .collect(),
        })
    }

    /// The manifest version, sent on every fragment.
    pub fn version(&self) -> &str {
        &self.manifest.version
    }

    /// The service's page around `body`: the shared chrome, its CSS and controllers, a
    /// heading and an introduction.
    pub fn preview_page(&self, req: &HttpRequest, body: Markup) -> HttpResponse {
        let name = &self.manifest.name;
        let mut opts = PageOptions::new(&format!("{} · svc-{name} preview", self.preview_heading));
        opts.stylesheets = self.manifest.assets.css.clone();
        opts.controllers = self.manifest.assets.controllers.clone();
        let nav = [
            NavItem {
                href: "/".into(),
                label: "Preview".into(),
                current: true,
            },
            NavItem {
                href: "/manifest.json".into(),
                label: "Manifest".into(),
                current: false,
            },
        ];
        let aside = match current_user(req) {
            Some(u) => html! { span class="muted" { "Signed in as " strong { (u.name) } } },
            None => badge("Signed out", Tone::Info),
        };
        let page = components::page(
            &opts,
            html! {
                (site_header(&format!("Mosaic {name}"), "/", &nav, aside))
                main id="main" class=(format!("container {name}-preview")) {
                    div class=(format!("{name}-preview__intro")) {
                        h1 { (self.preview_heading) }
                        p class="muted" { (self.preview_intro) }
                    }
                    (body)
                }
            },
        );
        HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(page.into_string())
    }
}

fn info_of(req: &HttpRequest) -> Option<&Info> {
    req.app_data::<web::Data<Info>>().map(|d| d.get_ref())
}

/// A fragment answer: its markup and an honest `Cache-Control`; the kit adds the content
/// type, the manifest version header and `Vary`.
#[derive(Debug)]
pub struct Fragment {
    cache_control: String,
    markup: Markup,
}

impl Fragment {
    /// A fragment with this `Cache-Control` (`public, max-age=30`, `private, no-store`, …).
    pub fn new(cache_control: impl Into<String>, markup: Markup) -> Self {
        Self {
            cache_control: cache_control.into(),
            markup,
        }
    }
}

impl Responder for Fragment {
    type Body = BoxBody;

    fn respond_to(self, req: &HttpRequest) -> HttpResponse {
        let version = info_of(req).map_or("", Info::version);
        respond::fragment_response(version, &self.cache_control, self.markup)
    }
}

/// The content of the preview page; the kit puts it in the service's page.
#[derive(Debug)]
pub struct Preview(pub Markup);

impl Responder for Preview {
    type Body = BoxBody;

    fn respond_to(self, req: &HttpRequest) -> HttpResponse {
        match info_of(req) {
            Some(info) => info.preview_page(req, self.0),
            None => HttpError::Internal("no kit::Info in app data".into()).error_response(),
        }
    }
}

/// Errors a handler answers with: a 400 page quoting the (escaped) problem, or a 500 page
/// that says nothing internal.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The request is not acceptable; the message says why and is shown (escaped).
    #[error("{0}")]
    BadRequest(String),
    /// Something broke; the message is logged, not shown.
    #[error("{0}")]
    Internal(String),
}

impl ResponseError for HttpError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::BadRequest(message) => {
                tracing::info!(%message, "bad request");
                respond::bad_request(message)
            }
            Self::Internal(message) => {
                tracing::error!(error = %message, "internal error");
                respond::error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    html! { p { "The service could not answer. Please try again in a moment." } },
                )
            }
        }
    }
}

async fn manifest(info: web::Data<Info>) -> HttpResponse {
    // `no-cache`: the shell may keep it but asks again, and notices a redeploy from the
    // `x-fragment-version` header anyway.
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .content_type("application/json")
        .body(info.manifest_json.clone())
}

async fn own_asset(
    req: HttpRequest,
    file: web::Path<String>,
    info: web::Data<Info>,
) -> HttpResponse {
    info.assets.respond(&req, &file)
}

async fn unknown_fragment(id: web::Path<String>, info: web::Data<Info>) -> HttpResponse {
    let ids: Vec<&str> = info
        .manifest
        .fragments
        .iter()
        .map(|f| f.id.as_str())
        .collect();
    let last = ids.len().saturating_sub(1);
    respond::error_page(
        StatusCode::NOT_FOUND,
        "Fragment not found",
        html! {
            p {
                "svc-" (info.manifest.name) " has no fragment called " code { (id) } ". It serves "
                @for (i, known) in ids.iter().enumerate() {
                    @if i > 0 { (if i == last { " and " } else { ", " }) }
                    code { (known) }
                }
                "."
            }
        },
    )
}

async fn default_preview(req: HttpRequest, info: web::Data<Info>) -> HttpResponse {
    let body = html! {
        @for (path, title, render) in &info.renders {
            @match render {
                Some(render) => (render.0(&req)),
                None => p { a href=(path) { (title) } },
            }
        }
    };
    info.preview_page(&req, body)
}

/// Middleware calling the service's observer, if any, after every answer.
async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let Some(observer) = req.app_data::<web::Data<Observer>>().cloned() else {
        return next.call(req).await;
    };
    let method = req.method().clone();
    let path = req.path().to_owned();
    let started = Instant::now();
    let res = next.call(req).await?;
    observer(&Outcome {
        method: &method,
        path: &path,
        status: res.status(),
        elapsed: started.elapsed(),
    });
    Ok(res)
}

/// A started, not yet serving, service: the [`Running`] server (its port, handle and
/// stopping flag, through `Deref`) and the manifest it serves.
#[derive(Debug)]
pub struct Application {
    running: Running,
    manifest: Manifest,
}

impl std::ops::Deref for Application {
    type Target = Running;

    fn deref(&self) -> &Running {
        &self.running
    }
}

impl Application {
    /// Checks the shared and the team's settings, declares the service and binds it.
    pub async fn build<T: Team>(cli: Cli<T::Settings>) -> Result<Self, StartError> {
        let common = cli.common.resolve(T::PORT)?;
        common.warn_if_dev_secret();
        let service = T::service(cli.own, &common).await?;
        Self::start(service, &common)
    }

    /// Binds a declared service with checked shared settings (port 0 picks a free one) and
    /// starts it on the shared [`Server`], with the service CSP and CORS.
    pub fn start(mut spec: Service, common: &Common) -> Result<Self, StartError> {
        let manifest = spec.manifest()?;
        let mut metrics = Metrics::new();
        for register in std::mem::take(&mut spec.metrics) {
            register(metrics.registry());
        }
        let info = web::Data::new(Info::new(&spec, &manifest)?);
        let server = Server::bind(common)?
            .workers(spec.workers)
            .content_security_policy(security::service_csp())
            .cors(common.cors.clone());
        let port = server.port();
        let key = web::Data::new(ContextKey::new(common.context_secret.clone()));
        let readiness = web::Data::new(spec.readiness.clone());
        let observer = spec.observer.clone().map(web::Data::new);
        let spec = Arc::new(spec);
        let running = server.start(metrics, move || {
            let mut app = App::new()
                .wrap(from_fn(observe))
                .app_data(info.clone())
                .app_data(key.clone())
                .app_data(readiness.clone())
                .app_data(respond::query_config());
            if let Some(observer) = &observer {
                app = app.app_data(observer.clone());
            }
            let spec = spec.clone();
            app.configure(move |cfg| spec.configure(cfg))
                .default_service(web::to(respond::not_found))
        })?;
        tracing::info!(port, version = %manifest.version, "svc-{} listening", manifest.name);
        Ok(Self { running, manifest })
    }

    /// The manifest it serves.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Serves until stopped: SIGTERM or Ctrl-C stop it gracefully
    /// ([`Running::run_until_stopped`]), [`Running::handle`] as asked.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.running.run_until_stopped().await
    }
}
