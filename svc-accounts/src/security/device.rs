//! Device cookies, so that strangers cannot lock an owner out (OWASP, "Slow Down Online
//! Guessing Attacks with Device Cookies").
//!
//! A browser that signs in to an account (or creates it) receives the `mf_device` cookie:
//! up to [`MAX_ENTRIES`] entries `<nonce>.<tag>` joined by `~`, where `nonce` is 16 random
//! bytes and `tag = HMAC-SHA256(key, "device v1|<email>|<nonce>")`, both base64url. The key is
//! derived from `CONTEXT_SECRET` (`HMAC(secret, "svc-accounts device v1")`), so it equals
//! neither the context key nor the CSRF key. An entry is bound to one email: it vouches for
//! nothing else, so an attacker's cookie from their own account is of no use against
//! another account.
//!
//! At sign-in ([`crate::security::rate_limit::Limiter::begin_sign_in`]) a request whose
//! cookie holds an entry for the email it names is a *known device*: its attempts count
//! under that entry's nonce alone, with the per-email limit, so guesses by others at the
//! email never pause it (and its own wrong guesses pause only itself). Every other request
//! is an *unknown client* and counts under the email and its client address as before.
//! Nothing is stored on the server: a forged or foreign entry fails its tag.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use shared_ui::settings::Secret;

/// The cookie's name.
pub const COOKIE_NAME: &str = "mf_device";
/// Accounts one browser is remembered for (the newest first).
pub const MAX_ENTRIES: usize = 3;
/// How long a browser stays known, in seconds (renewed at each sign-in).
pub const COOKIE_MAX_AGE: u64 = 365 * 24 * 60 * 60;

/// The HMAC key of device cookies.
#[derive(Clone)]
pub struct DeviceKey([u8; 32]);

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceKey([redacted])")
    }
}

/// A known device for one email: the nonce of its cookie entry, which names its own
/// rate-limit counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownDevice(String);

impl KnownDevice {
    /// The counter's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A device with this nonce, for the limiter's unit tests.
    #[cfg(test)]
    pub(crate) fn for_tests(nonce: &str) -> Self {
        Self(nonce.to_owned())
    }
}

impl DeviceKey {
    /// Derives the key from the context secret.
    pub fn derive(secret: &Secret) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
            .expect("HMAC accepts keys of any length");
        mac.update(b"svc-accounts device v1");
        Self(mac.finalize().into_bytes().into())
    }

    fn mac(&self, email: &str, nonce: &str) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        mac.update(format!("device v1|{email}|{nonce}").as_bytes());
        mac
    }

    fn entry_for(&self, entry: &str, email: &str) -> Option<KnownDevice> {
        let (nonce, tag) = entry.split_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        // verify_slice compares in constant time.
        self.mac(email, nonce).verify_slice(&tag).ok()?;
        Some(KnownDevice(nonce.to_owned()))
    }

    /// The known device for `email` in a cookie value, if an entry vouches for it.
    pub fn known(&self, cookie: Option<&str>, email: &str) -> Option<KnownDevice> {
        cookie?
            .split('~')
            .take(MAX_ENTRIES)
            .find_map(|entry| self.entry_for(entry, email))
    }

    /// The cookie value after a sign-in to `email`: the entry it had for `email` (or a new
    /// one) first, then up to two entries for other accounts.
    pub fn renew(&self, cookie: Option<&str>, email: &str) -> String {
        let entry = match self.known(cookie, email) {
            Some(KnownDevice(nonce)) => nonce,
            None => URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>()),
        };
        let tag = URL_SAFE_NO_PAD.encode(self.mac(email, &entry).finalize().into_bytes());
        let mut entries = vec![format!("{entry}.{tag}")];
        let others = cookie.unwrap_or_default().split('~').take(MAX_ENTRIES);
        entries.extend(
            others
                .filter(|e| is_well_formed(e) && self.entry_for(e, email).is_none())
                .take(MAX_ENTRIES - 1)
                .map(str::to_owned),
        );
        entries.join("~")
    }
}

/// An entry of the right shape (so a cookie never carries junk along).
fn is_well_formed(entry: &str) -> bool {
    entry.split_once('.').is_some_and(|(nonce, tag)| {
        nonce.len() == 22
            && tag.len() == 43
            && entry
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    })
}

/// `Set-Cookie` for the device cookie: HttpOnly, SameSite=Strict (it is only read on
/// same-site form posts), Path=/, a year, Secure when configured.
pub fn set_cookie(value: &str, secure: bool) -> String {
    format!(
        "{COOKIE_NAME}={value}; Path=/; Max-Age={COOKIE_MAX_AGE}; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DeviceKey {
        DeviceKey::derive(&Secret::new("a-test-secret-0123456789".into()))
    }

    #[test]
    fn an_entry_vouches_for_its_email_only_and_survives_renewal() {
        let k = key();
        let ada = k.renew(None, "ada@example.com");
        let known = k.known(Some(&ada), "ada@example.com").unwrap();
        assert!(k.known(Some(&ada), "bob@example.com").is_none());
        let both = k.renew(Some(&ada), "bob@example.com");
        assert_eq!(k.known(Some(&both), "ada@example.com"), Some(known.clone()));
        assert!(k.known(Some(&both), "bob@example.com").is_some());
        // Signing in to Ada again keeps her nonce and does not duplicate her entry.
        let again = k.renew(Some(&both), "ada@example.com");
        assert_eq!(again.split('~').count(), 2);
        assert_eq!(k.known(Some(&again), "ada@example.com"), Some(known));
        let other = DeviceKey::derive(&Secret::new("another-secret-0123456789".into()));
        assert!(other.known(Some(&ada), "ada@example.com").is_none());
    }

    #[test]
    fn forged_and_junk_entries_vouch_for_nothing_and_are_dropped() {
        let k = key();
        for junk in ["", "x", "a.b", "~~~", "AAAAAAAAAAAAAAAAAAAAAA.AAAA"] {
            assert!(k.known(Some(junk), "ada@example.com").is_none(), "{junk}");
            assert_eq!(k.renew(Some(junk), "ada@example.com").split('~').count(), 1);
        }
        let mut cookie = String::new();
        for i in 0..5 {
            cookie = k.renew(Some(&cookie), &format!("u{i}@example.com"));
        }
        assert_eq!(cookie.split('~').count(), MAX_ENTRIES);
        assert!(k.known(Some(&cookie), "u4@example.com").is_some());
        assert!(k.known(Some(&cookie), "u0@example.com").is_none());
    }
}
