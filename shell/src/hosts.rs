//! The hosts a per-browser override may point at (`--allow-overrides` / `ALLOW_OVERRIDES`):
//! host names and IP addresses matched exactly, `*.suffix` patterns matching any name under
//! the suffix, and, with `--dev`, the loopback hosts (`localhost`, `127.0.0.0/8`, `::1`).
//! Nothing listed and no `--dev`: overrides are off.
//!
//! A host is compared as the URL parser reads it (lower case, IDNA, `0x7f.1` and
//! `2130706433` read as `127.0.0.1`), so no spelling of an address slips past a pattern.
//! Layer: the floor, beside the settings that parse it; it uses nothing else of the crate.

use std::net::IpAddr;

use url::Host;

/// The setting's name, for errors.
pub const SETTING: &str = "--allow-overrides / ALLOW_OVERRIDES";

/// The hosts overrides may point at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostPatterns {
    /// Host names and IP addresses, as the URL parser writes them (`[::1]` for IPv6).
    exact: Vec<String>,
    /// `*.suffix` patterns, kept as `.suffix`.
    suffixes: Vec<String>,
    /// Whether the loopback hosts are allowed (`--dev`).
    loopback: bool,
}

/// Why a pattern of the setting is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// `*` alone, or a `*` anywhere but at the start of `*.suffix`.
    #[error("`{0}`: a wildcard is only allowed as `*.suffix` (like *.dev.example.com); `*` alone would allow every host")]
    Wildcard(String),
    /// A URL, a port, a path or characters no host name has.
    #[error("`{0}` is not a host name or IP address (give hosts, like localhost or pricing.dev.example.com, without scheme, port or path)")]
    NotAHost(String),
}

impl HostPatterns {
    /// Parses the comma-separated setting; `loopback` adds the loopback hosts (`--dev`).
    pub fn parse(raw: &str, loopback: bool) -> Result<Self, PatternError> {
        let mut patterns = Self {
            loopback,
            ..Self::default()
        };
        for item in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match item.strip_prefix("*.") {
                Some(suffix) => patterns
                    .suffixes
                    .push(format!(".{}", host_of(item, suffix)?)),
                None if item.contains('*') => return Err(PatternError::Wildcard(item.to_owned())),
                None => patterns.exact.push(host_of(item, item)?),
            }
        }
        Ok(patterns)
    }

    /// Whether overrides are on: some host is allowed.
    pub fn is_enabled(&self) -> bool {
        self.loopback || !self.exact.is_empty() || !self.suffixes.is_empty()
    }

    /// Whether an override may point at `host`.
    pub fn allows(&self, host: &Host<&str>) -> bool {
        if self.loopback && is_loopback(host) {
            return true;
        }
        let text = host.to_string();
        self.exact.contains(&text)
            || matches!(host, Host::Domain(_))
                && self.suffixes.iter().any(|s| text.ends_with(s.as_str()))
    }
}

/// `item` (for messages) read as a host by the URL parser: `part` must be a bare host.
fn host_of(item: &str, part: &str) -> Result<String, PatternError> {
    let bad = || PatternError::NotAHost(item.to_owned());
    let plain = part
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    if part.is_empty() || !plain || part.contains('*') {
        return Err(bad());
    }
    // An IPv6 address is written in brackets in a URL; accept it with or without them.
    let bracketed = match part.parse::<IpAddr>() {
        Ok(IpAddr::V6(_)) => format!("[{part}]"),
        _ => part.to_owned(),
    };
    let url = url::Url::parse(&format!("http://{bracketed}/")).map_err(|_| bad())?;
    match (url.host(), url.port()) {
        (Some(host), None) => Ok(host.to_string()),
        _ => Err(bad()),
    }
}

/// `localhost` (and names under it), `127.0.0.0/8`, `::1`, and IPv4-mapped loopback.
fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => *d == "localhost" || d.ends_with(".localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(patterns: &HostPatterns, url: &str) -> bool {
        let url = url::Url::parse(url).unwrap();
        patterns.allows(&url.host().unwrap())
    }

    #[test]
    fn names_suffixes_and_loopback_are_matched_as_the_url_parser_reads_hosts() {
        let p =
            HostPatterns::parse("pricing.dev.example, *.team.example, 10.0.0.7", false).unwrap();
        assert!(p.is_enabled());
        for ok in [
            "http://pricing.dev.example:1314",
            "http://PRICING.dev.example",
            "https://a.team.example",
            "https://a.b.team.example",
            "http://10.0.0.7:9",
        ] {
            assert!(allows(&p, ok), "{ok}");
        }
        for refused in [
            "http://team.example",
            "http://evilteam.example",
            "http://pricing.dev.example.evil.example",
            "http://localhost:1314",
            "http://127.0.0.1",
            "http://0x7f.1",
            "http://2130706433",
            "http://[::1]",
        ] {
            assert!(!allows(&p, refused), "{refused}");
        }
        let dev = HostPatterns::parse("", true).unwrap();
        for ok in [
            "http://localhost:1",
            "http://127.0.0.1",
            "http://0x7f.1",
            "http://2130706433",
            "http://[::1]",
            "http://[::ffff:127.0.0.1]",
        ] {
            assert!(allows(&dev, ok), "{ok}");
        }
        assert!(!allows(&dev, "http://169.254.169.254"));
        assert!(!allows(&dev, "http://10.0.0.1"));
    }

    #[test]
    fn off_by_default_and_bad_patterns_are_refused_with_a_reason() {
        assert!(!HostPatterns::parse("", false).unwrap().is_enabled());
        assert!(!HostPatterns::parse(" , ", false).unwrap().is_enabled());
        assert!(HostPatterns::parse("::1", false).unwrap().is_enabled());
        for (bad, says) in [
            ("*", "wildcard"),
            ("a.*.example", "wildcard"),
            ("*.", "not a host"),
            ("http://localhost", "not a host"),
            ("localhost:8000", "not a host"),
            ("host/path", "not a host"),
            ("user@host", "not a host"),
            ("*.*.example", "not a host"),
        ] {
            let err = HostPatterns::parse(bad, false).unwrap_err().to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
