//! argon2id password hashing.
//!
//! Production cost ([`HashCost::PRODUCTION`]) is OWASP's recommended argon2id setting:
//! m = 19456 KiB (19 MiB), t = 2 iterations, p = 1 lane, 32-byte output, 16-byte random salt.
//! Hashes are stored in the PHC string format, which records the parameters, so raising the
//! cost later keeps old hashes verifiable. Hashing is CPU- and memory-heavy: callers run it
//! off the async workers (`web::block`).
//!
//! Memory stays flat: argon2's working memory (m KiB per hash) comes from a small fixed pool
//! of reusable block buffers, one per concurrent hash, allocated on first need and kept. A hash
//! waits for a free buffer, so the pool is also the hard bound on concurrent hashes
//! ([`HASH_CONCURRENCY_ENV`], default [`default_concurrency`]). Before this pool every hash
//! allocated and freed its own 19 MiB; glibc raises its mmap threshold after the first free,
//! so later buffers came from per-thread arenas that never gave them back (about 1 GiB of RSS
//! after 60 concurrent sign-ups).

use std::sync::{Arc, Condvar, Mutex, PoisonError};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// The environment variable that sets how many passwords are hashed at once (each holds
/// `m` KiB of argon2 memory for reuse: 19 MiB at the production cost).
pub const HASH_CONCURRENCY_ENV: &str = "ACCOUNTS_HASH_CONCURRENCY";

/// The most concurrent hashes [`HASH_CONCURRENCY_ENV`] may ask for.
pub const MAX_HASH_CONCURRENCY: usize = 64;

/// Concurrent hashes by default: the CPUs, at most 2. Hashing is CPU-bound, so more hashes
/// than cores only add memory; two keep argon2's memory at 38 MiB at the production cost
/// (the service stays under 64 MiB RSS however many sign-ups arrive at once).
pub fn default_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 2))
}

/// [`HASH_CONCURRENCY_ENV`] read and checked (1 to [`MAX_HASH_CONCURRENCY`]); unset means
/// [`default_concurrency`].
pub fn concurrency_from_env() -> Result<usize, String> {
    match std::env::var(HASH_CONCURRENCY_ENV) {
        Err(std::env::VarError::NotPresent) => Ok(default_concurrency()),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(format!("{HASH_CONCURRENCY_ENV} is not valid UTF-8"))
        }
        Ok(value) => parse_concurrency(&value),
    }
}

/// A concurrency setting: a whole number from 1 to [`MAX_HASH_CONCURRENCY`].
pub fn parse_concurrency(value: &str) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_HASH_CONCURRENCY).contains(&n) => Ok(n),
        _ => Err(format!(
            "{HASH_CONCURRENCY_ENV} must be a whole number between 1 and {MAX_HASH_CONCURRENCY}, not `{}`",
            value.escape_default()
        )),
    }
}

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

/// At most `capacity` buffers of `blocks` argon2 blocks, allocated on first need and reused.
struct BlockPool {
    blocks: usize,
    capacity: usize,
    state: Mutex<PoolState>,
    returned: Condvar,
}

struct PoolState {
    free: Vec<Box<[Block]>>,
    allocated: usize,
}

/// A buffer on loan from the pool; going out of scope gives it back (also on a panic).
struct Lease<'a> {
    pool: &'a BlockPool,
    buffer: Option<Box<[Block]>>,
}

impl BlockPool {
    fn new(blocks: usize, capacity: usize) -> Self {
        Self {
            blocks,
            capacity,
            state: Mutex::new(PoolState {
                free: Vec::with_capacity(capacity),
                allocated: 0,
            }),
            returned: Condvar::new(),
        }
    }

    /// A free buffer, a new one while fewer than `capacity` exist, or else waits (blocking
    /// the calling thread, which is a blocking-pool thread) until one comes back.
    fn lease(&self) -> Lease<'_> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(buffer) = state.free.pop() {
                return Lease {
                    pool: self,
                    buffer: Some(buffer),
                };
            }
            if state.allocated < self.capacity {
                state.allocated += 1;
                drop(state);
                return Lease {
                    pool: self,
                    buffer: Some(vec![Block::default(); self.blocks].into_boxed_slice()),
                };
            }
            state = self
                .returned
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    #[cfg(test)]
    fn allocated(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .allocated
    }
}

