//! The metrics middleware: counts every answered request and records how long the service
//! took (from the request reaching the app to the response head leaving it) into
//! [`Metrics`]. Mounted inside the request-id middleware, so it measures the service's own
//! work, not the network.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web;

use crate::domain::metrics::Outcome;
use crate::domain::Metrics;

/// `actix_web::middleware::from_fn(record_metrics)`.
pub async fn record_metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let is_fragment = req.method() == Method::GET && req.path().starts_with("/fragments/");
    let started = Instant::now();
    let res = next.call(req).await?;
    if let Some(metrics) = metrics {
        let status = res.status().as_u16();
        metrics.record(
            Outcome {
                status,
                fragment: is_fragment && status == 200,
            },
            started.elapsed(),
        );
    }
    Ok(res)
}
