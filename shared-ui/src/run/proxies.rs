//! The real client address behind proxies (`--trusted-proxies` / `TRUSTED_PROXIES`).
//!
//! `X-Forwarded-For` is a list that every proxy appends its peer to, and that a client can
//! start with anything it likes. So it is believed only as far as it was written by proxies
//! we trust: starting from the TCP peer and walking the list from its end, the client is the
//! nearest address that is not a trusted proxy. With nothing trusted (the default) the
//! client is the TCP peer, whatever the header says.

use std::net::IpAddr;

use actix_web::http::header::HeaderMap;

use crate::settings::SettingError;

/// One trusted network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<Net>,
}

impl TrustedProxies {
    /// The setting's name, for errors.
    pub const SETTING: &'static str = "--trusted-proxies / TRUSTED_PROXIES";

    /// Parses addresses and CIDR networks (`127.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`).
    pub fn parse(entries: &[String]) -> Result<Self, SettingError> {
        let mut nets = Vec::new();
        for raw in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            let bad = |why: &str| {
                SettingError::new(
                    Self::SETTING,
                    format!(
                        "`{}` {why} (give addresses or networks such as 10.0.0.0/8, comma separated)",
                        raw.escape_default()
                    ),
                )
            };
            let (addr, prefix) = match raw.split_once('/') {
                Some((a, p)) => (a, Some(p)),
                None => (raw, None),
            };
            let addr = canonical(
                addr.parse::<IpAddr>()
                    .map_err(|_| bad("is not an IP address"))?,
            );
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                None => max,
                Some(p) => p
                    .parse::<u8>()
                    .ok()
                    .filter(|p| *p <= max)
                    .ok_or_else(|| bad(&format!("has a prefix that is not 0 to {max}")))?,
            };
            nets.push(Net { addr, prefix });
        }
        Ok(Self { nets })
    }

    /// Whether nothing is trusted.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// Whether `ip` is a trusted proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|n| n.contains(ip))
    }

    /// The client address of a request from `peer` carrying `headers`: the nearest address,
    /// walking `X-Forwarded-For` from its end, that is not a trusted proxy. An entry that is
    /// not an address stops the walk at the last good one.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = canonical(peer);
        if !self.trusts(client) {
            return client;
        }
        let values: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .collect();
        for entry in values.iter().rev().flat_map(|v| v.rsplit(',')) {
            let Ok(ip) = entry.trim().parse::<IpAddr>() else {
                return client;
            };
            client = canonical(ip);
            if !self.trusts(client) {
                return client;
            }
        }
        client
    }

    /// Whether a request from `peer` may tell its scheme with `X-Forwarded-Proto`.
    pub fn forwarded_proto<'a>(
        &self,
        peer: Option<IpAddr>,
        headers: &'a HeaderMap,
    ) -> Option<&'a str> {
        if !peer.is_some_and(|p| self.trusts(p)) {
            return None;
        }
        let proto = headers
            .get("x-forwarded-proto")?
            .to_str()
            .ok()?
            .split(',')
            .next()?
            .trim();
        ["http", "https"]
            .into_iter()
            .find(|p| p.eq_ignore_ascii_case(proto))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn xff(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(
                HeaderName::from_static("x-forwarded-for"),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn nothing_trusted_means_the_peer_whatever_the_header_says() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_ip(ip("127.0.0.1"), &xff(&["203.0.113.9"])),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn the_client_is_the_nearest_untrusted_address() {
        let t = TrustedProxies::parse(&["127.0.0.1".into(), "10.0.0.0/8".into()]).unwrap();
        // A spoofed first entry is skipped: the front proxy (10.1.2.3) wrote the real one.
        let h = xff(&["6.6.6.6, 198.51.100.7", "10.1.2.3"]);
        assert_eq!(t.client_ip(ip("127.0.0.1"), &h), ip("198.51.100.7"));
        // From an untrusted peer the header is ignored.
        assert_eq!(t.client_ip(ip("192.0.2.1"), &h), ip("192.0.2.1"));
        // Garbage stops the walk at the last good address.
        let h = xff(&["not-an-ip, 10.9.9.9"]);
        assert_eq!(t.client_ip(ip("127.0.0.1"), &h), ip("10.9.9.9"));
        // IPv4-mapped peers count as their IPv4 address.
        let h = xff(&["198.51.100.8"]);
        assert_eq!(t.client_ip(ip("::ffff:127.0.0.1"), &h), ip("198.51.100.8"));
    }

    #[test]
    fn bad_entries_are_refused_by_name() {
        for bad in ["10.0.0.0/33", "example.com", "::1/129", "1.2.3.4/x"] {
            let err = TrustedProxies::parse(&[bad.into()]).unwrap_err();
            assert_eq!(err.name, TrustedProxies::SETTING, "{bad}");
        }
        let ok = TrustedProxies::parse(&["fd00::/8".into(), " 0.0.0.0/0 ".into()]).unwrap();
        assert!(ok.trusts(ip("fd12::1")));
        assert!(ok.trusts(ip("8.8.8.8")));
    }

    #[test]
    fn forwarded_proto_only_from_trusted_peers_and_only_http_or_https() {
        let t = TrustedProxies::parse(&["127.0.0.1".into()]).unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            HeaderName::from_static("x-forwarded-proto"),
            HeaderValue::from_static("HTTPS"),
        );
        assert_eq!(t.forwarded_proto(Some(ip("127.0.0.1")), &h), Some("https"));
        assert_eq!(t.forwarded_proto(Some(ip("192.0.2.1")), &h), None);
        h.insert(
            HeaderName::from_static("x-forwarded-proto"),
            HeaderValue::from_static("javascript"),
        );
        assert_eq!(t.forwarded_proto(Some(ip("127.0.0.1")), &h), None);
    }
}
