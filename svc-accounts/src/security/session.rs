//! Session tokens and the `mf_session` cookie.
//!
//! A token is 32 random bytes from the OS, base64url without padding (43 characters). The
//! browser holds the token; the database holds only `sha256(token)`, so a copy of the
//! database does not hand out live sessions. A cookie that is not a well-formed token, or
//! whose hash is unknown or expired, reads as signed out.

use std::time::Duration;

use actix_web::http::header;
use actix_web::HttpRequest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// The cookie's name (`docs/DESIGN.md#sessions`), the one the shell reads.
pub const COOKIE_NAME: &str = shared_ui::headers::SESSION_COOKIE;

/// A fresh session token (what the cookie carries).
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token([redacted])")
    }
}

/// `sha256(token)`: what the database stores and looks up.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenHash(pub [u8; 32]);

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

impl Token {
    /// 32 bytes from the OS random source.
    pub fn generate() -> Self {
        let bytes: [u8; 32] = rand::random();
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The hash to store.
    pub fn hash(&self) -> TokenHash {
        hash_of(&self.0)
    }

    /// The cookie value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn hash_of(token: &str) -> TokenHash {
    TokenHash(Sha256::digest(token.as_bytes()).into())
}

/// The hash of the well-formed session token in the request's `Cookie` header, if any.
pub fn from_request(req: &HttpRequest) -> Option<TokenHash> {
    parse(&cookie_value(req, COOKIE_NAME)?)
}

/// The hash of `value` if it is a well-formed token (32 bytes, base64url): session cookies
/// and the tokens of mailed links alike.
pub fn parse(value: &str) -> Option<TokenHash> {
    let bytes = URL_SAFE_NO_PAD.decode(value.as_bytes()).ok()?;
    (bytes.len() == 32).then(|| hash_of(value))
}

/// The first cookie called `name` in the request's `Cookie` headers.
pub fn cookie_value(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
}

/// Cookie attributes.
#[derive(Debug, Clone, Copy)]
pub struct CookiePolicy {
    /// Add `Secure`.
    pub secure: bool,
    /// `Max-Age`.
    pub ttl: Duration,
}

impl CookiePolicy {
    /// `Set-Cookie` that stores `token`: HttpOnly, SameSite=Lax, Path=/, Max-Age, Secure
    /// when configured.
    pub fn set(&self, token: &Token) -> String {
        format!(
            "{COOKIE_NAME}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{}",
            token.as_str(),
            self.ttl.as_secs(),
            if self.secure { "; Secure" } else { "" }
        )
    }

    /// `Set-Cookie` that removes the session cookie.
    pub fn clear(&self) -> String {
        format!(
            "{COOKIE_NAME}=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax{}",
            if self.secure { "; Secure" } else { "" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn tokens_are_32_random_bytes_and_read_back_from_the_cookie() {
        let token = Token::generate();
        assert_eq!(token.as_str().len(), 43);
        assert_ne!(token.as_str(), Token::generate().as_str());
        let req = TestRequest::default()
            .insert_header((
                header::COOKIE,
                format!("a=b; {COOKIE_NAME}={}", token.as_str()),
            ))
            .to_http_request();
        assert_eq!(from_request(&req), Some(token.hash()));
        let tampered = TestRequest::default()
            .insert_header((header::COOKIE, format!("{COOKIE_NAME}={}x", token.as_str())))
            .to_http_request();
        assert_eq!(from_request(&tampered), None);
    }

    #[test]
    fn the_cookie_is_http_only_lax_and_secure_when_asked() {
        let policy = CookiePolicy {
            secure: true,
            ttl: Duration::from_secs(60),
        };
        let set = policy.set(&Token::generate());
        for part in ["Path=/", "Max-Age=60", "HttpOnly", "SameSite=Lax", "Secure"] {
            assert!(set.contains(part), "{set}");
        }
        assert!(policy.clear().contains("Max-Age=0"));
    }
}
