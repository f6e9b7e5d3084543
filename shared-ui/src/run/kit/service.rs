//! What a service declares: [`Service`], its builder methods, the manifest and the version
//! made from them, and how its routes are mounted.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use actix_web::{web, FromRequest, Handler, HttpRequest, Responder};
use maud::Markup;
use sha2::{Digest, Sha256};

use super::answers::{
    default_preview, manifest, own_asset, site_path, unknown_fragment, Fragment, Info, Render,
    RenderDebug, SITE_PATHS,
};
use crate::assets::Asset;
use crate::assets::AssetSet;
use crate::contract::{ContractError, ControllerAsset, FragmentSpec, Manifest, ManifestAssets};
use crate::health::{self, Readiness};
use crate::metrics::{self, prometheus_client};
use crate::respond;
use crate::server::StartError;

pub(super) type Configure = Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>;
pub(super) type MakeRoute = Arc<dyn Fn() -> actix_web::Route + Send + Sync>;
pub(super) type Observer = Arc<dyn Fn(&Outcome<'_>) + Send + Sync>;
pub(super) type RegisterMetrics =
    Box<dyn FnOnce(&mut prometheus_client::registry::Registry) + Send + Sync>;

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

pub(super) struct FragmentDecl {
    pub(super) spec: FragmentSpec,
    pub(super) route: MakeRoute,
    pub(super) render: Option<Render>,
}

/// What a service declares; see the module doc.
pub struct Service {
    pub(super) name: String,
    pub(super) crate_version: String,
    pub(super) version: Option<String>,
    pub(super) version_inputs: Vec<Vec<u8>>,
    pub(super) fragments: Vec<FragmentDecl>,
    pub(super) assets: Vec<Asset>,
    pub(super) css: Vec<String>,
    pub(super) controllers: Vec<ControllerAsset>,
    pub(super) actions: Vec<String>,
    pub(super) action_routes: Vec<(String, MakeRoute)>,
    pub(super) data: Vec<Configure>,
    pub(super) routes: Vec<Configure>,
    pub(super) readiness: Readiness,
    pub(super) observer: Option<Observer>,
    pub(super) metrics: Vec<RegisterMetrics>,
    pub(super) preview_heading: Option<String>,
    pub(super) preview_intro: Option<String>,
    pub(super) preview: Option<MakeRoute>,
    pub(super) workers: usize,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("name", &self.name)
            .field("fragments", &self.fragments.len())
            .finish_non_exhaustive()
    }
}

/// `/assets/{file}?v=<content hash of body>`: the URL a manifest lists for an asset.
fn hashed_url(file: &str, body: &[u8]) -> String {
    format!("/assets/{file}?v={}", crate::contract::content_hash(body))
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
            spec: FragmentSpec::new(id, path, title),
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

    /// Declares the fragment declared last as not personal (`"personal": false`): the
    /// shell fetches it without waiting for the session and sends it no user context.
    pub fn impersonal(mut self) -> Self {
        if let Some(last) = self.fragments.last_mut() {
            last.spec.personal = false;
        }
        self
    }

    /// The height, in CSS pixels, the shell reserves for the fragment declared last
    /// (`"min_height"`), so that it shifts nothing when it arrives.
    pub fn min_height(mut self, px: u32) -> Self {
        if let Some(last) = self.fragments.last_mut() {
            last.spec.min_height = Some(px);
        }
        self
    }

    /// A stylesheet, served at `/assets/{file}` and listed in the manifest with its content
    /// hash (`/assets/{file}?v=<hash>`), which the kit answers `immutable`.
    pub fn css(mut self, file: &'static str, body: &'static [u8]) -> Self {
        self.assets.push(Asset::revalidated(file, body));
        self.css.push(hashed_url(file, body));
        self
    }

    /// A Stimulus controller module, served at `/assets/{file}` and listed in the manifest
    /// with its content hash, as [`Service::css`].
    pub fn controller(mut self, identifier: &str, file: &'static str, body: &'static [u8]) -> Self {
        self.assets.push(Asset::revalidated(file, body));
        self.controllers.push(ControllerAsset {
            identifier: identifier.to_owned(),
            module: hashed_url(file, body),
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

    /// The preview's content, from a handler returning a [`Preview`](super::Preview); by default the
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

    /// What the kit's handlers know about the running service, from this declaration and
    /// its validated `manifest`.
    pub(super) fn info(&self, manifest: &Manifest) -> Result<Info, StartError> {
        Ok(Info {
            manifest_json: serde_json::to_string(manifest)
                .map_err(|e| StartError::service(e.to_string()))?,
            manifest: manifest.clone(),
            assets: AssetSet::new(&self.assets),
            preview_heading: self
                .preview_heading
                .clone()
                .unwrap_or_else(|| self.name.clone()),
            preview_intro: self
                .preview_intro
                .clone()
                .unwrap_or_else(|| format!("svc-{} on its own, with no shell running.", self.name)),
            renders: self
                .fragments
                .iter()
                .map(|f| {
                    let render = f.render.clone().map(RenderDebug);
                    (f.spec.path.clone(), f.spec.title.clone(), render)
                })
                .collect(),
        })
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

    pub(super) fn configure(&self, cfg: &mut web::ServiceConfig) {
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
        for path in SITE_PATHS {
            cfg.route(path, respond::read().to(site_path));
        }
        cfg.route("/fragments/{id}", respond::read().to(unknown_fragment))
            .route("/assets/{file}", respond::read().to(own_asset))
            .configure(health::configure);
    }
}
