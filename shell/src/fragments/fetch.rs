//! One fragment request: `GET` with the forwarded headers, and the checks an answer must
//! pass to go into a page (2xx, `text/html`, at most [`MAX_FRAGMENT_BYTES`], UTF-8, not a
//! whole document).

use shared_ui::contract::contains_document;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName};
use shared_ui::headers;

use super::cache::cacheable_for;
use super::FragmentError;
use crate::body::read_body_capped;
use crate::client;
use crate::client::pool::Origin;
use crate::slot::Html;

/// Largest fragment accepted, in bytes.
pub const MAX_FRAGMENT_BYTES: usize = 1024 * 1024;

/// A fragment answer that passed the checks.
#[derive(Debug)]
pub struct FragmentAnswer {
    /// The HTML, as it came (not copied).
    pub body: Html,
    /// `x-fragment-version`.
    pub version: Option<String>,
    /// How long it may be reused, when its `Cache-Control` allows it.
    pub fresh_for: Option<Duration>,
}

/// `GET url` with the headers `headers()` builds, read and checked as a fragment
/// ([`read_fragment`]). An `http://` URL goes through the shell's own connection pool
/// ([`client::pool`]), which calls `headers` again when it sends a request a second time;
/// anything else (`https://`) through reqwest, which speaks TLS. `origin` is that of the
/// service whose base `url` is under, when known: only the URL's target is parsed then.
pub async fn fetch(
    url: &str,
    origin: Option<&Origin>,
    headers: impl Fn() -> HeaderMap,
) -> Result<FragmentAnswer, FragmentError> {
    if !url.starts_with("http://") {
        let res = client::http()
            .get(url)
            .headers(headers())
            .send()
            .await
            .map_err(FragmentError::transport)?;
        return read_fragment(http::Response::from(res)).await;
    }
    let sent = match origin.and_then(|o| o.target(url)) {
        Some(target) => client::pool::send_to(target, headers).await,
        None => {
            let uri = http::Uri::try_from(url).map_err(FragmentError::transport)?;
            client::pool::send(uri, headers).await
        }
    };
    read_fragment(sent.map_err(FragmentError::transport)?).await
}

/// Checks a fragment answer: 2xx, `text/html`, at most [`MAX_FRAGMENT_BYTES`] (read as a
/// stream and cut there), UTF-8, not a whole document (`<html`).
pub async fn read_fragment<B>(res: http::Response<B>) -> Result<FragmentAnswer, FragmentError>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (parts, body) = res.into_parts();
    if !parts.status.is_success() {
        return Err(FragmentError::Status(parts.status));
    }
    let text = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let content_type = text(reqwest::header::CONTENT_TYPE).unwrap_or("");
    if !content_type
        .get(..9)
        .is_some_and(|t| t.eq_ignore_ascii_case("text/html"))
    {
        return Err(FragmentError::NotHtml(content_type.to_ascii_lowercase()));
    }
    let version = text(HeaderName::from_static(headers::FRAGMENT_VERSION)).map(str::to_owned);
    let fresh_for = text(reqwest::header::CACHE_CONTROL).and_then(cacheable_for);
    let length = text(reqwest::header::CONTENT_LENGTH).and_then(|l| l.parse::<u64>().ok());
    let body = read_body_capped(body, length, MAX_FRAGMENT_BYTES).await?;
    let html = Html::from_utf8(body).ok_or(FragmentError::NotUtf8)?;
    if contains_document(html.as_bytes()) {
        return Err(FragmentError::WholeDocument);
    }
    Ok(FragmentAnswer {
        body: html,
        version,
        fresh_for,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer with `status`, `content_type` and `body`, read as a fragment.
    async fn read(
        status: u16,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<FragmentAnswer, FragmentError> {
        let res = http::Response::builder()
            .status(status)
            .header("content-type", content_type)
            .body(http_body_util::Full::new(Bytes::from(body)))
            .unwrap();
        read_fragment(res).await
    }

    #[tokio::test]
    async fn each_broken_answer_fails_for_its_own_reason() {
        let html = "text/html; charset=utf-8";
        let ok = read(200, html, b"<p>plans</p>".to_vec()).await.unwrap();
        assert_eq!(ok.body.as_str(), "<p>plans</p>");
        let too_large = vec![b'a'; MAX_FRAGMENT_BYTES + 1];
        for (answer, reason) in [
            (read(500, html, b"<p>oops</p>".to_vec()).await, "status"),
            (
                read(200, "application/json", b"{}".to_vec()).await,
                "not_html",
            ),
            (read(200, html, too_large).await, "too_large"),
            (read(200, html, vec![0xff, 0xfe]).await, "not_utf8"),
            (
                read(200, html, b"<html><p>page</p></html>".to_vec()).await,
                "whole_document",
            ),
        ] {
            assert_eq!(answer.unwrap_err().reason(), reason);
        }
    }
}
