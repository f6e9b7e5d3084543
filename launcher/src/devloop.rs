//! The dev loop (`--watch`): a saved file of a team rebuilds (a Rust crate, `cargo build
//! -p`) and restarts that team alone, then tells the shell, which tells open pages.
//!
//! 1. Every service's `watch` folders (by default its crate's or command's folder) are
//!    watched recursively (inotify through `notify`). Only writes count (a file created,
//!    changed, renamed or removed; never a read, which a restarting team does to its own
//!    files), paths under `target/`, `.git/`, `__pycache__/`, `node_modules/` and editors'
//!    swap and backup files are ignored, and a burst is gathered until [`DEBOUNCE`] passes
//!    without a new one.
//! 2. The services a batch touches are handled one at a time, in the file's order: a
//!    package is built first (`cargo build` with the same `-p` list as the launcher's first
//!    build, so features resolve alike and only the changed crate compiles; if that fails,
//!    the running process stays and cargo's errors are on the terminal), then restarted
//!    ([`Restarter`]: SIGTERM, wait, start); a command is just restarted.
//! 3. Once the new process accepts connections on its port, the launcher posts
//!    `/_mosaic/dev/restarted?service=NAME` to the shell's admin port (the shell runs with
//!    `--dev`, see `shell/src/dev.rs`), and every open page fetches that team's fragments
//!    again. The line `[launcher] NAME is back in …` gives the time from the save.

