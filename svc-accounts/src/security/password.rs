//! argon2id password hashing.
//!
//! Production cost ([`HashCost::PRODUCTION`]) is OWASP's recommended argon2id setting:
//! m = 19456 KiB (19 MiB), t = 2 iterations, p = 1 lane, 32-byte output, 16-byte random salt.
//! Hashes are stored in the PHC string format, which records the parameters, so raising the
//! cost later keeps old hashes verifiable. Hashing is CPU- and memory-heavy: callers run it
//! off the async workers (`web::block`).

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// The argon2id cost: memory in KiB and iterations (one lane).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Iterations (time cost).
    pub iterations: u32,
}

impl HashCost {
    /// OWASP's argon2id recommendation: m=19456 KiB, t=2, p=1.
    pub const PRODUCTION: HashCost = HashCost {
        memory_kib: 19_456,
        iterations: 2,
    };

    /// A checked cost (argon2's own limits: m >= 8 KiB, t >= 1).
    pub fn new(memory_kib: u32, iterations: u32) -> Result<Self, String> {
        if !(8..=4 * 1024 * 1024).contains(&memory_kib) {
            return Err("memory must be between 8 KiB and 4 GiB".to_owned());
        }
        if !(1..=100).contains(&iterations) {
            return Err("iterations must be between 1 and 100".to_owned());
        }
        Ok(Self {
            memory_kib,
            iterations,
        })
    }

    /// `m=19456 KiB, t=2, p=1`, for logs and the benchmark.
    pub fn describe(&self) -> String {
        format!(
            "argon2id m={} KiB, t={}, p=1",
            self.memory_kib, self.iterations
        )
    }
}

/// Hashes and verifies passwords at one cost.
#[derive(Clone)]
pub struct Hasher {
    argon2: Argon2<'static>,
    /// A hash of a random password, verified against when an email is unknown so that a
    /// wrong email costs as much time as a wrong password.
    dummy: String,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hasher")
    }
}

impl Hasher {
    /// A hasher at `cost`.
    pub fn new(cost: HashCost) -> Self {
        let params = Params::new(cost.memory_kib, cost.iterations, 1, None)
            .expect("HashCost::new checked the parameters");
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut hasher = Self {
            argon2,
            dummy: String::new(),
        };
        let random = hex::encode(rand::random::<[u8; 16]>());
        hasher.dummy = hasher.hash(&random);
        hasher
    }

    /// The PHC string of `password` with a fresh salt.
    pub fn hash(&self, password: &str) -> String {
        let salt = SaltString::generate(&mut OsRng);
        self.argon2
            .hash_password(password.as_bytes(), &salt)
            .expect("argon2 hashes any password of at most 128 bytes")
            .to_string()
    }

    /// Whether `password` matches the stored hash; `None` (unknown account) still spends the
    /// time of one verification.
    pub fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let (hash, known) = match stored {
            Some(h) => (h, true),
            None => (self.dummy.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(hash) else {
            tracing::error!("a stored password hash is not a PHC string");
            return false;
        };
        let ok = self
            .argon2
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        ok && known
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_their_password_and_record_argon2id() {
        let hasher = Hasher::new(HashCost::new(64, 1).unwrap());
        let hash = hasher.hash("correct horse battery");
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{hash}");
        assert!(hasher.verify("correct horse battery", Some(&hash)));
        assert!(!hasher.verify("wrong horse battery", Some(&hash)));
        assert!(!hasher.verify("correct horse battery", None));
        assert!(!hasher.verify("x", Some("not a hash")));
    }

    #[test]
    fn production_cost_is_owasp_argon2id() {
        assert_eq!(
            HashCost::PRODUCTION.describe(),
            "argon2id m=19456 KiB, t=2, p=1"
        );
        assert!(HashCost::new(4, 1).is_err());
        assert!(HashCost::new(64, 0).is_err());
    }
}
