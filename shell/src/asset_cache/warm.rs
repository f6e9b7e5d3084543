//! Warming: a copy of every declared asset before the first failure. [`run`] fetches a
//! service's stylesheets and controller modules, one at a time, each within
//! [`WARM_TIMEOUT`] and at most [`MAX_ASSET_BYTES`], when its manifest is first read and
//! whenever its version changes (the registry says so, [`Registry::changes`]); a service
//! whose assets could not all be fetched is tried again at the next change. Its cost is one
//! `GET` per declared asset per deploy, logged as "assets warmed" with the count, the bytes
//! and the time it took.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use shared_ui::contract::Manifest;
use shared_ui::headers;

use super::{AssetCache, Source};
use crate::body::{read_capped, BodyError};
use crate::registry::{Registry, Service};

/// Time one asset fetch of the warming gets.
pub const WARM_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest asset kept, in bytes (the proxy's cap on any answer).
pub const MAX_ASSET_BYTES: usize = 4 * 1024 * 1024;
/// The `x-request-id` of every warming request, so a service's log tells them from the
/// browsers' requests (they carry no user, no cookie and no `X-Forwarded-*`: no browser
/// asked).
pub const WARM_REQUEST_ID: &str = "asset-warming";

/// Why one asset was not warmed (logged, then tried again at the next change).
#[derive(Debug, thiserror::Error)]
enum WarmError {
    #[error(transparent)]
    Request(#[from] reqwest::Error),
    #[error("answered {0}")]
    Status(reqwest::StatusCode),
    #[error(transparent)]
    Body(#[from] BodyError),
}

/// Warms every service whose manifest version was not warmed yet, now and at every change
/// of the registry, until the task is dropped. Does nothing when the cache keeps nothing.
pub async fn run(registry: Arc<Registry>, cache: Arc<AssetCache>) {
    if !cache.enabled() {
        return;
    }
    let mut changes = registry.changes();
    let mut warmed: HashMap<String, String> = HashMap::new();
    loop {
        for service in registry.services() {
            let Some(manifest) = service.manifest() else {
                continue;
            };
            if warmed.get(service.name()) == Some(&manifest.version) {
                continue;
            }
            if warm_service(&cache, service, &manifest).await {
                warmed.insert(service.name().to_owned(), manifest.version.clone());
            }
        }
        if changes.changed().await.is_err() {
            return;
        }
    }
}

/// Fetches and keeps each declared asset of `service`; whether all of them came.
async fn warm_service(cache: &AssetCache, service: &Service, manifest: &Manifest) -> bool {
    let started = Instant::now();
    let paths = manifest
        .assets
        .css
        .iter()
        .chain(manifest.assets.controllers.iter().map(|c| &c.module));
    let (mut fetched, mut failed, mut bytes) = (0, 0, 0);
    for path in paths {
        match fetch(service, path).await {
            Ok((headers, body)) => {
                bytes += body.len();
                fetched += 1;
                cache.keep(Source::Warm, service, path, (&headers, &body));
            }
            Err(error) => {
                failed += 1;
                tracing::warn!(service = %service.name(), path, %error, "asset not warmed");
            }
        }
    }
    tracing::info!(
        service = %service.name(),
        version = %manifest.version,
        assets = fetched,
        failed,
        bytes,
        ms = started.elapsed().as_millis() as u64,
        "assets warmed"
    );
    failed == 0
}

/// `GET` of one asset with the service's base path, as the shell's own request
/// ([`WARM_REQUEST_ID`]).
async fn fetch(
    service: &Service,
    path: &str,
) -> Result<(reqwest::header::HeaderMap, Bytes), WarmError> {
    let res = crate::client::http()
        .get(service.upstream(path))
        .header(headers::BASE_PATH, service.base_path_header().as_bytes())
        .header(headers::REQUEST_ID, WARM_REQUEST_ID)
        .timeout(WARM_TIMEOUT)
        .send()
        .await?;
    if res.status() != reqwest::StatusCode::OK {
        return Err(WarmError::Status(res.status()));
    }
    let headers = res.headers().clone();
    let body = read_capped(res, MAX_ASSET_BYTES).await?;
    Ok((headers, body))
}
