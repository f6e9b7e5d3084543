//! The Python team (`examples/python/changelog.py`) as a real process: `python3` on a free
//! port with the test stack's secret, killed by its PID when dropped. A missing `python3`
//! fails with a message: the tests that use it never skip silently.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::{free_port, SECRET};

/// The example's folder.
pub fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/python")
}

/// `python3`, or the interpreter named by `PYTHON`.
pub fn python() -> Command {
    let mut cmd = Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned()));
    // No __pycache__ folders in the working tree.
    cmd.env("PYTHONDONTWRITEBYTECODE", "1");
    for var in [
        "PORT",
        "BIND",
        "CONTEXT_SECRET",
        "CONTEXT_SECRET_FILE",
        "MOSAIC_DEV",
        "CHANGELOG_SECTION_PATH",
        "CHANGELOG_VERSION",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// The Python service as a child process, killed by its PID on drop.
pub struct PythonService {
    child: Child,
    /// Its base URL.
    pub url: String,
}

impl PythonService {
    /// Starts `changelog.py` on a free port with the test stack's secret and waits for
    /// `/healthz`.
    pub async fn start() -> Self {
        let mut last = String::new();
        // The free port may be taken between the probe and the child's bind: try again.
        for _ in 0..3 {
            let port = free_port();
            let child = python()
                .arg(example_dir().join("changelog.py"))
                .args(["--port", &port.to_string(), "--context-secret", SECRET])
                .stdout(Stdio::null())
                .stderr(if std::env::var_os("TEST_LOG").is_some() {
                    Stdio::inherit()
                } else {
                    Stdio::null()
                })
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot run python3 ({e}): these tests need Python 3.8+ on PATH")
                });
            let mut service = PythonService {
                child,
                url: format!("http://127.0.0.1:{port}"),
            };
            match service.wait_healthy().await {
                Ok(()) => return service,
                Err(e) => last = e,
            }
        }
        panic!("the Python service did not start: {last}");
    }

    async fn wait_healthy(&mut self) -> Result<(), String> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("python3 exited with {status}"));
            }
            if let Ok(res) = client.get(format!("{}/healthz", self.url)).send().await {
                if res.status() == StatusCode::OK {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!("no 200 from {}/healthz within 15 s", self.url));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for PythonService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
