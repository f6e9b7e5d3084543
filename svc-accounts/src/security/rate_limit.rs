//! Limits on sign-ins and sign-ups, counted per key in sliding windows.
//!
//! - Sign-in: failures per email (default 5 per 15 minutes) and per client address (default
//!   20 per 15 minutes). An attempt is counted when it BEGINS, before its password is
//!   checked, so concurrent guesses cannot all slip in before the first failure is recorded:
//!   of 30 simultaneous guesses at one email, 5 are checked and 25 get a 429. A successful
//!   attempt then clears its email's counter and gives its client slot back.
//! - Sign-up: attempts per client address (default 10 per hour) and over the whole service
//!   (default 1,000 per hour), counted before the password is hashed.
//! - Password-reset links: 3 requests per email and 10 per client address in an hour.
//!
//! - A known device (a browser whose `mf_device` cookie vouches for the email, see
//!   [`crate::security::device`]) has its own budget instead: its attempts count under its
//!   cookie entry alone (the per-email limit), never under the email or the client, so
//!   strangers guessing at an email cannot pause its owner's browser, while every unknown
//!   client stays under the email's limit.
//!
//! The client address is [`shared_ui::proxies::TrustedProxies::client_ip`]: the TCP peer,
//! unless the peer is a configured trusted proxy (the shell), whose `X-Forwarded-For` is then
//! believed. Its key ([`client_key`]) is the address for IPv4 and the network of
//! [`Limits::ipv6_prefix`] bits (a /64 by default) for IPv6, since one subscriber is given
//! a whole /64 and could otherwise rotate through its addresses.
//!
//! Where the counters live: in memory in this process with SQLite (one process serves
//! everyone), and in PostgreSQL (the table `rate_limit_events`) when the accounts are there,
//! so that every replica counts the same attempts: five failures spread over three replicas
//! still pause the email. A counter that cannot be read from PostgreSQL lets the attempt
//! through with an error logged: the database is then down, and the sign-in itself fails
//! at the next step (see `docs/SECURITY.md`).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::security::device::KnownDevice;
use crate::storage::postgres::PgStorage;

/// Failed sign-ins allowed per email in a window, by default.
pub const PER_EMAIL: usize = 5;
/// Failed sign-ins allowed per client address in a window, by default.
pub const PER_CLIENT: usize = 20;
/// The sign-in window.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Sign-ups allowed per client address in [`SIGN_UP_WINDOW`], by default.
pub const SIGN_UPS_PER_CLIENT: usize = 10;
/// Sign-ups allowed over the whole service in [`SIGN_UP_WINDOW`], by default.
pub const SIGN_UPS_GLOBAL: usize = 1000;
/// The sign-up window.
pub const SIGN_UP_WINDOW: Duration = Duration::from_secs(60 * 60);
/// Password-reset requests allowed per email in [`SIGN_UP_WINDOW`].
pub const RESETS_PER_EMAIL: usize = 3;
/// Password-reset requests allowed per client address in [`SIGN_UP_WINDOW`].
pub const RESETS_PER_CLIENT: usize = 10;
/// The IPv6 prefix length that makes one client, by default.
pub const IPV6_PREFIX: u8 = 64;
/// Keys kept before old ones are swept.
const SWEEP_AT: usize = 10_000;

/// At most `limit` events per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Events allowed in a window.
    pub limit: usize,
    /// The sliding window.
    pub window: Duration,
}

/// The configured limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Sign-in attempts per email (successes give theirs back).
    pub sign_in_per_email: Rule,
    /// Sign-in attempts per client address (successes give theirs back).
    pub sign_in_per_client: Rule,
    /// Sign-up attempts per client address.
    pub sign_up_per_client: Rule,
    /// Sign-up attempts over the whole service.
    pub sign_up_global: Rule,
    /// IPv6 clients are counted per network of this many bits.
    pub ipv6_prefix: u8,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            sign_in_per_email: Rule {
                limit: PER_EMAIL,
                window: WINDOW,
            },
            sign_in_per_client: Rule {
                limit: PER_CLIENT,
                window: WINDOW,
            },
            sign_up_per_client: Rule {
                limit: SIGN_UPS_PER_CLIENT,
                window: SIGN_UP_WINDOW,
            },
            sign_up_global: Rule {
                limit: SIGN_UPS_GLOBAL,
                window: SIGN_UP_WINDOW,
            },
            ipv6_prefix: IPV6_PREFIX,
        }
    }
}

