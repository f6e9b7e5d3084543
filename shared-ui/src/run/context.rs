//! The signed user context.
//!
//! The shell resolves the session cookie into a [`UserContext`] (through svc-accounts) and
//! forwards it to every fragment request in the [`crate::headers::USER_CONTEXT`] header:
//! `base64url(json).base64url(hmac_sha256(secret, json))`, where the JSON carries an expiry
//! (`exp`, Unix seconds). A service reads it with [`current_user`], the one function for it:
//! anything unsigned, forged, malformed or expired reads as signed out (`None`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::{web, HttpRequest};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::headers;
use crate::settings::Secret;

/// The signed-in user as the other teams see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserContext {
    /// The account id in svc-accounts.
    pub id: i64,
    /// Display name (user input: escape it when shown; maud does).
    pub name: String,
    /// The plan id from the pricing catalogue.
    pub plan: String,
    /// When the account was created (Unix seconds), if the session service says: a new
    /// account is greeted as new, and the dashboard lists it in the account's activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
    /// When the account's name or plan last changed (Unix seconds), if it ever did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct Signed {
    #[serde(flatten)]
    user: UserContext,
    exp: u64,
}

/// The HMAC key made from `CONTEXT_SECRET`; services register it as app data.
#[derive(Clone)]
pub struct ContextKey {
    secret: Secret,
}

impl std::fmt::Debug for ContextKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContextKey([redacted])")
    }
}

/// How long a signed context stays valid by default.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl ContextKey {
    /// A key from the shared secret.
    pub fn new(secret: Secret) -> Self {
        Self { secret }
    }

    fn mac(&self, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.expose().as_bytes())
            .expect("HMAC accepts keys of any length");
        mac.update(payload);
        mac
    }

    /// The header value for `user`, valid for `ttl`.
    pub fn sign(&self, user: &UserContext, ttl: Duration) -> String {
        self.sign_with_expiry(user, now_secs() + ttl.as_secs())
    }

    /// The header value for `user`, valid until `exp` (Unix seconds).
    pub fn sign_with_expiry(&self, user: &UserContext, exp: u64) -> String {
        let json = serde_json::to_vec(&Signed {
            user: user.clone(),
            exp,
        })
        .expect("a user context always serialises");
        let tag = self.mac(&json).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&json),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// The user in a header value, if the signature is ours and it has not expired.
    pub fn verify(&self, value: &str) -> Option<UserContext> {
        self.verify_at(value, now_secs())
    }

    /// [`Self::verify`] with the clock reading `now` (Unix seconds): the steps of
    /// `docs/CONTRACT.md#the-signed-user-context`, which `docs/context-vectors.json` tests.
    pub fn verify_at(&self, value: &str, now: u64) -> Option<UserContext> {
        let (payload, tag) = value.split_once('.')?;
        // URL_SAFE_NO_PAD decodes strictly: no padding, no other alphabet, canonical bits.
        let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        // verify_slice compares in constant time, and refuses a tag of another length.
        self.mac(&json).verify_slice(&tag).ok()?;
        let signed: Signed = serde_json::from_slice(&json).ok()?;
        (signed.exp > now).then_some(signed.user)
    }
}

/// The verified user of this request, or `None` (signed out) when the context header is
/// missing, unsigned, forged, expired, or the service has no [`ContextKey`] registered.
pub fn current_user(req: &HttpRequest) -> Option<UserContext> {
    let key = req.app_data::<web::Data<ContextKey>>()?;
    let value = req.headers().get(headers::USER_CONTEXT)?.to_str().ok()?;
    key.verify(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> ContextKey {
        ContextKey::new(Secret::new(s.to_owned()))
    }

    fn ada() -> UserContext {
        UserContext {
            id: 7,
            name: "Ada <script>".into(),
            plan: "pro".into(),
            since: Some(1_700_000_000),
            changed: None,
        }
    }

    #[test]
    fn a_signed_context_verifies_with_the_same_secret_only() {
        let value = key("secret-one-0123456789").sign(&ada(), DEFAULT_TTL);
        assert_eq!(key("secret-one-0123456789").verify(&value), Some(ada()));
        assert_eq!(key("secret-two-0123456789").verify(&value), None);
    }

    #[test]
    fn expired_tampered_and_unsigned_contexts_read_as_signed_out() {
        let k = key("secret-one-0123456789");
        assert_eq!(k.verify(&k.sign_with_expiry(&ada(), now_secs() - 1)), None);

        let value = k.sign(&ada(), DEFAULT_TTL);
        let (payload, tag) = value.split_once('.').unwrap();
        let forged_json = br#"{"id":1,"name":"root","plan":"enterprise","exp":99999999999}"#;
        let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(forged_json));
        assert_eq!(k.verify(&forged), None);
        assert_eq!(k.verify(payload), None);
        assert_eq!(k.verify(&format!("{payload}.")), None);
        assert_eq!(k.verify("not base64.!!"), None);
    }

    #[derive(Deserialize)]
    struct Vectors {
        secret: String,
        now: u64,
        vectors: Vec<Vector>,
    }

    #[derive(Deserialize)]
    struct Vector {
        case: String,
        value: String,
        user: Option<UserContext>,
    }

    fn vectors() -> Vectors {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/context-vectors.json");
        let text = std::fs::read_to_string(path).expect("docs/context-vectors.json is there");
        serde_json::from_str(&text).expect("the vectors are JSON")
    }

    #[test]
    fn the_test_vectors_hold() {
        let vectors = vectors();
        let k = key(&vectors.secret);
        let mut wrong = Vec::new();
        for v in &vectors.vectors {
            let got = k.verify_at(&v.value, vectors.now);
            if got != v.user {
                wrong.push(format!("{}: expected {:?}, got {got:?}", v.case, v.user));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
        assert!(vectors.vectors.len() >= 40);
    }

    #[test]
    fn the_signer_writes_the_first_test_vector() {
        let vectors = vectors();
        let first = &vectors.vectors[0];
        let user = first.user.clone().expect("the first vector is valid");
        let value = key(&vectors.secret).sign_with_expiry(&user, vectors.now + 60);
        assert_eq!(value, first.value, "{}", first.case);
    }
}
