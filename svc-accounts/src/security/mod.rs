//! Everything that keeps accounts safe, apart from SQL:
//!
//! - [`password`]: argon2id hashing and verification, with its documented cost.
//! - [`session`]: session tokens (32 random bytes, base64url) and the cookie that carries
//!   them; only `sha256(token)` reaches the database.
//! - [`csrf`]: the HMAC-signed form token and the `Origin` check run on every POST.
//! - [`rate_limit`]: failed sign-ins per email and per client address.

pub mod csrf;
pub mod password;
pub mod rate_limit;
pub mod session;
