//! Response compression that streams: brotli, zstd or gzip, as the client's
//! `Accept-Encoding` asks.
//!
//! [`compress`] is middleware (`from_fn(compress)`) for the shell and every kit service.
//! - The coding is chosen by [`negotiate`]: the highest q-value among `br`, `zstd` and
//!   `gzip` (`*` covers the ones not named; `q=0` refuses one), ties going to zstd (the
//!   cheapest for the shell), then brotli, then gzip. No header, or nothing acceptable: identity. A request without
//!   `Accept-Encoding` costs one header lookup and, on a compressible answer, one
//!   `Vary: accept-encoding` header.
//! - What is compressed: text (`text/*`, JavaScript, JSON, XML, SVG) of at least
//!   [`MIN_BYTES`] (or streamed, as pages are), not `206`/`204`/`304`, not already carrying a
//!   `Content-Encoding` (a service that compressed its own answer), not `no-transform`.
//! - A compressible answer says `Vary: accept-encoding` (once, whether compressed or not); a
//!   compressed one loses its `Content-Length`, and its strong ETag becomes weak (`W/"…"`:
//!   the same resource, other bytes). `If-None-Match` is compared weakly
//!   ([`crate::assets::if_none_match_hits`]), so revalidation still gets 304.
//! - A `304` carries the `Vary` its `200` would (RFC 9110 §15.4.5), whatever the client
//!   accepts: its handler, which knows the representation, calls [`not_modified_vary`]. The
//!   middleware reads that `Vary` back: a `304` naming `accept-encoding` stands for a
//!   compressible `200`, so a client that accepts a coding gets the weak ETag its `200`
//!   carried; any other `304` passes as it is. (A `304` relayed by the shell's proxy carries
//!   the service's own `Vary`, made by the same rule.)
//! - It streams ([`Encoded`]): every chunk of the body goes into the encoder as it comes,
//!   and whenever the body has nothing more ready (a page waiting on a late fragment) the
//!   encoder is flushed and what it holds goes out. A page's head therefore leaves at once
//!   and each slot as soon as it is written; chunks that are ready together are compressed
//!   together (one flush), which keeps the ratio close to a one-shot compression.
//!
//! HTML in zstd goes out as one frame per chunk of the body, and a chunk's frame is kept
//! per worker thread for the next time the same chunk comes (a page's head, the HTML
//! between its slots, a fragment that did not change): [`frames`]. Other zstd answers use
//! one streaming context each, taken from a per-thread pool and reused (a new one costs
//! more than the compression of a page); brotli's and gzip's encoders are made per answer.
//!
//! **A memory budget.** An encoder and its window take about half a MiB while its answer
//! streams (brotli's ring buffer and hash tables, zstd's context, deflate's window), so
//! 1,500 pages in flight once took the shell to 851 MiB. Each worker thread therefore has
//! [`ENCODERS_PER_WORKER`] encoder slots ([`EncoderSlot`]): an answer takes one when its
//! headers go out and gives it back when its encoder finishes (or the answer is dropped).
//! An answer that finds every slot taken goes out uncompressed, at once: it never waits for
//! a slot, and its bytes are the same page, only larger. The slots are per worker because
//! an answer's body is polled on the worker that made it, so no lock is needed.
//! `bench/compression-memory` (release shell, 2 workers, N connections each asking once for
//! `/dashboard` at the same moment), peak RSS before and after, 2026-12-05:
//! br, 300: 209 -> 49 MiB (33 compressed); br, 1,500: 832 -> 100 MiB (68 compressed);
//! zstd, 1,500: 695 -> 106 MiB (122 compressed). Idle: 11 MiB.
//!
//! Levels ([`BROTLI_QUALITY`], [`GZIP_LEVEL`], [`ZSTD_LEVEL`]) are fast ones: the shell
//! compresses every page as it streams, on the worker threads that compose pages, so a level
//! whose cost per page is a fraction of the composition's own (about 0.1 ms) beats a few
//! percent more saved bytes on pages of a few KiB. `docs/OPERATIONS.md` has the figures.

mod frames;

use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use bytes::Bytes;

