//! Numbers, durations and clock times, formatted for people with integer arithmetic.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `1234567` -> `1,234,567` (shared-ui's [`shared_ui::components::thousands`]).
pub fn count(n: u64) -> String {
    shared_ui::components::thousands(n)
}

/// A request duration: `12 µs`, `420 µs`, `3.4 ms`, `27 ms`, `1,204 ms`.
pub fn latency(d: Duration) -> String {
    let micros = d.as_micros();
    match micros {
        0..=999 => format!("{micros} µs"),
        1_000..=9_999 => format!("{}.{} ms", micros / 1000, (micros % 1000) / 100),
        _ => format!(
            "{} ms",
            count(u64::try_from(micros / 1000).unwrap_or(u64::MAX))
        ),
    }
}

/// How long the service has run: `42 s`, `3 min 07 s`, `2 h 05 min`, `3 d 4 h`.
pub fn uptime(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s} s"),
        60..=3_599 => format!("{} min {:02} s", s / 60, s % 60),
        3_600..=86_399 => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// A UTC wall-clock time: (`2026-11-24T14:05:09Z`, `14:05:09 UTC`) for a `<time>` element.
pub fn clock(t: SystemTime) -> (String, String) {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rest / 3600, (rest % 3600) / 60, rest % 60);
    let (y, mo, d) = civil_from_days(days);
    (
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}Z"),
        format!("{h:02}:{m:02}:{s:02} UTC"),
    )
}

/// A UTC date and time: (`2026-11-24T14:05:09Z`, `24 Nov 2026, 14:05 UTC`).
pub fn date(t: SystemTime) -> (String, String) {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let rest = secs % 86_400;
    let (y, mo, d) = civil_from_days(secs / 86_400);
    let month = MONTHS[usize::try_from(mo - 1).unwrap_or(0) % 12];
    (
        clock(t).0,
        format!(
            "{d} {month} {y}, {:02}:{:02} UTC",
            rest / 3600,
            (rest % 3600) / 60
        ),
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_counts_latencies_uptimes_and_clock_times() {
        assert_eq!(count(0), "0");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(latency(Duration::from_micros(420)), "420 µs");
        assert_eq!(latency(Duration::from_nanos(12_900)), "12 µs");
        assert_eq!(latency(Duration::from_micros(3_456)), "3.4 ms");
        assert_eq!(latency(Duration::from_micros(27_900)), "27 ms");
        assert_eq!(latency(Duration::from_millis(1_204)), "1,204 ms");
        assert_eq!(uptime(Duration::from_secs(42)), "42 s");
        assert_eq!(uptime(Duration::from_secs(187)), "3 min 07 s");
        assert_eq!(uptime(Duration::from_secs(7_500)), "2 h 05 min");
        assert_eq!(
            uptime(Duration::from_secs(3 * 86_400 + 4 * 3600)),
            "3 d 4 h"
        );
        let t = UNIX_EPOCH + Duration::from_secs(1_795_961_109);
        assert_eq!(
            clock(t),
            ("2026-11-29T14:05:09Z".to_owned(), "14:05:09 UTC".to_owned())
        );
        assert_eq!(clock(UNIX_EPOCH).0, "1970-01-01T00:00:00Z");
        assert_eq!(
            clock(UNIX_EPOCH + Duration::from_secs(951_782_400)).0,
            "2000-02-29T00:00:00Z"
        );
    }
}
