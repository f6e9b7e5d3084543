//! CORS for direct mode (`docs/DESIGN.md`): only the configured shell origins may read a
//! service's answers from the browser. [`CorsPolicy`] is parsed from `CORS_ORIGINS`;
//! [`cors`] is the middleware that applies it.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

use crate::settings::SettingError;

/// only the configured shell origins. Register as app data and mount [`cors`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsPolicy {
    origins: Vec<String>,
}

impl CorsPolicy {
    /// Parses origins such as `http://127.0.0.1:8000` (scheme, host, optional port; no path).
    pub fn parse(origins: &[String]) -> Result<Self, SettingError> {
        let mut parsed = Vec::new();
        for raw in origins.iter().map(|o| o.trim()).filter(|o| !o.is_empty()) {
            let origin = raw.trim_end_matches('/');
            let rest = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            let ok = rest.is_some_and(|host| {
                !host.is_empty()
                    && host.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
                    })
            });
            if !ok {
                return Err(SettingError::new(
                    "--cors-origins / CORS_ORIGINS",
                    format!(
                        "`{}` is not an origin such as http://127.0.0.1:8000",
                        raw.escape_default()
                    ),
                ));
            }
            parsed.push(origin.to_ascii_lowercase());
        }
        Ok(Self { origins: parsed })
    }

    /// Whether `origin` may read answers.
    pub fn allows(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }
}

/// CORS middleware (`from_fn(cors)`), driven by the [`CorsPolicy`] in app data: an allowed
/// `Origin` gets `Access-Control-Allow-Origin` (and `Vary: Origin`); a preflight from an
/// allowed origin gets 204 with the methods and headers the loader uses; a preflight from
/// any other origin gets 403 with no CORS headers, and other requests from it get none, so
/// the browser refuses them. Without a policy (the shell), nothing changes.
pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if req.app_data::<web::Data<CorsPolicy>>().is_none() {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let allowed = match (&origin, req.app_data::<web::Data<CorsPolicy>>()) {
        (Some(o), Some(policy)) => policy.allows(o),
        _ => false,
    };
    let preflight = req.method() == actix_web::http::Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight && origin.is_some() {
        let res = if allowed {
            let origin = origin.unwrap_or_default();
            HttpResponse::NoContent()
                .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
                .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST"))
                .insert_header((
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    "x-mf-loader, x-request-id, content-type",
                ))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
                .insert_header((header::VARY, "Origin"))
                .finish()
        } else {
            HttpResponse::Forbidden()
                .content_type("text/plain; charset=utf-8")
                .insert_header((header::VARY, "Origin"))
                .body("This origin may not read this service's fragments (CORS_ORIGINS).\n")
        };
        return Ok(req.into_response(res).map_into_right_body());
    }
    let mut res = next.call(req).await?.map_into_left_body();
    if allowed {
        if let Some(Ok(v)) = origin.map(|o| HeaderValue::from_str(&o)) {
            res.headers_mut()
                .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
            res.headers_mut()
                .append(header::VARY, HeaderValue::from_static("Origin"));
            res.headers_mut().insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("x-fragment-version, x-request-id"),
            );
        }
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_origins_parse_and_refuse_paths_and_schemes() {
        let ok = CorsPolicy::parse(&[
            "http://127.0.0.1:8000/".into(),
            " https://Shop.example ".into(),
        ])
        .unwrap();
        assert!(ok.allows("http://127.0.0.1:8000"));
        assert!(ok.allows("https://shop.example"));
        assert!(!ok.allows("http://evil.example"));
        for bad in ["ftp://x", "http://x/path", "127.0.0.1:8000", "http://"] {
            let err = CorsPolicy::parse(&[bad.into()]).unwrap_err();
            assert_eq!(err.name, "--cors-origins / CORS_ORIGINS", "{bad}");
        }
    }
}
