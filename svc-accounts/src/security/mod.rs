//! Everything that keeps accounts safe, apart from SQL:
//!
//! - [`password`]: argon2id hashing and verification, with its documented cost.
//! - [`session`]: session tokens (32 random bytes, base64url) and the cookie that carries
//!   them; only `sha256(token)` reaches the database.
//! - [`csrf`]: the HMAC-signed form token and the `Origin` check run on every POST.
//! - [`device`]: the device cookie that gives a browser which signed in before its own
//!   sign-in budget, so strangers cannot lock its owner out.
//! - [`rate_limit`]: failed sign-ins per email, per client address (IPv6: per /64) and per
//!   known device; sign-ups per client and overall.

pub mod csrf;
pub mod device;
pub mod password;
pub mod rate_limit;
pub mod session;
