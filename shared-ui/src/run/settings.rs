//! The settings every binary shares (`docs/DESIGN.md`), written once: [`CommonSettings`] is
//! flattened into each binary's clap struct (`--port/PORT`, `--bind/BIND`,
//! `--context-secret/CONTEXT_SECRET`, CORS origins, trusted proxies, deadlines, the
//! shutdown grace) and [`CommonSettings::resolve`] checks it into a [`Common`]. A bad
//! setting is a [`SettingError`] that names it. [`Secret`] is a string that never prints.

use std::fmt;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::cors::CorsPolicy;
use crate::guard::{self, Limits};
use crate::proxies::TrustedProxies;

/// Seconds a stopping server gives the requests in flight, unless `SHUTDOWN_GRACE` says
/// otherwise.
pub const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 10;

/// The development context secret, used (with a loud warning) when none is configured.
pub const DEV_CONTEXT_SECRET: &str = "dev-only-context-secret-change-me";

/// A secret string that never prints.
#[derive(Clone)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: String) -> Self {
        Self(value.into())
    }
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s.to_owned()))
    }
}

/// Settings every binary shares (`docs/DESIGN.md`). Flatten into a binary's clap struct.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonSettings {
    /// TCP port to listen on (0 picks a free one) [default: the service's port]
    #[arg(long, env = "PORT")]
    pub port: Option<u16>,
    /// Address to bind
    #[arg(long, env = "BIND", default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Secret that signs the user context (HMAC-SHA256), the same in the shell and every
    /// service; at least 16 bytes [default: a development value, with a warning]
    #[arg(long, env = "CONTEXT_SECRET", hide_env_values = true)]
    pub context_secret: Option<Secret>,
    /// Direct mode: the shell origins (comma separated, e.g. `http://127.0.0.1:8000`) whose
    /// pages may fetch this service's fragments straight from the browser (CORS). Empty: none
    #[arg(long, env = "CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// A file holding the context secret (used when --context-secret is not given). If the
    /// file does not exist, a random secret is written to it first, so that every binary
    /// pointed at the same file shares one secret generated per installation
    #[arg(long, env = "CONTEXT_SECRET_FILE")]
    pub context_secret_file: Option<PathBuf>,
    /// Proxies whose X-Forwarded-For (and X-Forwarded-Proto) is believed: IP addresses and
    /// CIDR networks, comma separated (e.g. `127.0.0.1,10.0.0.0/8`). Empty: none, the client
    /// is the TCP peer
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// Development mode: allows the development context secret on a non-loopback address
    #[arg(long, env = "MOSAIC_DEV")]
    pub dev: bool,
    /// Seconds a client gets to send a request body after its headers (408 past it)
    #[arg(long, env = "REQUEST_TIMEOUT", default_value_t = guard::DEFAULT_BODY_TIMEOUT_SECS)]
    pub request_timeout: u64,
    /// Open connections accepted at once (over all workers); more wait in the backlog
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = guard::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Seconds a stopping binary (SIGTERM, Ctrl-C) gives the requests in flight before it
    /// closes their connections; it accepts no new ones meanwhile
    #[arg(long, env = "SHUTDOWN_GRACE", default_value_t = DEFAULT_SHUTDOWN_GRACE_SECS)]
    pub shutdown_grace: u64,
}

/// The shared settings, checked.
#[derive(Debug, Clone)]
pub struct Common {
    /// Where to listen.
    pub addr: SocketAddr,
    /// The context secret (the development default if none was given).
    pub context_secret: Secret,
    /// Whether the development default secret is in use.
    pub dev_secret: bool,
    /// The origins allowed to read fragments cross-origin (direct mode).
    pub cors: CorsPolicy,
    /// The proxies whose forwarding headers are believed.
    pub trusted_proxies: TrustedProxies,
    /// Deadlines and the connection cap.
    pub limits: Limits,
    /// Time the requests in flight get once the binary is stopping.
    pub shutdown_grace: Duration,
}

