//! What every upstream request of one incoming request carries: the forwarding headers, the
//! request id, the trace, the language and, once the session is resolved
//! ([`crate::session`]), the signed user context. Built once per incoming request and
//! cloned per upstream request: the values are shared, not copied or checked again.

use std::net::IpAddr;

use actix_web::http::header;
use actix_web::HttpRequest;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use shared_ui::headers;
use shared_ui::proxies::TrustedProxies;
use shared_ui::request_id::RequestId;
use shared_ui::trace::{TraceContext, TRACEPARENT};

use crate::registry::Service;

/// What every upstream request of one incoming request carries.
#[derive(Debug, Clone, Default)]
pub struct Forwarded {
    /// `Cookie`, as sent (forwarded to the session service only).
    pub cookie: Option<String>,
    /// The user's id, for cache keys.
    pub user_id: Option<i64>,
    /// The headers that go to every service, whichever it is: `X-Forwarded-Host` (the host
    /// the browser asked for), `-Proto` (`http`, or what a trusted proxy says), `-For` (the
    /// client address), the request id, `traceparent` (the request's trace, the shell's
    /// span), `Accept-Language` (its first language, [`primary_language`]) and, once the
    /// user is known, the signed context.
    common: HeaderMap,
}

impl Forwarded {
    /// Reads the headers to forward from a request (the user is added by
    /// [`crate::session::Sessions::with_user`]). The client address and scheme are believed
    /// from forwarding headers only when the peer is a trusted proxy.
    pub fn from_request(req: &HttpRequest, trusted: &TrustedProxies) -> Self {
        let text = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
        let peer = req.peer_addr().map(|a| a.ip());
        let mut fwd = Self {
            cookie: text(header::COOKIE).map(str::to_owned),
            user_id: None,
            common: empty_map(),
        };
        // The Host the browser sent (not a client-supplied X-Forwarded-Host).
        fwd.put(
            HeaderName::from_static("x-forwarded-host"),
            text(header::HOST).unwrap_or_default(),
        );
        let proto = trusted
            .forwarded_proto(peer, req.headers())
            .unwrap_or("http");
        fwd.put_proto(proto);
        let request_id = RequestId::of(req);
        if !request_id.is_empty() {
            fwd.put(HeaderName::from_static(headers::REQUEST_ID), &request_id);
        }
        if let Some(trace) = TraceContext::of(req) {
            fwd.put(HeaderName::from_static(TRACEPARENT), &trace.traceparent());
        }
        if let Some(language) = text(header::ACCEPT_LANGUAGE).and_then(primary_language) {
            fwd.put(reqwest::header::ACCEPT_LANGUAGE, &language);
        }
        if let Some(client) = peer.map(|p| trusted.client_ip(p, req.headers())) {
            fwd.put(HeaderName::from_static("x-forwarded-for"), &ip_text(client));
        }
        fwd
    }

