//! Limits on failed sign-ins: per email (5 per 15 minutes) and per client address (20 per 15
//! minutes). Counters live in memory: a restart forgets them, which costs an attacker one
//! restart's worth of guesses and spares the database a write per failure.
//!
//! The client address is the peer address, or, when the peer is on a loopback or private
//! network (the shell's proxy), the last entry of `X-Forwarded-For` (the one the proxy
//! wrote; earlier entries are whatever the browser claimed).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;

/// Failed sign-ins allowed per email in a window.
pub const PER_EMAIL: usize = 5;
/// Failed sign-ins allowed per client address in a window.
pub const PER_CLIENT: usize = 20;
/// The window.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Keys kept before old ones are swept.
const SWEEP_AT: usize = 10_000;

/// The failure counters.
#[derive(Debug, Default)]
pub struct SignInLimiter {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// The sign-in was refused for too many failures; retry after this long.
#[derive(Debug, Clone, Copy)]
pub struct Limited {
    /// When the oldest counted failure leaves the window.
    pub retry_after: Duration,
}

impl Limited {
    /// "Too many failed sign-ins …", the message the form shows.
    pub fn message(&self) -> String {
        let minutes = self.retry_after.as_secs().div_ceil(60).max(1);
        format!(
            "Too many failed sign-ins. For your safety, signing in is paused: try again in {minutes} minute{}.",
            if minutes == 1 { "" } else { "s" }
        )
    }
}

impl SignInLimiter {
    fn keys(email: &str, client: IpAddr) -> [(String, usize); 2] {
        [
            (format!("email:{email}"), PER_EMAIL),
            (format!("client:{client}"), PER_CLIENT),
        ]
    }

    /// `Err` when either counter is full.
    pub fn check(&self, email: &str, client: IpAddr) -> Result<(), Limited> {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let mut worst: Option<Duration> = None;
        for (key, limit) in Self::keys(email, client) {
            if let Some(times) = map.get_mut(&key) {
                prune(times, now);
                if times.len() >= limit {
                    let oldest = times[times.len() - limit];
                    let wait = WINDOW.saturating_sub(now.duration_since(oldest));
                    worst = Some(worst.map_or(wait, |w| w.max(wait)));
                }
            }
        }
        match worst {
            Some(retry_after) => Err(Limited { retry_after }),
            None => Ok(()),
        }
    }

    /// Counts a failed sign-in.
    pub fn record_failure(&self, email: &str, client: IpAddr) {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= SWEEP_AT {
            map.retain(|_, times| {
                prune(times, now);
                !times.is_empty()
            });
        }
        for (key, limit) in Self::keys(email, client) {
            let times = map.entry(key).or_default();
            prune(times, now);
            times.push_back(now);
            while times.len() > limit {
                times.pop_front();
            }
        }
    }

    /// Forgets the email's failures after a successful sign-in.
    pub fn record_success(&self, email: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&format!("email:{email}"));
    }
}

fn prune(times: &mut VecDeque<Instant>, now: Instant) {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= WINDOW)
    {
        times.pop_front();
    }
}

/// The client address used for the per-client limit.
pub fn client_ip(req: &HttpRequest) -> IpAddr {
    let peer = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    if !is_internal(peer) {
        return peer;
    }
    req.headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse::<IpAddr>().ok())
        .unwrap_or(peer)
}

fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| v4.is_loopback() || v4.is_private())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn the_email_counter_fills_after_five_failures_and_clears_on_success() {
        let limiter = SignInLimiter::default();
        let ip = IpAddr::from([203, 0, 113, 1]);
        for _ in 0..PER_EMAIL {
            assert!(limiter.check("a@example.com", ip).is_ok());
            limiter.record_failure("a@example.com", ip);
        }
        let limited = limiter.check("a@example.com", ip).unwrap_err();
        assert!(
            limited.message().contains("try again in 15 minutes"),
            "{}",
            limited.message()
        );
        assert!(limiter.check("b@example.com", ip).is_ok());
        limiter.record_success("a@example.com");
        assert!(limiter.check("a@example.com", ip).is_ok());
    }

    #[test]
    fn the_client_counter_spans_emails() {
        let limiter = SignInLimiter::default();
        let ip = IpAddr::from([203, 0, 113, 2]);
        for i in 0..PER_CLIENT {
            limiter.record_failure(&format!("u{i}@example.com"), ip);
        }
        assert!(limiter.check("new@example.com", ip).is_err());
        assert!(limiter
            .check("new@example.com", IpAddr::from([203, 0, 113, 3]))
            .is_ok());
    }

    #[test]
    fn forwarded_for_is_trusted_only_from_internal_peers() {
        let proxied = TestRequest::default()
            .peer_addr("127.0.0.1:5000".parse().unwrap())
            .insert_header(("x-forwarded-for", "1.1.1.1, 198.51.100.7"))
            .to_http_request();
        assert_eq!(
            client_ip(&proxied),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        let direct = TestRequest::default()
            .peer_addr("198.51.100.9:5000".parse().unwrap())
            .insert_header(("x-forwarded-for", "10.0.0.1"))
            .to_http_request();
        assert_eq!(
            client_ip(&direct),
            "198.51.100.9".parse::<IpAddr>().unwrap()
        );
    }
}
