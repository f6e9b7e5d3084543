//! A running service: [`Application`] binds a declared [`Service`] on the shared
//! [`Server`] and serves it; the observer middleware calls the service's hook.

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, App};

use super::service::{Observer, Outcome, Service};
use super::{Cli, Team};
use crate::context::ContextKey;
use crate::contract::Manifest;
use crate::metrics::Metrics;
use crate::respond;
use crate::security;
use crate::server::{Running, Server, StartError};
use crate::settings::Common;

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
        let info = web::Data::new(spec.info(&manifest)?);
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