/// The counter key of a client address: an IPv4 address as it is, an IPv6 address as its
/// network of `ipv6_prefix` bits (`2001:db8:1:2::/64`). IPv4-mapped IPv6 addresses are
/// already IPv4 here (`TrustedProxies::client_ip` makes them canonical).
pub fn client_key(client: IpAddr, ipv6_prefix: u8) -> String {
    match client {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let bits = u32::from(ipv6_prefix.min(128));
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            let network = Ipv6Addr::from(u128::from(v6) & mask);
            format!("{network}/{bits}")
        }
    }
}

/// Refused for too many attempts; retry after this long.
#[derive(Debug, Clone, Copy)]
pub struct Limited {
    /// When the oldest counted attempt leaves the window.
    pub retry_after: Duration,
}

impl Limited {
    fn minutes(&self) -> String {
        let minutes = self.retry_after.as_secs().div_ceil(60).max(1);
        format!("{minutes} minute{}", if minutes == 1 { "" } else { "s" })
    }

    /// "Too many failed sign-ins …", the message the sign-in form shows.
    pub fn message(&self) -> String {
        format!(
            "Too many failed sign-ins. For your safety, signing in is paused: try again in {}.",
            self.minutes()
        )
    }

    /// The message the password-reset request form shows.
    pub fn reset_message(&self) -> String {
        format!(
            "Too many reset links were asked for. Try again in {}.",
            self.minutes()
        )
    }

    /// The message the sign-up form shows.
    pub fn sign_up_message(&self) -> String {
        format!(
            "Too many accounts were created from here recently. Try again in {}.",
            self.minutes()
        )
    }
}

/// A sign-in attempt that was counted; report how it ended with
/// [`Limiter::sign_in_succeeded`] (a failure needs nothing more: it is already counted).
#[derive(Debug)]
pub struct SignInAttempt {
    /// The key a success clears: the email's, or the known device's.
    reset_key: String,
    /// The client's key, for an unknown client.
    client_key: Option<String>,
    at: Instant,
    /// In PostgreSQL: the id of the client key's event.
    client_event: Option<i64>,
}

/// The counters.
#[derive(Debug, Default)]
pub struct Limiter {
    limits: Limits,
    events: Mutex<HashMap<String, VecDeque<Instant>>>,
    /// When set, the counters are this database's, shared by every replica; `events` is
    /// then unused.
    shared: Option<PgStorage>,
}