/// Smaller answers are sent as they are: below about one TCP segment, compression saves no
/// round trip and costs the encoder's set-up.
pub const MIN_BYTES: u64 = 1024;
/// Brotli quality (0-11). 4: within a few percent of 5-6 on our pages, at less than half
/// their cost; far smaller than gzip.
pub const BROTLI_QUALITY: u32 = 4;
/// Brotli window, log2 bytes: 256 KiB is more than any page or asset we send.
pub const BROTLI_WINDOW: u32 = 18;
/// gzip (deflate) level (0-9). 5: close to 6's (zlib's default) ratio on HTML, faster.
pub const GZIP_LEVEL: u32 = 5;
/// zstd level (1-19). 3 is zstd's own default: fast, and smaller than gzip.
pub const ZSTD_LEVEL: i32 = 3;
/// Answers compressed at once per worker thread; more go out uncompressed (see the module
/// doc). 16 slots of about 0.5 MiB: 8 MiB a worker at most, for 16 pages streaming at the
/// same moment on one core, far more than it compresses at once.
pub const ENCODERS_PER_WORKER: usize = 16;
/// The encoder's output is handed on once it holds this much, even mid-body.
const OUT_CHUNK: usize = 16 * 1024;

/// A content coding the middleware can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// `br`.
    Brotli,
    /// `zstd`.
    Zstd,
    /// `gzip`.
    Gzip,
}

impl Coding {
    /// In order of preference when q-values tie: zstd costs the shell a fraction of brotli's
    /// instructions per page for a few percent more bytes (`docs/OPERATIONS.md`).
    pub const ALL: [Coding; 3] = [Coding::Zstd, Coding::Brotli, Coding::Gzip];

    /// The `Content-Encoding` token.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
            Coding::Gzip => "gzip",
        }
    }

    fn of(token: &str) -> Option<Coding> {
        if token.eq_ignore_ascii_case("br") {
            Some(Coding::Brotli)
        } else if token.eq_ignore_ascii_case("zstd") {
            Some(Coding::Zstd)
        } else if token.eq_ignore_ascii_case("gzip") || token.eq_ignore_ascii_case("x-gzip") {
            Some(Coding::Gzip)
        } else {
            None
        }
    }

    fn rank(self) -> usize {
        Coding::ALL.iter().position(|c| *c == self).unwrap_or(0)
    }
}

/// A q-value (`0`, `0.5`, `1.000`) in thousandths; `None` when it is not one.
fn q_value(text: &str) -> Option<u16> {
    let text = text.trim();
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_value = format!("{frac:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(frac_value),
        "1" if frac_value == 0 => Some(1000),
        _ => None,
    }
}

/// The coding to answer with for an `Accept-Encoding` value: the acceptable one (q > 0)
/// with the highest q, ties in [`Coding::ALL`] order; `*` stands for the codings it does
/// not name. `None`: identity. An item with a malformed q-value is ignored.
pub fn negotiate(accept_encoding: &str) -> Option<Coding> {
    let mut q = [None::<u16>; 3];
    let mut star = None;
    for item in accept_encoding.split(',') {
        let mut parts = item.split(';');
        let token = parts.next().unwrap_or("").trim();
        let mut weight = Some(1000);
        for param in parts {
            let param = param.trim();
            if let Some(v) = param
                .strip_prefix("q=")
                .or_else(|| param.strip_prefix("Q="))
            {
                weight = q_value(v);
            }
        }
        let Some(weight) = weight else { continue };
        match Coding::of(token) {
            Some(coding) => q[coding.rank()] = Some(weight),
            None if token == "*" => star = Some(weight),
            None => {}
        }
    }
    let mut best: Option<(u16, Coding)> = None;
    for coding in Coding::ALL {
        let weight = q[coding.rank()].or(star).unwrap_or(0);
        if weight > 0 && best.is_none_or(|(w, _)| weight > w) {
            best = Some((weight, coding));
        }
    }
    best.map(|(_, coding)| coding)
}

/// Whether a `Content-Type` is text worth compressing.
fn compressible_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    let starts = |prefix: &str| {
        essence
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    };
    let ends = |suffix: &str| {
        essence
            .len()
            .checked_sub(suffix.len())
            .and_then(|at| essence.get(at..))
            .is_some_and(|s| s.eq_ignore_ascii_case(suffix))
    };
    starts("text/")
        || ends("+json")
        || ends("+xml")
        || [
            "application/javascript",
            "application/json",
            "application/xml",
            "application/wasm",
        ]
        .iter()
        .any(|t| essence.eq_ignore_ascii_case(t))
}