    /// Adds a header for every service; a value that is not a valid header value is left
    /// out.
    fn put(&mut self, name: HeaderName, value: &str) {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.common.insert(name, v);
        }
    }

    /// `X-Forwarded-Proto`: `http` and `https` as static values, which every fragment's
    /// copy of the headers shares without an allocation (issue 26).
    fn put_proto(&mut self, proto: &str) {
        let name = HeaderName::from_static("x-forwarded-proto");
        let value = match proto {
            "http" => HeaderValue::from_static("http"),
            "https" => HeaderValue::from_static("https"),
            _ => return self.put(name, proto),
        };
        self.common.insert(name, value);
    }

    /// The language forwarded (the first of `Accept-Language`), for cache keys.
    pub fn language(&self) -> Option<&str> {
        self.common
            .get(reqwest::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
    }

    /// The request's trace id (32 hex), from the `traceparent` sent upstream.
    pub fn trace_id(&self) -> Option<String> {
        let traceparent = self.common_header(TRACEPARENT)?.to_str().ok()?;
        traceparent.split('-').nth(1).map(str::to_owned)
    }

    /// One of the headers for every service (the request id, `traceparent`), to copy onto
    /// another upstream request.
    pub fn common_header(&self, name: &str) -> Option<&HeaderValue> {
        self.common.get(name)
    }

    /// The same headers without the browser's cookies (and no user, which is only ever
    /// added later): for a fragment that is not personal.
    pub fn anonymous(&self) -> Self {
        Self {
            cookie: None,
            user_id: None,
            common: self.common.clone(),
        }
    }

    /// The signed user context, once the user is known.
    pub fn set_user(&mut self, context: HeaderValue, user_id: i64) {
        self.common
            .insert(HeaderName::from_static(headers::USER_CONTEXT), context);
        self.user_id = Some(user_id);
    }

    /// The forwarded headers of an upstream request for `service`: those for every service
    /// and `service`'s base path. The browser's cookies go to the session service only
    /// (`with_cookies`); every other service knows the user from the signed context alone.
    pub fn headers(&self, service: &Service, with_cookies: bool) -> HeaderMap {
        let mut map = self.common.clone();
        map.insert(
            HeaderName::from_static(headers::BASE_PATH),
            service.base_path_header().clone(),
        );
        if let (true, Some(v)) = (with_cookies, &self.cookie) {
            if let Ok(v) = HeaderValue::from_str(v) {
                map.insert(reqwest::header::COOKIE, v);
            }
        }
        map
    }

    /// Adds the forwarded headers ([`Self::headers`]) to a reqwest request.
    pub fn apply(
        &self,
        builder: reqwest::RequestBuilder,
        service: &Service,
        with_cookies: bool,
    ) -> reqwest::RequestBuilder {
        builder.headers(self.headers(service, with_cookies))
    }
}

thread_local! {
    /// An empty map with room for 12 headers, to clone: see [`empty_map`].
    static EMPTY: HeaderMap = HeaderMap::with_capacity(12);
}

/// An empty map whose index has room for 12 headers (so that a fragment's request, its
/// clone with three headers more, never rebuilds it), without `with_capacity`'s 1.2 KB of
/// entries: a clone keeps the index but allocates entries only as headers go in, in sizes
/// that glibc's per-thread cache serves (about 1,000 instructions a page less: issue 26).
fn empty_map() -> HeaderMap {
    EMPTY.with(HeaderMap::clone)
}

/// An address as `Display` writes it; an IPv4 one joined by hand, without the formatting
/// machinery (about 1,500 instructions a page: issue 26).
fn ip_text(ip: IpAddr) -> String {
    let IpAddr::V4(v4) = ip else {
        return ip.to_string();
    };
    let mut out = String::with_capacity(15);
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        if octet >= 100 {
            out.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            out.push(char::from(b'0' + octet / 10 % 10));
        }
        out.push(char::from(b'0' + octet % 10));
    }
    out
}

/// The first language of an `Accept-Language` header, lower case (`en-gb`), if it is a
/// plausible BCP 47 tag of at most 35 bytes. What the shell forwards and keys its cache on:
/// the whole header, with its weights and endless variants, would let a client mint
/// unbounded cache keys.
pub fn primary_language(header: &str) -> Option<String> {
    let tag = header.split(',').next()?.split(';').next()?.trim();
    let ok = !tag.is_empty()
        && tag.len() <= 35
        && tag.split('-').all(|part| {
            (1..=8).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_alphanumeric())
        })
        && tag.bytes().next().is_some_and(|b| b.is_ascii_alphabetic());
    ok.then(|| tag.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_written_as_display_writes_it() {
        for ip in [
            "127.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "10.0.99.100",
            "::1",
            "2001:db8::7",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(ip_text(ip), ip.to_string());
        }
    }

    #[test]
    fn only_the_first_plausible_language_tag_is_kept() {
        assert_eq!(
            primary_language("en-GB,en;q=0.9,fr;q=0.8").as_deref(),
            Some("en-gb")
        );
        assert_eq!(primary_language(" de ;q=1").as_deref(), Some("de"));
        assert_eq!(
            primary_language("zh-Hant-TW").as_deref(),
            Some("zh-hant-tw")
        );
        // Unbounded or odd values never become cache keys.
        let long = format!("en-{}", "abcdefgh-".repeat(8));
        for bad in [
            "",
            "*",
            "1en",
            "en_GB",
            "en--gb",
            "toolongtag",
            long.as_str(),
            "é",
        ] {
            assert_eq!(primary_language(bad), None, "{bad}");
        }
    }
}