impl Lease<'_> {
    fn blocks(&mut self) -> &mut [Block] {
        self.buffer.as_deref_mut().unwrap_or(&mut [])
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(buffer) = self.buffer.take() {
            let mut state = self
                .pool
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            state.free.push(buffer);
            drop(state);
            self.pool.returned.notify_one();
        }
    }
}

struct Inner {
    argon2: Argon2<'static>,
    params: Params,
    pool: BlockPool,
    /// A hash of a random password, verified against when an email is unknown so that a
    /// wrong email costs as much time as a wrong password.
    dummy: String,
}

/// Hashes and verifies passwords at one cost, at most `concurrency` at once, in reused memory.
#[derive(Clone)]
pub struct Hasher {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hasher")
    }
}

impl Hasher {
    /// A hasher at `cost`, hashing at most [`HASH_CONCURRENCY_ENV`] passwords at once (a bad
    /// value is logged and the default used).
    pub fn new(cost: HashCost) -> Self {
        let concurrency = concurrency_from_env().unwrap_or_else(|problem| {
            tracing::error!(%problem, default = default_concurrency(), "ignoring a bad setting");
            default_concurrency()
        });
        Self::with_concurrency(cost, concurrency)
    }

    /// A hasher at `cost` that computes at most `concurrency` (at least 1) hashes at once and
    /// keeps that many argon2 memory buffers for reuse.
    pub fn with_concurrency(cost: HashCost, concurrency: usize) -> Self {
        let params = Params::new(cost.memory_kib, cost.iterations, 1, None)
            .expect("HashCost::new checked the parameters");
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let pool = BlockPool::new(params.block_count(), concurrency.max(1));
        let mut inner = Inner {
            argon2,
            params,
            pool,
            dummy: String::new(),
        };
        // The dummy hash uses memory of its own, freed at once: an idle service holds no
        // argon2 memory until its first sign-up or sign-in.
        let random = hex::encode(rand::random::<[u8; 16]>());
        let mut scratch = vec![Block::default(); inner.params.block_count()];
        inner.dummy = inner.hash_in(&random, &mut scratch);
        drop(scratch);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// How many hashes run at once (and how many argon2 buffers are kept).
    pub fn concurrency(&self) -> usize {
        self.inner.pool.capacity
    }

    /// The PHC string of `password` with a fresh salt.
    pub fn hash(&self, password: &str) -> String {
        let mut lease = self.inner.pool.lease();
        self.inner.hash_in(password, lease.blocks())
    }

    /// Whether `password` matches the stored hash; `None` (unknown account) still spends the
    /// time of one verification.
    pub fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let (hash, known) = match stored {
            Some(h) => (h, true),
            None => (self.inner.dummy.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(hash) else {
            tracing::error!("a stored password hash is not a PHC string");
            return false;
        };
        let mut lease = self.inner.pool.lease();
        let ok = self
            .inner
            .verify_in(password.as_bytes(), &parsed, lease.blocks())
            .is_ok();
        ok && known
    }
}

impl Inner {
    /// `argon2.hash_password` with `memory` as argon2's working memory.
    fn hash_in(&self, password: &str, memory: &mut [Block]) -> String {
        let salt = Salt::generate();
        let output = output_in(
            &self.argon2,
            &self.params,
            password.as_bytes(),
            &salt,
            memory,
        )
        .expect("argon2 hashes any password of at most 128 bytes");
        PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params).expect("argon2 params encode"),
            salt: Some(salt),
            hash: Some(output),
        }
        .to_string()
    }