/// Whether a `200` of `len` bytes with this `Content-Type` and `Cache-Control` (`""` when
/// none) is compressible, and so says `Vary: accept-encoding`.
pub fn compressible(content_type: &str, cache_control: &str, len: usize) -> bool {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, cache_control),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    would_compress(StatusCode::OK, &headers, BodySize::Sized(len as u64))
}

/// Gives a `304` the `Vary: accept-encoding` its `200` would carry: call it from a handler
/// answering `304` for a representation of `content_type` and `len` bytes (the `304`'s own
/// `Cache-Control` is the `200`'s). The middleware then gives the `304` the ETag of the
/// `200` the client would get (weak when compressed).
pub fn not_modified_vary(res: &mut actix_web::HttpResponse, content_type: &str, len: usize) {
    let cache_control = res
        .headers()
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if compressible(content_type, cache_control, len) {
        add_vary_accept_encoding(res.headers_mut());
    }
}

/// Whether the `Vary` headers name `accept-encoding` (or `*`).
fn varies_by_encoding(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::VARY)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|token| token == "*" || token.eq_ignore_ascii_case("accept-encoding"))
}

/// `Vary: accept-encoding`, unless a `Vary` already names it (a relayed answer).
fn add_vary_accept_encoding(headers: &mut HeaderMap) {
    if !varies_by_encoding(headers) {
        headers.append(header::VARY, VARY_ACCEPT_ENCODING);
    }
}

/// Whether an answer with this status, headers and body size would be compressed.
fn would_compress(status: StatusCode, headers: &HeaderMap, size: BodySize) -> bool {
    let status_ok = status.is_success() || status.is_client_error() || status.is_server_error();
    if !status_ok
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::PARTIAL_CONTENT
        || headers.contains_key(header::CONTENT_ENCODING)
        || headers.contains_key(header::CONTENT_RANGE)
    {
        return false;
    }
    let big_enough = match size {
        BodySize::None => false,
        BodySize::Sized(n) => n >= MIN_BYTES,
        BodySize::Stream => true,
    };
    big_enough
        && headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(compressible_type)
        && !headers.get(header::CACHE_CONTROL).is_some_and(|v| {
            v.as_bytes()
                .windows(12)
                .any(|w| w.eq_ignore_ascii_case(b"no-transform"))
        })
}

/// `"x"` becomes `W/"x"`; a weak tag stays as it is.
fn weaken_etag(headers: &mut HeaderMap) {
    let weak = headers
        .get(header::ETAG)
        .filter(|v| !v.as_bytes().starts_with(b"W/"))
        .and_then(|v| {
            let mut bytes = b"W/".to_vec();
            bytes.extend_from_slice(v.as_bytes());
            HeaderValue::from_bytes(&bytes).ok()
        });
    if let Some(weak) = weak {
        headers.insert(header::ETAG, weak);
    }
}

const VARY_ACCEPT_ENCODING: HeaderValue = HeaderValue::from_static("accept-encoding");

/// The middleware: see the module doc.
pub async fn compress(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, Encoded>>, actix_web::Error> {
    let coding = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .and_then(negotiate);
    let mut res = next.call(req).await?;
    if res.status() == StatusCode::NOT_MODIFIED {
        // Its handler gave it its 200's Vary (not_modified_vary): a compressible 200 is
        // compressed for this client, so the 304 carries that 200's weak validator.
        if coding.is_some() && varies_by_encoding(res.headers()) {
            weaken_etag(res.headers_mut());
        }
        return Ok(res.map_into_left_body());
    }
    if !would_compress(res.status(), res.headers(), res.response().body().size()) {
        return Ok(res.map_into_left_body());
    }
    add_vary_accept_encoding(res.headers_mut());
    let Some(coding) = coding else {
        return Ok(res.map_into_left_body());
    };
    let Some(slot) = EncoderSlot::take() else {
        // Every encoder of this worker is busy: this answer goes out as it is, now.
        return Ok(res.map_into_left_body());
    };
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_ENCODING,
        HeaderValue::from_static(coding.token()),
    );
    headers.remove(header::CONTENT_LENGTH);
    weaken_etag(headers);
    let coding = match coding {
        Coding::Zstd if is_html(headers) => Codec::ZstdFrames,
        Coding::Zstd => Codec::Zstd,
        Coding::Brotli => Codec::Brotli,
        Coding::Gzip => Codec::Gzip,
    };
    Ok(res.map_body(|_, body| EitherBody::right(Encoded::with_slot(body.boxed(), coding, slot))))
}

