//! The fragment cache: answers a service marked shareable (`Cache-Control: max-age`, not
//! `private`), by URL, user and language, bounded by bytes. Past its freshness a copy is
//! refetched by one request while the others keep serving it, and it stands in for a
//! failing service for [`STALE_FOR`] after it was stored.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::slot::Html;

/// How long a cacheable fragment may stand in after it went stale, when its service fails.
pub const STALE_FOR: Duration = Duration::from_secs(600);
/// Bytes of fragments (HTML and keys) the fragment cache holds; the least used go first.
pub const MAX_FRAGMENT_CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// A cached fragment. Past `fresh_until`, the first request to see it refetches it
/// (`refreshing`) while the others keep serving this copy: one refetch per expiry, however
/// many requests arrive meanwhile.
#[derive(Debug)]
struct CachedFragment {
    html: Html,
    fresh_until: Instant,
    refreshing: AtomicBool,
}

/// Lets go of a cached fragment's refresh when the refetch ends without storing a new copy
/// (failed, or cancelled with its request), so that the next request tries again.
#[derive(Debug)]
pub struct RefreshGuard(Arc<CachedFragment>);

impl Drop for RefreshGuard {
    fn drop(&mut self) {
        self.0.refreshing.store(false, Ordering::Release);
    }
}

/// What a lookup found.
#[derive(Debug)]
pub enum Cached {
    /// A copy to serve: fresh, or stale while another request refetches it.
    Serve(Html),
    /// Nothing to serve: this request fetches (holding the refresh of a stale copy, if any,
    /// until it ends).
    Fetch(Option<RefreshGuard>),
}

/// Cacheable fragments by URL, user and language.
#[derive(Debug)]
pub struct FragmentCache {
    entries: moka::sync::Cache<String, Arc<CachedFragment>>,
    /// Whether anything was ever stored. Until then a lookup answers at once, without
    /// hashing its key into `entries` (about 1,000 instructions a fragment: issue 26), where
    /// every service sends its fragments `no-cache` or `private`.
    stored: AtomicBool,
}

impl Default for FragmentCache {
    fn default() -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(MAX_FRAGMENT_CACHE_BYTES)
                .weigher(|key: &String, entry: &Arc<CachedFragment>| {
                    u32::try_from(key.len() + entry.html.len()).unwrap_or(u32::MAX)
                })
                .time_to_live(STALE_FOR)
                .build(),
            stored: AtomicBool::new(false),
        }
    }
}

impl FragmentCache {
    /// Fresh: served. Stale with a refetch under way: the stale copy, so an expiry under
    /// load costs the service one request. Stale otherwise: this request refetches.
    pub fn lookup(&self, key: &str) -> Cached {
        if !self.stored.load(Ordering::Acquire) {
            return Cached::Fetch(None);
        }
        let Some(entry) = self.entries.get(key) else {
            return Cached::Fetch(None);
        };
        if Instant::now() < entry.fresh_until || entry.refreshing.swap(true, Ordering::AcqRel) {
            return Cached::Serve(entry.html.clone());
        }
        Cached::Fetch(Some(RefreshGuard(entry)))
    }

    /// Whether nothing was ever stored (and so no lookup can find anything): a page then
    /// makes no cache keys for its fragments (issue 26).
    pub fn is_empty(&self) -> bool {
        !self.stored.load(Ordering::Acquire)
    }

    /// Forgets every cached fragment (the dev loop, after a team restarted).
    pub fn clear(&self) {
        self.entries.invalidate_all();
    }

    /// The last good copy of a fragment, fresh or not (entries leave after [`STALE_FOR`]).
    pub fn last_good(&self, key: &str) -> Option<Html> {
        if !self.stored.load(Ordering::Acquire) {
            return None;
        }
        self.entries.get(key).map(|e| e.html.clone())
    }

    /// Keeps a copy of `html`, fresh for `ttl`: a copy, so that the cache holds the
    /// fragment's bytes alone, not the connection's read buffer that an answer's body is a
    /// part of.
    pub fn store(&self, key: String, html: &Html, ttl: Duration) {
        let entry = CachedFragment {
            html: html.copied(),
            fresh_until: Instant::now() + ttl,
            refreshing: AtomicBool::new(false),
        };
        self.stored.store(true, Ordering::Release);
        self.entries.insert(key, Arc::new(entry));
    }
}

/// The fragment cache's key: URL, user (or `anonymous`) and language.
pub fn cache_key(url: &str, user_id: Option<i64>, language: Option<&str>) -> String {
    use std::fmt::Write;
    let language = language.unwrap_or("");
    let mut key = String::with_capacity(url.len() + language.len() + 24);
    key.push_str(url);
    key.push('\n');
    match user_id {
        Some(id) => {
            let _ = write!(key, "{id}");
        }
        None => key.push_str("anonymous"),
    }
    key.push('\n');
    key.push_str(language);
    key
}

/// How long a shared cache may reuse an answer with this `Cache-Control`: `max-age` (or
/// `s-maxage`) above zero and none of `private`, `no-store`, `no-cache`.
pub fn cacheable_for(cache_control: &str) -> Option<Duration> {
    // The rule is the contract's, written once (`shell check --strict` applies it too).
    shared_ui::contract::shared_cache_seconds(cache_control)
        .map(|s| Duration::from_secs(s.min(3600)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_shared_cacheable_answers_are_reused() {
        assert_eq!(
            cacheable_for("public, max-age=30"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            cacheable_for("max-age=5, s-maxage=10"),
            Some(Duration::from_secs(10))
        );
        assert_eq!(cacheable_for("private, max-age=30"), None);
        assert_eq!(cacheable_for("no-store"), None);
        assert_eq!(cacheable_for("public, max-age=0"), None);
        assert_eq!(cacheable_for("public, no-cache, max-age=30"), None);
        // Directive names in any case, spaces around `=`.
        assert_eq!(
            cacheable_for("Public, Max-Age = 30"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(cacheable_for("max-age=30, NO-CACHE"), None);
        assert_eq!(
            cacheable_for("max-age=\"20\""),
            Some(Duration::from_secs(20))
        );
        assert_eq!(cacheable_for("max-age=soon"), None);
    }
}
