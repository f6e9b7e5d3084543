//! svc-accounts' own Prometheus metrics, on its `GET /metrics` beside the request metrics
//! every service has (`shared_ui::metrics`).
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `accounts_sign_ups_total` | counter | |
//! | `accounts_sign_ins_total` | counter | |
//! | `accounts_failures_total` | counter | `action` (`sign_up`, `sign_in`), `reason` (`invalid`, `email_taken`, `wrong_credentials`, `unconfirmed`) |
//! | `accounts_rate_limited_total` | counter | `action` (`sign_up`, `sign_in`) |
//! | `accounts_password_hash_duration_seconds` | histogram | `operation` (`hash`, `verify`) |
//!
//! The hash time is the argon2 computation itself, not the wait for a hashing slot.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::{Registry, Unit};
use shared_ui::metrics::{duration_family, DurationFamily};

/// Which form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `POST /actions/sign-up`.
    SignUp,
    /// `POST /actions/sign-in`.
    SignIn,
}

impl Action {
    fn label(self) -> &'static str {
        match self {
            Action::SignUp => "sign_up",
            Action::SignIn => "sign_in",
        }
    }
}

/// Why a sign-up or sign-in did not succeed (rate limits are counted apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    /// The form did not validate (422).
    Invalid,
    /// The email already has an account.
    EmailTaken,
    /// Unknown email or wrong password.
    WrongCredentials,
    /// The right password for an address not confirmed yet.
    Unconfirmed,
}

impl Failure {
    /// The metric label (and the log's reason).
    pub fn label(self) -> &'static str {
        match self {
            Failure::Invalid => "invalid",
            Failure::EmailTaken => "email_taken",
            Failure::WrongCredentials => "wrong_credentials",
            Failure::Unconfirmed => "unconfirmed",
        }
    }
}

/// An argon2 operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashOp {
    /// Hashing a new password (sign-up).
    Hash,
    /// Checking a password (sign-in).
    Verify,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ActionLabels {
    action: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct FailureLabels {
    action: &'static str,
    reason: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct HashLabels {
    operation: &'static str,
}

/// The metrics; clones share the figures.
#[derive(Debug, Clone)]
pub struct AccountsMetrics {
    sign_ups: Counter,
    sign_ins: Counter,
    failures: Family<FailureLabels, Counter>,
    rate_limited: Family<ActionLabels, Counter>,
    hash_durations: DurationFamily<HashLabels>,
}

impl Default for AccountsMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl AccountsMetrics {
    /// All at zero.
    pub fn new() -> Self {
        Self {
            sign_ups: Counter::default(),
            sign_ins: Counter::default(),
            failures: Family::default(),
            rate_limited: Family::default(),
            hash_durations: duration_family(),
        }
    }

    /// Adds them to the app's registry.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "accounts_sign_ups",
            "Accounts created",
            self.sign_ups.clone(),
        );
        registry.register(
            "accounts_sign_ins",
            "Successful sign-ins",
            self.sign_ins.clone(),
        );
        registry.register(
            "accounts_failures",
            "Sign-ups and sign-ins that failed, by action and reason",
            self.failures.clone(),
        );
        registry.register(
            "accounts_rate_limited",
            "Sign-ups and sign-ins refused by the rate limits (429), by action",
            self.rate_limited.clone(),
        );
        registry.register_with_unit(
            "accounts_password_hash_duration",
            "Time of one argon2 computation, by operation (hash, verify)",
            Unit::Seconds,
            self.hash_durations.clone(),
        );
    }

    /// An account was created.
    pub fn signed_up(&self) {
        self.sign_ups.inc();
    }

    /// A user signed in.
    pub fn signed_in(&self) {
        self.sign_ins.inc();
    }

    /// A sign-up or sign-in failed.
    pub fn failed(&self, action: Action, why: Failure) {
        self.failures
            .get_or_create(&FailureLabels {
                action: action.label(),
                reason: why.label(),
            })
            .inc();
    }

    /// A sign-up or sign-in was refused by a rate limit.
    pub fn rate_limited(&self, action: Action) {
        self.rate_limited
            .get_or_create(&ActionLabels {
                action: action.label(),
            })
            .inc();
    }

    /// One argon2 computation took `took`.
    pub fn hashed(&self, op: HashOp, took: Duration) {
        let operation = match op {
            HashOp::Hash => "hash",
            HashOp::Verify => "verify",
        };
        self.hash_durations
            .get_or_create(&HashLabels { operation })
            .observe(took.as_secs_f64());
    }
}