use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use notify::event::ModifyKind;
use notify::{Event, EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::site::{Site, Start};
use crate::Restarter;

/// The quiet that ends a burst of file events (an editor's save is several events).
pub const DEBOUNCE: Duration = Duration::from_millis(100);
/// How long a restarted service gets to accept connections before the shell is told anyway.
const READY_LIMIT: Duration = Duration::from_secs(20);

/// What the dev loop needs.
#[derive(Debug)]
pub struct DevLoop {
    /// The site (services, their folders, the shell's admin port).
    pub site: Site,
    /// The workspace root, where cargo runs.
    pub root: PathBuf,
    /// `cargo build --release`.
    pub release: bool,
    /// The packages of the first build: a rebuild names them all, so cargo resolves the
    /// same features and reuses every compiled dependency (only the changed crate and the
    /// binaries that use it are built again).
    pub packages: Vec<String>,
    /// The running services' restarters, by name.
    pub restarters: Vec<(String, Restarter)>,
    /// The shell's admin port, if the shell runs.
    pub shell_admin_port: Option<u16>,
}

/// Watches until the launcher stops; an `Err` says why watching could not start.
pub async fn run(mut dev: DevLoop) -> Result<(), String> {
    let (tx, mut rx) = mpsc::unbounded_channel::<notify::Result<Event>>();
    let mut watcher = notify::recommended_watcher(move |event| {
        let _ = tx.send(event);
    })
    .map_err(|e| format!("cannot watch files: {e}"))?;
    // Canonical paths: event paths are the watched path joined with a name, and `..` in a
    // file's path would never match them.
    let mut watched: Vec<(String, Vec<PathBuf>)> = Vec::new();
    for (name, _) in &dev.restarters {
        let Some(service) = dev.site.service(name) else {
            continue;
        };
        let mut paths = Vec::new();
        for path in &service.watch {
            let path = std::fs::canonicalize(path)
                .map_err(|e| format!("cannot watch {} for {name}: {e}", path.display()))?;
            watcher
                .watch(&path, RecursiveMode::Recursive)
                .map_err(|e| format!("cannot watch {} for {name}: {e}", path.display()))?;
            say(&format!("watching {} for {name}", path.display()));
            paths.push(path);
        }
        watched.push((name.to_string(), paths));
    }
    while let Some(first) = rx.recv().await {
        let mut paths = written(first);
        if paths.is_empty() {
            continue;
        }
        let saved = Instant::now();
        // The rest of the burst (an editor's save is several events).
        while let Ok(Some(more)) = tokio::time::timeout(DEBOUNCE, rx.recv()).await {
            paths.extend(written(more));
        }
        for name in touched(&watched, &paths) {
            dev.reload(&name, saved).await;
        }
    }
    Ok(())
}

/// The paths an event wrote (created, changed, renamed, removed); none for a read, a change
/// of metadata only, or an error (said on the terminal).
fn written(event: notify::Result<Event>) -> Vec<PathBuf> {
    match event {
        Ok(event) => match event.kind {
            EventKind::Create(_) | EventKind::Remove(_) => event.paths,
            EventKind::Modify(ModifyKind::Metadata(_)) => Vec::new(),
            EventKind::Modify(_) => event.paths,
            EventKind::Access(_) | EventKind::Any | EventKind::Other => Vec::new(),
        },
        Err(e) => {
            say(&format!("file watching: {e}"));
            Vec::new()
        }
    }
}

/// The services (in the file's order) whose watched folders hold one of `paths`.
fn touched(watched: &[(String, Vec<PathBuf>)], paths: &[PathBuf]) -> Vec<String> {
    let relevant: Vec<&PathBuf> = paths.iter().filter(|p| !ignored(p)).collect();
    watched
        .iter()
        .filter(|(_, folders)| {
            relevant
                .iter()
                .any(|p| folders.iter().any(|folder| p.starts_with(folder)))
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// Build output, caches and editors' temporary files: never a reason to restart.
pub fn ignored(path: &Path) -> bool {
    let in_ignored_folder = path.components().any(|c| match c {
        Component::Normal(part) => matches!(
            part.to_str(),
            Some("target" | ".git" | "__pycache__" | "node_modules" | ".pytest_cache")
        ),
        _ => false,
    });
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    in_ignored_folder
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.starts_with(".#")
        || name == "4913" // vim's probe file
}

impl DevLoop {
    /// Rebuilds (a package), restarts and announces one service.
    async fn reload(&mut self, name: &str, saved: Instant) {
        let Some(service) = self.site.service(name).cloned() else {
            return;
        };
        if let Start::Package(package) = &service.start {
            say(&format!("{name} changed: cargo build (for {package})"));
            if let Err(why) = self.build().await {
                say(&format!("{why}; the running {name} stays"));
                return;
            }
        } else {
            say(&format!("{name} changed: restarting it"));
        }
        let Some((_, restarter)) = self.restarters.iter_mut().find(|(n, _)| n == name) else {
            return;
        };
        if !restarter.restart().await {
            return; // the launcher is stopping
        }
        if !accepts(service.port).await {
            say(&format!(
                "{name} does not accept connections on :{}; the shell is told anyway",
                service.port
            ));
        }
        let told = match self.shell_admin_port {
            Some(port) => tell_shell(port, name).await,
            None => Ok(()),
        };
        let took = saved.elapsed().as_secs_f32();
        match told {
            Ok(()) => say(&format!(
                "{name} is back in {took:.2}s; open pages reload it"
            )),
            Err(why) => say(&format!("{name} is back in {took:.2}s; the shell: {why}")),
        }
    }

    async fn build(&self) -> Result<(), String> {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = tokio::process::Command::new(cargo);
        // kill_on_drop: a build under way when the launcher stops ends with it.
        build
            .current_dir(&self.root)
            .arg("build")
            .args(self.packages.iter().flat_map(|p| ["-p", p.as_str()]))
            .kill_on_drop(true);
        if self.release {
            build.arg("--release");
        }
        match build.status().await {
            Ok(status) if status.success() => Ok(()),
            Ok(status) => Err(format!("cargo build failed ({status})")),
            Err(e) => Err(format!("cannot run cargo: {e}")),
        }
    }
}

/// Whether 127.0.0.1:`port` accepts a connection within [`READY_LIMIT`].
async fn accepts(port: u16) -> bool {
    let deadline = Instant::now() + READY_LIMIT;
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// `POST /_mosaic/dev/restarted?service=NAME` on the shell's admin port.
async fn tell_shell(admin_port: u16, name: &str) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?;
    let url = format!("http://127.0.0.1:{admin_port}/_mosaic/dev/restarted?service={name}");
    match client.post(&url).send().await {
        Ok(answer) if answer.status().is_success() => Ok(()),
        Ok(answer) => Err(format!(
            "{url} answered {} (is the shell in --dev, with {name} in its configuration?)",
            answer.status()
        )),
        Err(e) => Err(format!("{url}: {e}")),
    }
}

fn say(text: &str) {
    eprintln!("[launcher] {text}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_output_and_editor_files_are_ignored() {
        assert!(ignored(Path::new("/w/svc-pricing/target/debug/x")));
        assert!(ignored(Path::new("/w/examples/python/__pycache__/a.pyc")));
        assert!(ignored(Path::new("/w/svc-pricing/src/.main.rs.swp")));
        assert!(ignored(Path::new("/w/svc-pricing/src/main.rs~")));
        assert!(!ignored(Path::new("/w/svc-pricing/src/views/plans.rs")));
        assert!(!ignored(Path::new("/w/examples/python/changelog.py")));
    }
}
