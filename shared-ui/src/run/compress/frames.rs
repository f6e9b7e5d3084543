//! zstd for HTML that streams in pieces: every chunk of the body becomes a zstd frame of
//! its own, and a frame once made is kept per worker thread, so a chunk that comes again
//! (a page's head and the HTML between its slots, a fragment that did not change) costs a
//! hash and a comparison instead of a compression.
//!
//! A zstd body may be several frames one after another (RFC 8878 §3.1: "one or more
//! frames"; every decoder reads on into the next, browsers' too). Each frame is complete
//! when it goes out, so the body still streams without any flush, and a frame refers to
//! nothing outside itself: what one fragment holds (a user's name) never shortens another
//! (a reflected query).
//!
//! The frames kept are bounded: at most [`KEPT_FRAMES`] of at most [`KEPT_BYTES`] (plain and
//! compressed together) per worker thread, all forgotten at once when the next would pass
//! either bound. A kept frame is used only for a chunk equal to the one it was made from,
//! byte for byte (the hash only finds it). Chunks above [`MAX_KEPT_CHUNK`] are compressed
//! and not kept.
//!
//! `bench/callgrind` (`/dashboard`, 10,279 bytes, 500 pages), 2026-12-05: with one streaming
//! context a page (level 3, flushed whenever the body waits) a zstd page cost 678,364
//! instructions against identity's 222,013 (3.1x) and weighed 3,235 bytes; in frames it
//! costs 243,299 against 221,497 (1.10x) and weighs 4,143 bytes (gzip 3,081, brotli
//! 3,011). The bytes are more, still far below one initial TCP window (10 segments).

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::BuildHasher;

use bytes::Bytes;

/// Frames kept per worker thread, at most.
pub const KEPT_FRAMES: usize = 256;
/// Bytes kept per worker thread (chunks and their frames), at most.
pub const KEPT_BYTES: usize = 1024 * 1024;
/// Larger chunks are compressed each time, never kept.
pub const MAX_KEPT_CHUNK: usize = 64 * 1024;

/// A chunk and its frame.
struct Kept {
    plain: Bytes,
    frame: Bytes,
}

/// This thread's compressor and kept frames.
struct Frames {
    compressor: zstd::bulk::Compressor<'static>,
    kept: HashMap<u64, Kept>,
    kept_bytes: usize,
    hasher: foldhash::fast::FixedState,
}

impl Frames {
    fn new() -> std::io::Result<Self> {
        Ok(Self {
            compressor: zstd::bulk::Compressor::new(super::ZSTD_LEVEL)?,
            kept: HashMap::new(),
            kept_bytes: 0,
            hasher: foldhash::fast::FixedState::with_seed(0x6d66_7368_656c_6c00),
        })
    }

    /// The frame of `chunk`: the kept one, or a new one (kept when there is room).
    fn frame(&mut self, chunk: &Bytes) -> std::io::Result<Bytes> {
        if chunk.len() > MAX_KEPT_CHUNK {
            return Ok(Bytes::from(self.compressor.compress(chunk)?));
        }
        let key = self.hasher.hash_one(chunk.as_ref());
        if let Some(kept) = self.kept.get(&key).filter(|k| k.plain == chunk) {
            return Ok(kept.frame.clone());
        }
        let frame = Bytes::from(self.compressor.compress(chunk)?);
        let size = chunk.len() + frame.len();
        if self.kept.len() >= KEPT_FRAMES || self.kept_bytes + size > KEPT_BYTES {
            self.kept.clear();
            self.kept_bytes = 0;
        }
        // A copy: `chunk` may be a slice of a larger buffer, which would stay alive.
        let plain = Bytes::copy_from_slice(chunk);
        if let Some(old) = self.kept.insert(
            key,
            Kept {
                plain,
                frame: frame.clone(),
            },
        ) {
            self.kept_bytes -= old.plain.len() + old.frame.len();
        }
        self.kept_bytes += size;
        Ok(frame)
    }
}

thread_local! {
    static FRAMES: RefCell<Option<Frames>> = const { RefCell::new(None) };
}

/// The zstd frame of `chunk`, made on (or kept by) the calling thread.
pub fn frame(chunk: &Bytes) -> std::io::Result<Bytes> {
    FRAMES.with(|frames| {
        let mut frames = frames.borrow_mut();
        if frames.is_none() {
            *frames = Some(Frames::new()?);
        }
        match frames.as_mut() {
            Some(frames) => frames.frame(chunk),
            None => Err(std::io::Error::other("no zstd compressor")),
        }
    })
}

/// Frames kept on the calling thread, and their bytes (chunks and frames).
#[cfg(test)]
pub fn kept() -> (usize, usize) {
    FRAMES.with(|frames| {
        frames
            .borrow()
            .as_ref()
            .map_or((0, 0), |f| (f.kept.len(), f.kept_bytes))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(body: &[u8]) -> Vec<u8> {
        zstd::stream::decode_all(body).expect("zstd decodes")
    }

    #[test]
    fn frames_one_after_another_decode_to_the_chunks_and_are_kept() {
        std::thread::spawn(|| {
            let head = Bytes::from("<!DOCTYPE html><head><title>t</title></head>".repeat(30));
            let slot = Bytes::from("<p>a fragment</p>".repeat(40));
            let first = frame(&head).unwrap();
            let mut body = first.to_vec();
            body.extend_from_slice(&frame(&slot).unwrap());
            let mut plain = head.to_vec();
            plain.extend_from_slice(&slot);
            assert_eq!(decode(&body), plain);
            assert!(first.len() < head.len() / 4, "{} bytes", first.len());
            assert_eq!(kept(), (2, head.len() + slot.len() + body.len()));
            // The same chunk again: the kept frame, the very same bytes.
            let again = frame(&Bytes::copy_from_slice(&head)).unwrap();
            assert_eq!(again.as_ptr(), first.as_ptr());
            assert_eq!(kept().0, 2);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn what_is_kept_stays_within_its_bounds() {
        std::thread::spawn(|| {
            for i in 0..(KEPT_FRAMES * 3) {
                let chunk = Bytes::from(format!("<p>chunk {i}</p>").repeat(200));
                assert_eq!(decode(&frame(&chunk).unwrap()), chunk);
                let (n, bytes) = kept();
                assert!(n <= KEPT_FRAMES && bytes <= KEPT_BYTES, "{n} {bytes}");
            }
            let big = Bytes::from(vec![b'a'; MAX_KEPT_CHUNK + 1]);
            let before = kept();
            assert_eq!(decode(&frame(&big).unwrap()), big);
            assert_eq!(kept(), before);
        })
        .join()
        .unwrap();
    }
}