/// Whether the answer is HTML (a page, a fragment): zstd sends it in frames ([`frames`]).
fn is_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.as_bytes().get(..9))
        .is_some_and(|t| t.eq_ignore_ascii_case(b"text/html"))
}

/// How an answer is encoded: a [`Coding`], and for zstd whether in frames ([`frames`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// `br`, streaming.
    Brotli,
    /// `zstd`, one streaming context.
    Zstd,
    /// `zstd`, one frame per chunk, frames kept per thread.
    ZstdFrames,
    /// `gzip`, streaming.
    Gzip,
}

thread_local! {
    /// Encoder slots in use on this worker thread.
    static SLOTS_IN_USE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// One of this worker's [`ENCODERS_PER_WORKER`] encoder slots, given back when dropped.
/// Not `Send`: it is taken and given back on the same thread.
#[derive(Debug)]
pub struct EncoderSlot {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl EncoderSlot {
    /// A free slot of this thread, or `None` when all are in use (never waits).
    pub fn take() -> Option<Self> {
        SLOTS_IN_USE.with(|used| {
            let n = used.get();
            (n < ENCODERS_PER_WORKER).then(|| {
                used.set(n + 1);
                Self {
                    _not_send: std::marker::PhantomData,
                }
            })
        })
    }

    /// Slots in use on this thread.
    pub fn in_use() -> usize {
        SLOTS_IN_USE.with(std::cell::Cell::get)
    }
}

impl Drop for EncoderSlot {
    fn drop(&mut self) {
        SLOTS_IN_USE.with(|used| used.set(used.get().saturating_sub(1)));
    }
}

/// zstd window, log2 bytes (128 KiB: more than any page), and its tables (32 Ki and 64 Ki
/// entries): smaller than level 3's defaults, so a pooled context holds about 0.5 MiB.
const ZSTD_WINDOW_LOG: u32 = 17;
const ZSTD_HASH_LOG: u32 = 15;
const ZSTD_CHAIN_LOG: u32 = 16;
/// zstd contexts kept per worker thread for the next answers.
const ZSTD_POOL: usize = 2;

type ZstdWriter = zstd::stream::zio::Writer<Vec<u8>, zstd::stream::raw::Encoder<'static>>;

thread_local! {
    /// Finished zstd contexts, reset, for the next answers on this thread: a new context
    /// costs more instructions (allocating and clearing its tables) than compressing a page.
    static ZSTD_CONTEXTS: std::cell::RefCell<Vec<zstd::stream::raw::Encoder<'static>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

fn zstd_context() -> std::io::Result<zstd::stream::raw::Encoder<'static>> {
    if let Some(context) = ZSTD_CONTEXTS.with(|pool| pool.borrow_mut().pop()) {
        return Ok(context);
    }
    use zstd::stream::raw::CParameter;
    let mut context = zstd::stream::raw::Encoder::new(ZSTD_LEVEL)?;
    for parameter in [
        CParameter::WindowLog(ZSTD_WINDOW_LOG),
        CParameter::HashLog(ZSTD_HASH_LOG),
        CParameter::ChainLog(ZSTD_CHAIN_LOG),
    ] {
        context.set_parameter(parameter)?;
    }
    Ok(context)
}

fn zstd_recycle(mut context: zstd::stream::raw::Encoder<'static>) {
    use zstd::stream::raw::Operation;
    // Only a context that reset cleanly (to a new frame, same parameters) is reused.
    if context.reinit().is_ok() {
        ZSTD_CONTEXTS.with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.len() < ZSTD_POOL {
                pool.push(context);
            }
        });
    }
}

/// One encoder, writing into a buffer that is handed on as chunks.
enum Encoder {
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
    Zstd(Box<ZstdWriter>),
    /// The frames so far, not yet handed on, and whether any was made.
    ZstdFrames(Vec<u8>, bool),
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
}

