//! The override cookie: a browser's choices, signed and expiring.
//!
//! `mf_overrides=base64url(json).base64url(hmac_sha256(CONTEXT_SECRET, purpose + json))`,
//! the format of the signed user context (`shared_ui::context`), with a purpose string
//! mixed into the MAC so that neither value can stand in for the other. The JSON holds the
//! expiry (`exp`, Unix seconds) and the `(service, url)` pairs. Sent `HttpOnly`,
//! `SameSite=Lax`, `Path=/`, with the expiry as `Max-Age` (and `Secure` behind HTTPS).
//! A value that is unsigned, forged, expired, too long or malformed reads as no choice.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use shared_ui::settings::Secret;

/// The cookie's name.
pub const NAME: &str = "mf_overrides";
/// How long a choice lasts.
pub const LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// What the MAC covers besides the JSON: what the value is for.
const PURPOSE: &[u8] = b"mosaic per-browser overrides v1\n";
/// The longest value read; a longer one is not ours.
const MAX_VALUE_BYTES: usize = 3 * 1024;
/// The most pairs one cookie holds.
pub const MAX_PAIRS: usize = 16;

#[derive(Serialize, Deserialize)]
struct Payload {
    exp: u64,
    o: Vec<(String, String)>,
}

/// Signs and reads override cookies with the context secret.
#[derive(Clone)]
pub struct CookieKey {
    secret: Secret,
}

impl std::fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieKey([redacted])")
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl CookieKey {
    /// A key from the context secret.
    pub fn new(secret: Secret) -> Self {
        Self { secret }
    }

    fn mac(&self, json: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.expose().as_bytes())
            .expect("HMAC accepts keys of any length");
        mac.update(PURPOSE);
        mac.update(json);
        mac
    }

    /// The cookie value holding `pairs`, valid for [`LIFETIME`].
    pub fn seal(&self, pairs: &[(String, String)]) -> String {
        self.seal_until(pairs, now_secs() + LIFETIME.as_secs())
    }

    /// The cookie value holding `pairs`, valid until `exp` (Unix seconds).
    pub fn seal_until(&self, pairs: &[(String, String)], exp: u64) -> String {
        let json = serde_json::to_vec(&Payload {
            exp,
            o: pairs.to_vec(),
        })
        .expect("pairs of strings always serialise");
        let tag = self.mac(&json).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&json),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// The pairs of a value, if it is ours, unexpired and within the bounds.
    pub fn open(&self, value: &str) -> Option<Vec<(String, String)>> {
        if value.len() > MAX_VALUE_BYTES {
            return None;
        }
        let (payload, tag) = value.split_once('.')?;
        let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        self.mac(&json).verify_slice(&tag).ok()?;
        let payload: Payload = serde_json::from_slice(&json).ok()?;
        (payload.exp > now_secs() && payload.o.len() <= MAX_PAIRS).then_some(payload.o)
    }
}

/// The values of every `mf_overrides` cookie in a `Cookie` header (a browser may send more
/// than one, set for other paths or parent domains).
pub fn values(cookie_header: &str) -> impl Iterator<Item = &str> {
    cookie_header.split(';').filter_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == NAME).then_some(value.trim())
    })
}

/// The `Set-Cookie` value that stores `value`.
pub fn set(value: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{NAME}={value}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        LIFETIME.as_secs()
    )
}

/// The `Set-Cookie` value that removes the cookie.
pub fn clear(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{NAME}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> CookieKey {
        CookieKey::new(Secret::new(s.to_owned()))
    }

    fn pairs() -> Vec<(String, String)> {
        vec![("pricing".into(), "http://localhost:1314".into())]
    }

    #[test]
    fn a_sealed_value_opens_with_the_same_secret_only_and_until_it_expires() {
        let k = key("secret-one-0123456789");
        let value = k.seal(&pairs());
        assert_eq!(k.open(&value), Some(pairs()));
        assert_eq!(key("secret-two-0123456789").open(&value), None);
        assert_eq!(k.open(&k.seal_until(&pairs(), now_secs() - 1)), None);
        let (payload, tag) = value.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD
            .encode(br#"{"exp":99999999999,"o":[["accounts","http://evil.example"]]}"#);
        assert_eq!(k.open(&format!("{forged}.{tag}")), None);
        assert_eq!(k.open(payload), None);
        assert_eq!(k.open("x".repeat(MAX_VALUE_BYTES + 1).as_str()), None);
    }

    #[test]
    fn a_signed_user_context_is_no_override_cookie() {
        let secret = "secret-one-0123456789";
        let context = shared_ui::context::ContextKey::new(Secret::new(secret.to_owned()));
        let user = shared_ui::context::UserContext {
            id: 1,
            name: "x".into(),
            plan: "pro".into(),
            since: None,
            changed: None,
        };
        let value = context.sign(&user, Duration::from_secs(60));
        assert_eq!(key(secret).open(&value), None);
    }

    #[test]
    fn every_cookie_of_the_name_is_read_and_set_cookie_is_http_only_and_lax() {
        let found: Vec<_> =
            values("a=1; mf_overrides=x.y ;mf_overrides=z; mf_overrides_b=q").collect();
        assert_eq!(found, ["x.y", "z"]);
        let set = set("v", true);
        for part in [
            "mf_overrides=v",
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/",
        ] {
            assert!(set.contains(part), "{set}");
        }
        assert!(clear(false).contains("Max-Age=0"));
    }
}