/// A setting that cannot be used; the message names it.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {name}: {problem}")]
pub struct SettingError {
    /// The flag and variable, e.g. `--context-secret / CONTEXT_SECRET`.
    pub name: &'static str,
    /// What is wrong.
    pub problem: String,
}

impl SettingError {
    /// A setting error.
    pub fn new(name: &'static str, problem: impl Into<String>) -> Self {
        Self {
            name,
            problem: problem.into(),
        }
    }
}

impl CommonSettings {
    /// Checks the settings, filling in the service's default port.
    ///
    /// The development secret (no secret given, or that very value given) is refused on a
    /// non-loopback address unless `--dev` is given: anyone who knows it can forge a user.
    pub fn resolve(&self, default_port: u16) -> Result<Common, SettingError> {
        const SECRET: &str = "--context-secret / CONTEXT_SECRET";
        let context_secret = match (&self.context_secret, &self.context_secret_file) {
            (Some(s), _) => s.clone(),
            (None, Some(path)) => read_or_create_secret(path)?,
            (None, None) => Secret::new(DEV_CONTEXT_SECRET.to_owned()),
        };
        if context_secret.expose().len() < 16 {
            return Err(SettingError::new(SECRET, "must be at least 16 bytes"));
        }
        let dev_secret = context_secret.expose() == DEV_CONTEXT_SECRET;
        if dev_secret && !self.bind.is_loopback() && !self.dev {
            return Err(SettingError::new(
                SECRET,
                format!(
                    "the development secret cannot be used on {} (not a loopback address): \
                     anyone who knows it can forge a signed-in user. Set CONTEXT_SECRET or \
                     CONTEXT_SECRET_FILE (the same secret in the shell and every service), \
                     or pass --dev on a development machine",
                    self.bind
                ),
            ));
        }
        if !(1..=600).contains(&self.request_timeout) {
            return Err(SettingError::new(
                "--request-timeout / REQUEST_TIMEOUT",
                "must be between 1 and 600 seconds",
            ));
        }
        if !(1..=1_000_000).contains(&self.max_connections) {
            return Err(SettingError::new(
                "--max-connections / MAX_CONNECTIONS",
                "must be between 1 and 1000000",
            ));
        }
        if self.shutdown_grace > 3600 {
            return Err(SettingError::new(
                "--shutdown-grace / SHUTDOWN_GRACE",
                "must be between 0 and 3600 seconds",
            ));
        }
        Ok(Common {
            shutdown_grace: Duration::from_secs(self.shutdown_grace),
            addr: SocketAddr::new(self.bind, self.port.unwrap_or(default_port)),
            context_secret,
            dev_secret,
            cors: CorsPolicy::parse(&self.cors_origins)?,
            trusted_proxies: TrustedProxies::parse(&self.trusted_proxies)?,
            limits: Limits {
                body_timeout: Duration::from_secs(self.request_timeout),
                max_connections: self.max_connections,
                ..Limits::default()
            },
        })
    }
}

/// Reads the secret in `path`, or, when there is no such file, writes a new random one
/// there first. Several binaries may start at once on one file: the secret is written to a
/// temporary file and hard-linked into place, which fails if another got there first, and
/// then everyone reads the one that won.
fn read_or_create_secret(path: &Path) -> Result<Secret, SettingError> {
    const NAME: &str = "--context-secret-file / CONTEXT_SECRET_FILE";
    let fail = |what: &str, e: std::io::Error| {
        SettingError::new(NAME, format!("{what} {}: {e}", path.display()))
    };
    if !path.exists() {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = dir.join(format!(
            ".context-secret-{}",
            crate::request_id::new_request_id()
        ));
        let secret = hex::encode(rand::random::<[u8; 32]>());
        let write = || -> std::io::Result<()> {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&tmp)?;
            file.write_all(secret.as_bytes())?;
            file.sync_all()
        };
        write().map_err(|e| fail("cannot write a new secret beside", e))?;
        let linked = std::fs::hard_link(&tmp, path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => tracing::info!(path = %path.display(), "generated a new context secret"),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(fail("cannot create", e)),
        }
    }
    let text = std::fs::read_to_string(path).map_err(|e| fail("cannot read", e))?;
    let secret = text.trim();
    if secret.len() < 16 {
        return Err(SettingError::new(
            NAME,
            format!("{} holds fewer than 16 bytes", path.display()),
        ));
    }
    Ok(Secret::new(secret.to_owned()))
}

