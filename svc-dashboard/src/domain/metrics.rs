//! The service's own figures, recorded by the service's observer (`routes::service`) on every request and
//! shown by the `stats` fragment.
//!
//! Counters are atomics. Durations go into a [`LatencyWindow`]: a ring buffer of the last
//! [`LatencyWindow::CAPACITY`] requests that also drops samples older than
//! [`LatencyWindow::MAX_AGE`], so the percentiles describe recent traffic and memory stays
//! bounded however long the service runs.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// What the service knows about itself.
#[derive(Debug)]
pub struct Metrics {
    started: Instant,
    started_at: SystemTime,
    requests: AtomicU64,
    fragments: AtomicU64,
    server_errors: AtomicU64,
    window: Mutex<LatencyWindow>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// What a request was, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The HTTP status.
    pub status: u16,
    /// Whether it served a fragment (`GET /fragments/…` answered 200).
    pub fragment: bool,
}

impl Metrics {
    /// Figures starting now.
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            started_at: SystemTime::now(),
            requests: AtomicU64::new(0),
            fragments: AtomicU64::new(0),
            server_errors: AtomicU64::new(0),
            window: Mutex::new(LatencyWindow::default()),
        }
    }

    /// Records one answered request.
    pub fn record(&self, outcome: Outcome, elapsed: Duration) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if outcome.fragment {
            self.fragments.fetch_add(1, Ordering::Relaxed);
        }
        if outcome.status >= 500 {
            self.server_errors.fetch_add(1, Ordering::Relaxed);
        }
        let mut window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        window.record(Instant::now(), elapsed);
    }

    /// The figures as of now.
    pub fn snapshot(&self) -> Snapshot {
        let now = Instant::now();
        let recent = self
            .window
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .recent(now);
        let latency = Percentiles::of(recent);
        Snapshot {
            requests: self.requests.load(Ordering::Relaxed),
            fragments: self.fragments.load(Ordering::Relaxed),
            server_errors: self.server_errors.load(Ordering::Relaxed),
            uptime: now.duration_since(self.started),
            started_at: self.started_at,
            taken_at: SystemTime::now(),
            latency,
        }
    }
}

/// The figures at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Requests answered since start.
    pub requests: u64,
    /// Fragments served since start.
    pub fragments: u64,
    /// Answers with a 5xx status since start.
    pub server_errors: u64,
    /// Time since start.
    pub uptime: Duration,
    /// Wall-clock start.
    pub started_at: SystemTime,
    /// Wall-clock time of the snapshot.
    pub taken_at: SystemTime,
    /// Percentiles of the recent window, if it holds any request.
    pub latency: Option<Percentiles>,
}

/// Nearest-rank percentiles of a window of durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Percentiles {
    /// How many requests the window holds.
    pub count: usize,
    /// Median.
    pub p50: Duration,
    /// 95th percentile.
    pub p95: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Slowest.
    pub max: Duration,
}

/// A bounded window of recent request durations.
#[derive(Debug, Default)]
pub struct LatencyWindow {
    samples: VecDeque<(Instant, Duration)>,
}

impl LatencyWindow {
    /// Most samples kept.
    pub const CAPACITY: usize = 1024;
    /// Oldest sample kept.
    pub const MAX_AGE: Duration = Duration::from_secs(300);

    /// Adds a sample taken at `at`, dropping the oldest past the capacity.
    pub fn record(&mut self, at: Instant, elapsed: Duration) {
        if self.samples.len() == Self::CAPACITY {
            self.samples.pop_front();
        }
        self.samples.push_back((at, elapsed));
    }

    /// Drops samples older than [`Self::MAX_AGE`] at `now` and copies out the rest, so
    /// the caller can compute percentiles without holding the lock.
    pub fn recent(&mut self, now: Instant) -> Vec<Duration> {
        while let Some((at, _)) = self.samples.front() {
            if now.saturating_duration_since(*at) > Self::MAX_AGE {
                self.samples.pop_front();
            } else {
                break;
            }
        }
        self.samples.iter().map(|(_, d)| *d).collect()
    }