impl Limiter {
    /// Counters in memory, with these limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            events: Mutex::default(),
            shared: None,
        }
    }

    /// Counters in PostgreSQL, shared by every replica on `storage`.
    pub fn shared(limits: Limits, storage: PgStorage) -> Self {
        Self {
            shared: Some(storage),
            ..Self::new(limits)
        }
    }

    /// Counts one event under every key, in memory or in the shared table; the shared
    /// table's ids of the new events (empty in memory, where `now` marks them).
    async fn count(&self, keys: &[(&str, Rule)], now: Instant) -> Result<Vec<i64>, Limited> {
        let Some(storage) = &self.shared else {
            return self.take(keys, now).map(|()| Vec::new());
        };
        let owned = keys
            .iter()
            .map(|(key, rule)| ((*key).to_owned(), rule.limit, rule.window))
            .collect();
        match storage.take_events(owned).await {
            Ok(Ok(ids)) => Ok(ids),
            Ok(Err(retry_after)) => Err(Limited { retry_after }),
            Err(e) => {
                tracing::error!(error = %e, "rate-limit counters unavailable; attempt let through");
                Ok(Vec::new())
            }
        }
    }

    /// Counts one event under every key at once, or none if any key is full (then the
    /// longest wait). One lock, so concurrent attempts are counted one after another.
    fn take(&self, keys: &[(&str, Rule)], now: Instant) -> Result<(), Limited> {
        let mut map = self.events.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= SWEEP_AT {
            let longest = keys.iter().map(|(_, r)| r.window).max().unwrap_or(WINDOW);
            let longest = longest.max(SIGN_UP_WINDOW).max(WINDOW);
            map.retain(|_, times| {
                prune(times, now, longest);
                !times.is_empty()
            });
        }
        let mut worst: Option<Duration> = None;
        for (key, rule) in keys {
            if let Some(times) = map.get_mut(*key) {
                prune(times, now, rule.window);
                if times.len() >= rule.limit {
                    let oldest = times[times.len() - rule.limit];
                    let wait = rule.window.saturating_sub(now.duration_since(oldest));
                    worst = Some(worst.map_or(wait, |w| w.max(wait)));
                }
            }
        }
        if let Some(retry_after) = worst {
            return Err(Limited { retry_after });
        }
        for (key, rule) in keys {
            let times = map.entry((*key).to_owned()).or_default();
            times.push_back(now);
            while times.len() > rule.limit {
                times.pop_front();
            }
        }
        Ok(())
    }

    /// Counts a sign-in attempt before its password is checked; `Err` when the email or the
    /// client has used up its attempts, or, for a known device, the device has.
    pub async fn begin_sign_in(
        &self,
        email: &str,
        client: IpAddr,
        device: Option<&KnownDevice>,
    ) -> Result<SignInAttempt, Limited> {
        let now = Instant::now();
        if let Some(device) = device {
            let device_key = format!("sign-in:device:{}", device.as_str());
            self.count(&[(&device_key, self.limits.sign_in_per_email)], now)
                .await?;
            return Ok(SignInAttempt {
                reset_key: device_key,
                client_key: None,
                at: now,
                client_event: None,
            });
        }
        let email_key = format!("sign-in:email:{email}");
        let client_key = format!(
            "sign-in:client:{}",
            client_key(client, self.limits.ipv6_prefix)
        );
        let ids = self
            .count(
                &[
                    (&email_key, self.limits.sign_in_per_email),
                    (&client_key, self.limits.sign_in_per_client),
                ],
                now,
            )
            .await?;
        Ok(SignInAttempt {
            reset_key: email_key,
            client_key: Some(client_key),
            at: now,
            client_event: ids.get(1).copied(),
        })
    }

    /// The attempt succeeded: the email's (or the known device's) failures are forgotten and
    /// the client's slot is given back.
    pub async fn sign_in_succeeded(&self, attempt: SignInAttempt) {
        if let Some(storage) = &self.shared {
            let ids = attempt.client_event.into_iter().collect();
            if let Err(e) = storage.forget_events(Some(attempt.reset_key), ids).await {
                tracing::error!(error = %e, "rate-limit counters unavailable; success not recorded");
            }
            return;
        }
        let mut map = self.events.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&attempt.reset_key);
        if let Some(times) = attempt.client_key.and_then(|key| map.get_mut(&key)) {
            if let Some(i) = times.iter().position(|t| *t == attempt.at) {
                times.remove(i);
            }
        }
    }

    /// Counts a sign-up attempt (before its password is hashed); `Err` when the client or
    /// the whole service has used up its sign-ups.
    pub async fn begin_sign_up(&self, client: IpAddr) -> Result<(), Limited> {
        let client_key = format!(
            "sign-up:client:{}",
            client_key(client, self.limits.ipv6_prefix)
        );
        self.count(
            &[
                (&client_key, self.limits.sign_up_per_client),
                ("sign-up:global", self.limits.sign_up_global),
            ],
            Instant::now(),
        )
        .await
        .map(drop)
    }
}

impl Limiter {
    /// Counts a password-reset request (before anything is looked up or mailed); `Err` when
    /// the email or the client has used up its requests
    /// ([`RESETS_PER_EMAIL`], [`RESETS_PER_CLIENT`] per hour).
    pub async fn begin_reset(&self, email: &str, client: IpAddr) -> Result<(), Limited> {
        let (per_email, per_client) = (RESETS_PER_EMAIL, RESETS_PER_CLIENT);
        let rule = |limit| Rule {
            limit,
            window: SIGN_UP_WINDOW,
        };
        let email_key = format!("reset:email:{email}");
        let client_key = format!(
            "reset:client:{}",
            client_key(client, self.limits.ipv6_prefix)
        );
        self.count(
            &[
                (&email_key, rule(per_email)),
                (&client_key, rule(per_client)),
            ],
            Instant::now(),
        )
        .await
        .map(drop)
    }
}