impl Common {
    /// Logs the loud warning when the development secret is in use.
    pub fn warn_if_dev_secret(&self) {
        if self.dev_secret {
            tracing::warn!(
                "the development context secret is in use (no CONTEXT_SECRET or \
                 CONTEXT_SECRET_FILE, or that very value): anyone who knows it can forge a \
                 signed-in user. Set CONTEXT_SECRET (the same value in the shell and every \
                 service) before this serves real users."
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn common(args: &[&str]) -> Result<Common, SettingError> {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct S {
            #[command(flatten)]
            common: CommonSettings,
        }
        let mut all = vec!["x"];
        all.extend(args);
        S::try_parse_from(all).unwrap().common.resolve(1)
    }

    #[test]
    fn the_dev_secret_is_refused_beyond_loopback_unless_dev() {
        const NAME: &str = "--context-secret / CONTEXT_SECRET";
        // None given, on every interface: refused.
        assert_eq!(common(&["--bind", "0.0.0.0"]).unwrap_err().name, NAME);
        // The development value given explicitly is no better.
        let dev = ["--bind", "0.0.0.0", "--context-secret", DEV_CONTEXT_SECRET];
        assert_eq!(common(&dev).unwrap_err().name, NAME);
        let v6 = ["--bind", "::", "--context-secret", DEV_CONTEXT_SECRET];
        assert_eq!(common(&v6).unwrap_err().name, NAME);
        // --dev allows it (with the warning); loopback allows it.
        let with_dev = [
            "--bind",
            "0.0.0.0",
            "--context-secret",
            DEV_CONTEXT_SECRET,
            "--dev",
        ];
        assert!(common(&with_dev).unwrap().dev_secret);
        assert!(common(&[]).unwrap().dev_secret);
        assert!(common(&["--bind", "::1"]).unwrap().dev_secret);
        // A real secret anywhere is fine.
        let real = [
            "--bind",
            "0.0.0.0",
            "--context-secret",
            "a-real-secret-of-32-bytes-000000",
        ];
        assert!(!common(&real).unwrap().dev_secret);
    }

    #[test]
    fn a_secret_file_is_generated_once_and_shared_by_binaries_starting_together() {
        // A fresh folder of our own (shared-ui has no temporary-folder dependency).
        let dir = std::env::temp_dir().join(format!(
            "mf-secret-test-{}",
            crate::request_id::new_request_id()
        ));
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("context-secret");
        let path_s = path.display().to_string();
        let secrets: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        common(&["--bind", "0.0.0.0", "--context-secret-file", &path_s])
                            .unwrap()
                            .context_secret
                            .expose()
                            .to_owned()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(
            secrets.iter().all(|s| s == &secrets[0]),
            "one secret for all"
        );
        assert_eq!(secrets[0].len(), 64);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), secrets[0]);
        // Only the secret is left in the folder (no temporary files).
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "readable by its owner only");
        }
        // A file with too short a secret is refused by name.
        std::fs::write(&path, "short").unwrap();
        let err = common(&["--context-secret-file", &path_s]).unwrap_err();
        assert_eq!(err.name, "--context-secret-file / CONTEXT_SECRET_FILE");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_short_context_secret_is_refused_by_name() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct S {
            #[command(flatten)]
            common: CommonSettings,
        }
        let s = S::try_parse_from(["x", "--context-secret", "short"]).unwrap();
        assert_eq!(
            s.common.resolve(1).unwrap_err().name,
            "--context-secret / CONTEXT_SECRET"
        );
        let s = S::try_parse_from(["x", "--port", "0"]).unwrap();
        let common = s.common.resolve(1).unwrap();
        assert!(common.dev_secret);
        assert_eq!(common.addr.port(), 0);
    }
}