    /// `PasswordVerifier::verify_password` of argon2 (the stored hash's own algorithm,
    /// version and parameters, constant-time comparison), with `memory` as working memory
    /// when it is large enough (a hash at a higher cost than today's gets its own).
    fn verify_in(
        &self,
        password: &[u8],
        hash: &PasswordHash,
        memory: &mut [Block],
    ) -> argon2::password_hash::Result<()> {
        let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
            return Err(argon2::password_hash::Error::PasswordInvalid);
        };
        let algorithm = Algorithm::try_from(hash.algorithm.as_str())?;
        let version = hash
            .version
            .map(Version::try_from)
            .transpose()?
            .unwrap_or_default();
        let params = Params::try_from(hash)?;
        let mut own;
        let memory = if params.block_count() <= memory.len() {
            memory
        } else {
            own = vec![Block::default(); params.block_count()];
            own.as_mut_slice()
        };
        let argon2 = Argon2::new(algorithm, version, params.clone());
        let computed = output_in(&argon2, &params, password, salt, memory)?;
        // `Output`'s equality is constant-time.
        if computed == *expected {
            Ok(())
        } else {
            Err(argon2::password_hash::Error::PasswordInvalid)
        }
    }
}

/// argon2's output for `password` and `salt` (raw bytes), `params`' length of it, computed
/// in `memory` (as argon2's `hash_password_with_salt` does in memory of its own).
fn output_in(
    argon2: &Argon2<'_>,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    memory: &mut [Block],
) -> argon2::password_hash::Result<Output> {
    let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let out = buffer
        .get_mut(..output_len)
        .ok_or(argon2::password_hash::Error::OutputSize)?;
    argon2.hash_password_into_with_memory(password, salt, &mut *out, memory)?;
    Ok(Output::new(out)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

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

    #[test]
    fn pooled_hashes_are_argon2s_own() {
        let cost = HashCost::new(64, 2).unwrap();
        let hasher = Hasher::with_concurrency(cost, 1);
        let stock = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 2, 1, None).unwrap(),
        );
        // Ours verifies with the argon2 crate's verifier, and the crate's hash with ours.
        let ours = hasher.hash("pa55word!");
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(stock.verify_password(b"pa55word!", &parsed).is_ok());
        assert!(stock.verify_password(b"pa55word?", &parsed).is_err());
        let salt = Salt::generate();
        let theirs = stock
            .hash_password_with_salt(b"pa55word!", &salt)
            .unwrap()
            .to_string();
        assert!(hasher.verify("pa55word!", Some(&theirs)));
        assert!(!hasher.verify("pa55word?", Some(&theirs)));
        // A hash at a higher cost than the pool's buffers still verifies (own memory), and one
        // at a lower cost uses the front of a buffer.
        for m in [128, 32] {
            let other = Argon2::new(
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(m, 1, 1, None).unwrap(),
            );
            let h = other
                .hash_password_with_salt(b"pa55word!", &salt)
                .unwrap()
                .to_string();
            assert!(hasher.verify("pa55word!", Some(&h)), "m={m}");
            assert!(!hasher.verify("pa55word?", Some(&h)), "m={m}");
        }
        // Other algorithms recorded in the string are honoured, as argon2's verifier does.
        let argon2i = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        );
        let h = argon2i
            .hash_password_with_salt(b"pa55word!", &salt)
            .unwrap()
            .to_string();
        assert!(hasher.verify("pa55word!", Some(&h)));
    }

    #[test]
    fn concurrent_hashes_are_bounded_by_the_pool() {
        let hasher = Hasher::with_concurrency(HashCost::new(256, 1).unwrap(), 2);
        assert_eq!(hasher.concurrency(), 2);
        let hashes: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..16)
                .map(|i| {
                    let hasher = hasher.clone();
                    s.spawn(move || {
                        let password = format!("password number {i}");
                        let hash = hasher.hash(&password);
                        assert!(hasher.verify(&password, Some(&hash)));
                        hash
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(hashes.len(), 16);
        // Sixteen threads, never more than two buffers.
        assert!(hasher.inner.pool.allocated() <= 2);
        assert!(hasher.inner.pool.allocated() >= 1);
    }

    #[test]
    fn the_concurrency_setting_is_checked() {
        assert!((1..=2).contains(&default_concurrency()));
        assert_eq!(parse_concurrency("2"), Ok(2));
        assert_eq!(parse_concurrency(" 8 "), Ok(8));
        for bad in ["0", "-1", "65", "two", ""] {
            let problem = parse_concurrency(bad).unwrap_err();
            assert!(problem.contains(HASH_CONCURRENCY_ENV), "{problem}");
        }
    }
}
