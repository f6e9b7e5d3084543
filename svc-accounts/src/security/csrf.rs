//! Cross-site request forgery defence, run on every POST.
//!
//! 1. **A signed form token.** Every form carries a hidden `csrf_token`:
//!    `<issued unix secs>.<base64url(pad || pad XOR HMAC-SHA256(key, "v1|<binding>|<issued>"))>`,
//!    where `pad` is 32 fresh random bytes per rendered form (masking, as Django and Rails
//!    do): the secret tag never repeats byte-for-byte between two answers, so a compressed
//!    page that also reflects something an attacker chose gives no compression oracle on it
//!    (BREACH). Verification unmasks and then checks the tag; an unmasked 32-byte tag (from
//!    before masking) is still accepted until it expires. The key is
//!    derived from `CONTEXT_SECRET` (`HMAC(secret, "svc-accounts csrf v1")`), so it never
//!    equals the key that signs user contexts. The binding is the session's token hash when
//!    signed in (a token lifted from one session is useless in another) or the fixed value
//!    `anonymous` when signed out. Tokens expire ([`SESSION_TOKEN_TTL`],
//!    [`ANONYMOUS_TOKEN_TTL`]). The shell streams composed pages, so a fragment GET cannot set
//!    a cookie; that is why the token is stateless rather than a double-submit cookie.
//! 2. **The `Origin` check.** A POST whose `Origin` header is present must come from the host
//!    it was sent to (`Host`, or `X-Forwarded-Host` set by the shell's proxy) or from a
//!    configured trusted origin; `Sec-Fetch-Site: cross-site` is refused too. Browsers send
//!    `Origin` on every form POST, so a cross-site form cannot pass even with a stolen
//!    anonymous token; non-browser clients that send no `Origin` still need a valid token.

use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::http::header;
use actix_web::HttpRequest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use shared_ui::settings::Secret;

use super::session::TokenHash;

/// How long a signed-in form stays valid, in seconds.
pub const SESSION_TOKEN_TTL: u64 = 24 * 60 * 60;
/// How long a signed-out form stays valid, in seconds.
pub const ANONYMOUS_TOKEN_TTL: u64 = 4 * 60 * 60;
/// Bytes of an HMAC-SHA256 tag, and of the random pad that masks it.
const TAG_LEN: usize = 32;
/// Allowed clock skew for tokens issued "in the future", in seconds.
const SKEW: u64 = 60;

/// What a token is bound to.
#[derive(Debug, Clone, Copy)]
pub enum Binding {
    /// Signed out.
    Anonymous,
    /// Signed in with this session.
    Session(TokenHash),
}

impl Binding {
    fn ttl(self) -> u64 {
        match self {
            Binding::Anonymous => ANONYMOUS_TOKEN_TTL,
            Binding::Session(_) => SESSION_TOKEN_TTL,
        }
    }

    fn label(self) -> String {
        match self {
            Binding::Anonymous => "anonymous".to_owned(),
            Binding::Session(hash) => hex::encode(hash.0),
        }
    }
}

/// The HMAC key for form tokens.
#[derive(Clone)]
pub struct CsrfKey([u8; 32]);

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey([redacted])")
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl CsrfKey {
    /// Derives the key from the context secret.
    pub fn derive(secret: &Secret) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
            .expect("HMAC accepts keys of any length");
        mac.update(b"svc-accounts csrf v1");
        Self(mac.finalize().into_bytes().into())
    }

    fn mac(&self, binding: Binding, issued: u64) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        mac.update(format!("v1|{}|{issued}", binding.label()).as_bytes());
        mac
    }

    /// A token for a form rendered now.
    pub fn issue(&self, binding: Binding) -> String {
        self.issue_at(binding, now_secs())
    }

    fn issue_at(&self, binding: Binding, issued: u64) -> String {
        let tag = self.mac(binding, issued).finalize().into_bytes();
        let pad: [u8; TAG_LEN] = rand::random();
        let mut masked = [0u8; 2 * TAG_LEN];
        masked[..TAG_LEN].copy_from_slice(&pad);
        for (i, (t, p)) in tag.iter().zip(pad).enumerate() {
            masked[TAG_LEN + i] = t ^ p;
        }
        format!("{issued}.{}", URL_SAFE_NO_PAD.encode(masked))
    }

    /// Whether `token` was issued by us, for `binding`, and has not expired.
    pub fn verify(&self, token: &str, binding: Binding) -> bool {
        self.verify_at(token, binding, now_secs())
    }

    fn verify_at(&self, token: &str, binding: Binding, now: u64) -> bool {
        let Some((issued, tag)) = token.split_once('.') else {
            return false;
        };
        let Ok(issued) = issued.parse::<u64>() else {
            return false;
        };
        if issued > now + SKEW || now.saturating_sub(issued) > binding.ttl() {
            return false;
        }
        let Ok(mut tag) = URL_SAFE_NO_PAD.decode(tag) else {
            return false;
        };
        if tag.len() == 2 * TAG_LEN {
            let (pad, masked) = tag.split_at(TAG_LEN);
            tag = masked.iter().zip(pad).map(|(m, p)| m ^ p).collect();
        }
        // verify_slice compares in constant time.
        self.mac(binding, issued).verify_slice(&tag).is_ok()
    }
}