impl Encoder {
    fn new(coding: Codec) -> std::io::Result<Self> {
        Ok(match coding {
            Codec::ZstdFrames => Encoder::ZstdFrames(Vec::new(), false),
            Codec::Brotli => Encoder::Brotli(Box::new(brotli::CompressorWriter::new(
                Vec::new(),
                4096,
                BROTLI_QUALITY,
                BROTLI_WINDOW,
            ))),
            Codec::Zstd => Encoder::Zstd(Box::new(zstd::stream::zio::Writer::new(
                Vec::new(),
                zstd_context()?,
            ))),
            Codec::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::new(GZIP_LEVEL),
            )),
        })
    }

    fn write(&mut self, data: &Bytes) -> std::io::Result<()> {
        match self {
            Encoder::Brotli(e) => e.write_all(data),
            Encoder::Zstd(e) => e.write_all(data),
            Encoder::ZstdFrames(out, made) => {
                out.extend_from_slice(&frames::frame(data)?);
                *made = true;
                Ok(())
            }
            Encoder::Gzip(e) => e.write_all(data),
        }
    }

    /// Makes everything written so far decodable by the client (a sync flush).
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Encoder::Brotli(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
            // Every frame is complete already.
            Encoder::ZstdFrames(..) => Ok(()),
            Encoder::Gzip(e) => e.flush(),
        }
    }

    fn out(&mut self) -> &mut Vec<u8> {
        match self {
            Encoder::Brotli(e) => e.get_mut(),
            Encoder::Zstd(e) => e.writer_mut(),
            Encoder::ZstdFrames(out, _) => out,
            Encoder::Gzip(e) => e.get_mut(),
        }
    }

    fn take(&mut self) -> Bytes {
        Bytes::from(std::mem::take(self.out()))
    }

    fn finish(self) -> std::io::Result<Bytes> {
        let out = match self {
            Encoder::Brotli(e) => e.into_inner(),
            Encoder::Zstd(mut e) => {
                e.finish()?;
                let (out, context) = e.into_inner();
                zstd_recycle(context);
                out
            }
            // An empty body is still one frame (an empty one).
            Encoder::ZstdFrames(mut out, made) => {
                if !made {
                    out.extend_from_slice(&frames::frame(&Bytes::new())?);
                }
                out
            }
            Encoder::Gzip(e) => e.finish()?,
        };
        Ok(Bytes::from(out))
    }
}

/// A body compressed as it streams (see the module doc).
pub struct Encoded {
    body: BoxBody,
    encoder: Option<Encoder>,
    /// The worker's encoder slot, held while `encoder` lives.
    slot: Option<EncoderSlot>,
    /// Bytes went into the encoder since its last flush.
    unflushed: bool,
    /// The encoder could not be made: the error, reported on the first poll.
    failed: Option<std::io::Error>,
}

impl Encoded {
    /// Compresses `body` with `coding`, holding `slot` until the encoder is finished.
    pub fn with_slot(body: BoxBody, coding: Codec, slot: EncoderSlot) -> Self {
        let (encoder, failed) = match Encoder::new(coding) {
            Ok(e) => (Some(e), None),
            Err(e) => (None, Some(e)),
        };
        Self {
            body,
            slot: encoder.as_ref().map(|_| slot),
            encoder,
            unflushed: false,
            failed,
        }
    }
}

impl std::fmt::Debug for Encoded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoded").finish_non_exhaustive()
    }
}