    /// Percentiles of the samples younger than [`Self::MAX_AGE`] at `now`; `None` if there
    /// are none.
    pub fn percentiles(&mut self, now: Instant) -> Option<Percentiles> {
        Percentiles::of(self.recent(now))
    }
}

impl Percentiles {
    /// Nearest-rank percentiles of some durations (in any order); `None` if there are
    /// none. Selects each rank in linear time rather than sorting the whole window.
    pub fn of(mut samples: Vec<Duration>) -> Option<Self> {
        let n = samples.len();
        if n == 0 {
            return None;
        }
        // Nearest rank: the smallest value with at least p% of the samples at or below it.
        let index = |p: usize| (p * n).div_ceil(100).clamp(1, n) - 1;
        let (i50, i95, i99) = (index(50), index(95), index(99));
        // Select from the highest rank down, each time within the part left of the last
        // one, so the earlier selections stay in place.
        let (_, p99, _) = samples.select_nth_unstable(i99);
        let p99 = *p99;
        let max = samples[i99..].iter().copied().max().unwrap_or(p99);
        let (_, p95, _) = samples[..=i99].select_nth_unstable(i95);
        let p95 = *p95;
        let (_, p50, _) = samples[..=i95].select_nth_unstable(i50);
        Some(Self {
            count: n,
            p50: *p50,
            p95,
            p99,
            max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut w = LatencyWindow::default();
        let now = Instant::now();
        for i in 1..=100 {
            w.record(now, ms(i));
        }
        let p = w.percentiles(now).unwrap();
        assert_eq!(
            (p.count, p.p50, p.p95, p.p99, p.max),
            (100, ms(50), ms(95), ms(99), ms(100))
        );

        let mut one = LatencyWindow::default();
        one.record(now, ms(7));
        let p = one.percentiles(now).unwrap();
        assert_eq!((p.p50, p.p99), (ms(7), ms(7)));
        assert_eq!(LatencyWindow::default().percentiles(now), None);
    }

    #[test]
    fn selected_percentiles_match_a_full_sort_in_any_order() {
        let mut samples: Vec<Duration> = (0..997u64).map(|i| ms((i * 7919) % 1000)).collect();
        let p = Percentiles::of(samples.clone()).unwrap();
        samples.sort();
        let n = samples.len();
        let rank = |q: usize| samples[(q * n).div_ceil(100) - 1];
        assert_eq!(
            (p.p50, p.p95, p.p99, p.max),
            (rank(50), rank(95), rank(99), samples[n - 1])
        );
    }

    #[test]
    fn the_window_is_bounded_by_count_and_age() {
        let mut w = LatencyWindow::default();
        let start = Instant::now();
        for _ in 0..LatencyWindow::CAPACITY {
            w.record(start, ms(1000));
        }
        for _ in 0..10 {
            w.record(start, ms(1));
        }
        assert_eq!(w.samples.len(), LatencyWindow::CAPACITY);
        let later = start + LatencyWindow::MAX_AGE + Duration::from_secs(1);
        w.record(later, ms(3));
        let p = w.percentiles(later).unwrap();
        assert_eq!((p.count, p.max), (1, ms(3)), "old samples are dropped");
    }

    #[test]
    fn metrics_count_requests_fragments_and_server_errors() {
        let m = Metrics::new();
        m.record(
            Outcome {
                status: 200,
                fragment: true,
            },
            ms(2),
        );
        m.record(
            Outcome {
                status: 404,
                fragment: false,
            },
            ms(1),
        );
        m.record(
            Outcome {
                status: 503,
                fragment: false,
            },
            ms(9),
        );
        let s = m.snapshot();
        assert_eq!((s.requests, s.fragments, s.server_errors), (3, 1, 1));
        assert_eq!(s.latency.unwrap().max, ms(9));
    }
}