/// Why a POST's origin was refused.
pub const CROSS_SITE: &str =
    "This form was sent from another site, so it was refused. Open the page on this site and try again.";

/// Checks `Origin` and `Sec-Fetch-Site`; `Err` carries the message to show (403).
pub fn check_origin(req: &HttpRequest, trusted: &[String]) -> Result<(), &'static str> {
    let headers = req.headers();
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if fetch_site.is_some_and(|s| s.eq_ignore_ascii_case("cross-site")) {
        return Err(CROSS_SITE);
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let Ok(origin) = origin.to_str() else {
        return Err(CROSS_SITE);
    };
    let origin = origin.trim().to_ascii_lowercase();
    if trusted.contains(&origin) {
        return Ok(());
    }
    let Some((scheme, host)) = origin.split_once("://") else {
        return Err(CROSS_SITE);
    };
    let origin_host = normalise(scheme, host);
    let candidates = [headers.get(header::HOST), headers.get("x-forwarded-host")];
    let matches = candidates
        .into_iter()
        .flatten()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(',').next())
        .any(|h| normalise(scheme, &h.trim().to_ascii_lowercase()) == origin_host);
    if matches {
        Ok(())
    } else {
        Err(CROSS_SITE)
    }
}

/// `host[:port]` without the scheme's default port.
fn normalise(scheme: &str, host: &str) -> String {
    let default = match scheme {
        "http" => Some(":80"),
        "https" => Some(":443"),
        _ => None,
    };
    match default {
        Some(port) => host.strip_suffix(port).unwrap_or(host).to_owned(),
        None => host.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn key() -> CsrfKey {
        CsrfKey::derive(&Secret::new("a-test-secret-0123456789".into()))
    }

    #[test]
    fn tokens_verify_for_their_binding_only_and_expire() {
        let k = key();
        let session = Binding::Session(TokenHash([7; 32]));
        let other = Binding::Session(TokenHash([8; 32]));
        let t = k.issue_at(session, 1_000_000);
        assert!(k.verify_at(&t, session, 1_000_010));
        assert!(!k.verify_at(&t, other, 1_000_010));
        assert!(!k.verify_at(&t, Binding::Anonymous, 1_000_010));
        assert!(!k.verify_at(&t, session, 1_000_000 + SESSION_TOKEN_TTL + 1));
        let anon = k.issue_at(Binding::Anonymous, 1_000_000);
        assert!(k.verify_at(&anon, Binding::Anonymous, 1_000_000 + ANONYMOUS_TOKEN_TTL));
        assert!(!k.verify_at(
            &anon,
            Binding::Anonymous,
            1_000_000 + ANONYMOUS_TOKEN_TTL + 1
        ));
        let other_key = CsrfKey::derive(&Secret::new("another-secret-0123456789".into()));
        assert!(!other_key.verify_at(&anon, Binding::Anonymous, 1_000_001));
        // Each rendering is masked with a fresh pad; both verify, and so does the bare tag.
        let again = k.issue_at(session, 1_000_000);
        assert_ne!(t, again);
        assert!(k.verify_at(&again, session, 1_000_010));
        let tag = k.mac(session, 1_000_000).finalize().into_bytes();
        let bare = format!("1000000.{}", URL_SAFE_NO_PAD.encode(tag));
        assert!(k.verify_at(&bare, session, 1_000_010));
        let mut flipped = URL_SAFE_NO_PAD
            .decode(t.split_once('.').unwrap().1)
            .unwrap();
        flipped[40] ^= 1;
        let flipped = format!("1000000.{}", URL_SAFE_NO_PAD.encode(flipped));
        assert!(!k.verify_at(&flipped, session, 1_000_010));
        for forged in ["", "1000000", "1000000.", "x.y", "1000001.AAAA"] {
            assert!(
                !k.verify_at(forged, Binding::Anonymous, 1_000_001),
                "{forged}"
            );
        }
    }

    #[test]
    fn origin_must_match_host_or_forwarded_host() {
        let ok = TestRequest::default()
            .insert_header(("host", "127.0.0.1:4000"))
            .insert_header(("origin", "http://127.0.0.1:4000"))
            .to_http_request();
        assert!(check_origin(&ok, &[]).is_ok());
        let shell = TestRequest::default()
            .insert_header(("host", "accounts:4000"))
            .insert_header(("x-forwarded-host", "example.com"))
            .insert_header(("origin", "https://example.com"))
            .to_http_request();
        assert!(check_origin(&shell, &[]).is_ok());
        let evil = TestRequest::default()
            .insert_header(("host", "127.0.0.1:4000"))
            .insert_header(("origin", "https://evil.example"))
            .to_http_request();
        assert!(check_origin(&evil, &[]).is_err());
        assert!(check_origin(&evil, &["https://evil.example".to_owned()]).is_ok());
        let no_origin = TestRequest::default().to_http_request();
        assert!(check_origin(&no_origin, &[]).is_ok());
        let cross = TestRequest::default()
            .insert_header(("sec-fetch-site", "cross-site"))
            .to_http_request();
        assert!(check_origin(&cross, &[]).is_err());
    }
}
