//! The shell as a real process (the built `target/debug/shell`) over the services and the
//! configuration a test writes: for tests of the page's shape and timing that need no team
//! service, only [`crate::FakeService`]s (slow, fast, a slow session service…).

use crate::replicas::Process;
use crate::{free_port, SECRET};

/// A shell process and its configuration file.
pub struct Site {
    /// The shell.
    pub shell: Process,
    /// Its admin port (`GET /metrics`).
    pub admin_port: u16,
    _dir: tempfile::TempDir,
}

impl Site {
    /// Starts the shell with `services` (`name`, base URL) and `config`, the body of its
    /// `shell.toml` (sections, chrome, session service…), plus `args`.
    pub async fn start(services: &[(&str, &str)], config: &str, args: &[&str]) -> Site {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("shell.toml");
        std::fs::write(&path, config).expect("the shell config is written");
        let pairs: Vec<String> = services
            .iter()
            .map(|(name, url)| format!("{name}={url}"))
            .collect();
        let (services, path) = (pairs.join(","), path.display().to_string());
        let admin_port = free_port();
        let admin = admin_port.to_string();
        let mut all = vec![
            "--context-secret",
            SECRET,
            "--services",
            &services,
            "--config",
            &path,
            "--admin-port",
            &admin,
        ];
        all.extend_from_slice(args);
        let shell = Process::start("shell", "shell", &all).await;
        Site {
            shell,
            admin_port,
            _dir: dir,
        }
    }

    /// The shell's `GET /metrics` URL, on its admin port.
    pub fn metrics_url(&self) -> String {
        format!("http://127.0.0.1:{}/metrics", self.admin_port)
    }

    /// The shell's URL for `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.shell.url())
    }
}