fn prune(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= window)
    {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_email_counter_fills_after_five_attempts_and_clears_on_success() {
        let limiter = Limiter::default();
        let ip = IpAddr::from([203, 0, 113, 1]);
        for _ in 0..PER_EMAIL {
            limiter
                .begin_sign_in("a@example.com", ip, None)
                .await
                .unwrap();
        }
        let limited = limiter
            .begin_sign_in("a@example.com", ip, None)
            .await
            .unwrap_err();
        assert!(
            limited.message().contains("try again in 15 minutes"),
            "{}",
            limited.message()
        );
        assert!(limiter
            .begin_sign_in("b@example.com", ip, None)
            .await
            .is_ok());
        limiter
            .events
            .lock()
            .unwrap()
            .remove("sign-in:email:a@example.com");
        let attempt = limiter
            .begin_sign_in("a@example.com", ip, None)
            .await
            .unwrap();
        limiter.sign_in_succeeded(attempt).await;
        assert!(limiter
            .begin_sign_in("a@example.com", ip, None)
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn the_client_counter_spans_emails_and_successes_give_their_slot_back() {
        let limiter = Limiter::default();
        let ip = IpAddr::from([203, 0, 113, 2]);
        for i in 0..PER_CLIENT * 2 {
            let ok = limiter
                .begin_sign_in(&format!("ok{i}@example.com"), ip, None)
                .await
                .unwrap();
            limiter.sign_in_succeeded(ok).await;
        }
        for i in 0..PER_CLIENT {
            limiter
                .begin_sign_in(&format!("u{i}@example.com"), ip, None)
                .await
                .unwrap();
        }
        assert!(limiter
            .begin_sign_in("new@example.com", ip, None)
            .await
            .is_err());
        assert!(limiter
            .begin_sign_in("new@example.com", IpAddr::from([203, 0, 113, 3]), None)
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn a_refused_attempt_counts_under_no_key() {
        let limiter = Limiter::default();
        let ip = IpAddr::from([203, 0, 113, 4]);
        for _ in 0..PER_EMAIL {
            limiter
                .begin_sign_in("x@example.com", ip, None)
                .await
                .unwrap();
        }
        for _ in 0..50 {
            assert!(limiter
                .begin_sign_in("x@example.com", ip, None)
                .await
                .is_err());
        }
        // The client key holds only the five that were let through.
        for i in 0..PER_CLIENT - PER_EMAIL {
            limiter
                .begin_sign_in(&format!("y{i}@example.com"), ip, None)
                .await
                .unwrap();
        }
        assert!(limiter
            .begin_sign_in("z@example.com", ip, None)
            .await
            .is_err());
    }

    #[tokio::test]
    async fn sign_ups_are_limited_per_client_and_globally() {
        let rule = |limit| Rule {
            limit,
            window: SIGN_UP_WINDOW,
        };
        let limiter = Limiter::new(Limits {
            sign_up_per_client: rule(2),
            sign_up_global: rule(3),
            ..Limits::default()
        });
        let a = IpAddr::from([198, 51, 100, 1]);
        let b = IpAddr::from([198, 51, 100, 2]);
        limiter.begin_sign_up(a).await.unwrap();
        limiter.begin_sign_up(a).await.unwrap();
        let limited = limiter.begin_sign_up(a).await.unwrap_err();
        assert!(limited.sign_up_message().contains("60 minutes"));
        limiter.begin_sign_up(b).await.unwrap();
        // The global limit (3) is now full for everyone.
        assert!(limiter
            .begin_sign_up(IpAddr::from([198, 51, 100, 3]))
            .await
            .is_err());
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_network_and_ipv4_by_the_address() {
        let v6 = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(client_key(v6("2001:db8:1:2::7"), 64), "2001:db8:1:2::/64");
        assert_eq!(
            client_key(v6("2001:db8:1:2:ffff::1"), 64),
            client_key(v6("2001:db8:1:2::9"), 64)
        );
        assert_ne!(
            client_key(v6("2001:db8:1:2::1"), 64),
            client_key(v6("2001:db8:1:3::1"), 64)
        );
        assert_eq!(
            client_key(v6("2001:db8:1:2::7"), 128),
            "2001:db8:1:2::7/128"
        );
        assert_eq!(client_key(v6("2001:db8:1:2::7"), 48), "2001:db8:1::/48");
        assert_eq!(client_key(v6("203.0.113.5"), 64), "203.0.113.5");
    }

    #[tokio::test]
    async fn a_known_device_has_its_own_budget_beside_the_email() {
        let limiter = Limiter::default();
        let ip = IpAddr::from([203, 0, 113, 5]);
        for _ in 0..PER_EMAIL {
            limiter
                .begin_sign_in("o@example.com", ip, None)
                .await
                .unwrap();
        }
        assert!(limiter
            .begin_sign_in("o@example.com", ip, None)
            .await
            .is_err());
        let device = KnownDevice::for_tests("nonce-a");
        for _ in 0..PER_EMAIL {
            limiter
                .begin_sign_in("o@example.com", ip, Some(&device))
                .await
                .unwrap();
        }
        assert!(limiter
            .begin_sign_in("o@example.com", ip, Some(&device))
            .await
            .is_err());
        let other = KnownDevice::for_tests("nonce-b");
        let attempt = limiter
            .begin_sign_in("o@example.com", ip, Some(&other))
            .await
            .unwrap();
        limiter.sign_in_succeeded(attempt).await;
        // Unknown clients stay paused after the device's success.
        assert!(limiter
            .begin_sign_in("o@example.com", ip, None)
            .await
            .is_err());
    }
}