impl MessageBody for Encoded {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        if let Some(e) = this.failed.take() {
            return Poll::Ready(Some(Err(e.into())));
        }
        loop {
            let Some(encoder) = this.encoder.as_mut() else {
                return Poll::Ready(None);
            };
            match Pin::new(&mut this.body).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    if chunk.is_empty() {
                        continue;
                    }
                    encoder.write(&chunk)?;
                    this.unflushed = true;
                    if encoder.out().len() >= OUT_CHUNK {
                        return Poll::Ready(Some(Ok(encoder.take())));
                    }
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => {
                    let rest = this.encoder.take().map(Encoder::finish).transpose();
                    // The encoder's memory is gone: its slot is free for the next answer.
                    this.slot = None;
                    let rest = rest?;
                    return match rest {
                        Some(rest) if !rest.is_empty() => Poll::Ready(Some(Ok(rest))),
                        _ => Poll::Ready(None),
                    };
                }
                Poll::Pending => {
                    // The body has nothing more for now: what is in the encoder goes out.
                    if this.unflushed {
                        this.unflushed = false;
                        encoder.flush()?;
                        let out = encoder.take();
                        if !out.is_empty() {
                            return Poll::Ready(Some(Ok(out)));
                        }
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_acceptable_coding_wins_by_q_value_then_preference() {
        assert_eq!(negotiate("gzip, deflate, br, zstd"), Some(Coding::Zstd));
        assert_eq!(negotiate("gzip, deflate, br"), Some(Coding::Brotli));
        assert_eq!(negotiate("gzip, deflate"), Some(Coding::Gzip));
        assert_eq!(negotiate("zstd;q=1, br;q=0.9"), Some(Coding::Zstd));
        assert_eq!(negotiate("br;q=0, gzip;q=0.1"), Some(Coding::Gzip));
        assert_eq!(negotiate("*"), Some(Coding::Zstd));
        assert_eq!(negotiate("*;q=0.5, zstd;q=0"), Some(Coding::Brotli));
        assert_eq!(negotiate("X-GZIP"), Some(Coding::Gzip));
        assert_eq!(negotiate("GZip ; Q=0.3"), Some(Coding::Gzip));
        for identity in [
            "",
            "identity",
            "deflate, compress",
            "br;q=0, gzip;q=0, zstd;q=0",
            "*;q=0",
            "gzip;q=2",
            "gzip;q=0.0001",
            "gzip;q=abc",
        ] {
            assert_eq!(negotiate(identity), None, "{identity}");
        }
    }

    #[test]
    fn q_values_are_read_in_thousandths() {
        assert_eq!(q_value("1"), Some(1000));
        assert_eq!(q_value("1.000"), Some(1000));
        assert_eq!(q_value("0.5"), Some(500));
        assert_eq!(q_value("0.05"), Some(50));
        assert_eq!(q_value("0"), Some(0));
        assert_eq!(q_value("1.5"), None);
        assert_eq!(q_value(".5"), None);
    }

    #[test]
    fn only_text_of_some_size_is_compressed() {
        let mut html = HeaderMap::new();
        html.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        let ok = StatusCode::OK;
        assert!(would_compress(ok, &html, BodySize::Stream));
        assert!(would_compress(ok, &html, BodySize::Sized(MIN_BYTES)));
        assert!(!would_compress(ok, &html, BodySize::Sized(MIN_BYTES - 1)));
        assert!(!would_compress(
            StatusCode::NOT_MODIFIED,
            &html,
            BodySize::None
        ));
        assert!(!would_compress(
            StatusCode::PARTIAL_CONTENT,
            &html,
            BodySize::Stream
        ));
        let mut png = HeaderMap::new();
        png.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
        assert!(!would_compress(ok, &png, BodySize::Sized(100_000)));
        let mut already = html.clone();
        already.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        assert!(!would_compress(ok, &already, BodySize::Stream));
        let mut no_transform = html.clone();
        no_transform.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, no-transform"),
        );
        assert!(!would_compress(ok, &no_transform, BodySize::Stream));
        for t in [
            "text/css",
            "application/javascript",
            "application/json",
            "image/svg+xml",
            "application/manifest+json",
        ] {
            assert!(compressible_type(t), "{t}");
        }
        for t in ["image/png", "font/woff2", "application/octet-stream"] {
            assert!(!compressible_type(t), "{t}");
        }
    }

    #[test]
    fn encoder_slots_are_bounded_per_thread_and_come_back_when_dropped() {
        std::thread::spawn(|| {
            let slots: Vec<EncoderSlot> = std::iter::from_fn(EncoderSlot::take).collect();
            assert_eq!(slots.len(), ENCODERS_PER_WORKER);
            assert!(EncoderSlot::take().is_none());
            // Another thread (worker) has its own slots.
            let other = std::thread::spawn(|| EncoderSlot::take().is_some());
            assert!(other.join().unwrap());
            drop(slots);
            assert_eq!(EncoderSlot::in_use(), 0);
            assert!(EncoderSlot::take().is_some());
        })
        .join()
        .unwrap();
    }

    /// A real server on port 0 with one worker, whose page streams for `hold`; its port and
    /// a handle to stop it.
    fn slow_page_server(hold: std::time::Duration) -> (u16, actix_web::dev::ServerHandle) {
        use actix_web::{web, App, HttpResponse, HttpServer};
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .wrap(actix_web::middleware::from_fn(compress))
                        .route(
                            "/",
                            web::get().to(move || async move {
                                let chunks = futures_util::stream::unfold(0, move |i| async move {
                                    if i == 1 {
                                        tokio::time::sleep(hold).await;
                                    }
                                    let chunk = Bytes::from("<p>a page, streamed</p>".repeat(64));
                                    (i < 2).then_some((Ok::<_, std::io::Error>(chunk), i + 1))
                                });
                                HttpResponse::Ok()
                                    .content_type("text/html; charset=utf-8")
                                    .streaming(chunks)
                            }),
                        )
                })
                .workers(1)
                .bind(("127.0.0.1", 0))
                .unwrap();
                let port = server.addrs()[0].port();
                let server = server.run();
                tx.send((port, server.handle())).unwrap();
                server.await.unwrap();
            });
        });
        rx.recv().unwrap()
    }

    /// GET / with `Accept-Encoding: br` over a fresh connection: the `Content-Encoding`.
    fn fetch_coding(port: u16) -> String {
        use std::io::Read;
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        s.write_all(
            b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAccept-Encoding: br\r\n\r\n",
        )
        .unwrap();
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).unwrap();
        let answer = String::from_utf8_lossy(&answer).to_ascii_lowercase();
        assert!(answer.starts_with("http/1.1 200"), "{answer}");
        let head = answer.split("\r\n\r\n").next().unwrap_or_default();
        head.lines()
            .find_map(|l| l.strip_prefix("content-encoding: "))
            .unwrap_or("identity")
            .to_owned()
    }

    #[test]
    fn answers_past_the_workers_encoders_go_out_uncompressed_at_once() {
        let hold = std::time::Duration::from_millis(700);
        let (port, handle) = slow_page_server(hold);
        let started = std::time::Instant::now();
        let clients: Vec<_> = (0..ENCODERS_PER_WORKER + 8)
            .map(|_| std::thread::spawn(move || fetch_coding(port)))
            .collect();
        let codings: Vec<String> = clients.into_iter().map(|c| c.join().unwrap()).collect();
        let elapsed = started.elapsed();
        let compressed = codings.iter().filter(|c| *c == "br").count();
        assert_eq!(compressed, ENCODERS_PER_WORKER, "{codings:?}");
        assert!(
            codings.iter().all(|c| c == "br" || c == "identity"),
            "{codings:?}"
        );
        // Nobody waited for an encoder: every page took about one page's time.
        assert!(elapsed < hold * 3, "{elapsed:?}");
        // The slots came back with the answers.
        assert_eq!(fetch_coding(port), "br");
        drop(handle.stop(false));
    }

    #[test]
    fn vary_accept_encoding_is_named_once_and_read_back() {
        let mut h = HeaderMap::new();
        h.insert(header::VARY, HeaderValue::from_static("Cookie"));
        assert!(!varies_by_encoding(&h));
        add_vary_accept_encoding(&mut h);
        assert!(varies_by_encoding(&h));
        add_vary_accept_encoding(&mut h);
        assert_eq!(h.get_all(header::VARY).count(), 2);
        let mut relayed = HeaderMap::new();
        relayed.insert(
            header::VARY,
            HeaderValue::from_static("origin, Accept-Encoding"),
        );
        add_vary_accept_encoding(&mut relayed);
        assert_eq!(relayed.get_all(header::VARY).count(), 1);
    }

    #[test]
    fn a_304_varies_by_encoding_when_its_200_is_compressible() {
        let big = MIN_BYTES as usize;
        assert!(compressible("application/json", "no-cache", big));
        assert!(!compressible("application/json", "no-cache", big - 1));
        assert!(!compressible("image/png", "public, no-cache", 100_000));
        assert!(!compressible("text/css", "public, no-transform", big));
        let mut res = actix_web::HttpResponse::NotModified()
            .insert_header((header::CACHE_CONTROL, "public, no-cache"))
            .finish();
        not_modified_vary(&mut res, "text/css; charset=utf-8", big);
        assert_eq!(res.headers().get(header::VARY).unwrap(), "accept-encoding");
        let mut small = actix_web::HttpResponse::NotModified().finish();
        not_modified_vary(&mut small, "text/css; charset=utf-8", 10);
        assert!(small.headers().get(header::VARY).is_none());
    }

    #[test]
    fn a_strong_etag_becomes_weak_once() {
        let mut h = HeaderMap::new();
        h.insert(header::ETAG, HeaderValue::from_static("\"abc\""));
        weaken_etag(&mut h);
        assert_eq!(h.get(header::ETAG).unwrap(), "W/\"abc\"");
        weaken_etag(&mut h);
        assert_eq!(h.get(header::ETAG).unwrap(), "W/\"abc\"");
    }
}
