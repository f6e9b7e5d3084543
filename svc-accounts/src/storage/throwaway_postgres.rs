//! A throwaway PostgreSQL server for a test process run without `scripts/with-postgres`
//! (a reflex `cargo test --workspace` on a machine where Debian's `postgresql` is
//! installed): the same steps as that script, once per process.
//!
//! `initdb` makes a cluster in a temporary folder (trust authentication), `pg_ctl` starts it
//! on a free port of 127.0.0.1 with its socket in that folder, and a detached watchdog
//! (`setsid sh`) stops the server and deletes the folder when the test process has ended,
//! however it ended. As root, the server runs as the `postgres` system user that Debian's
//! package creates (PostgreSQL refuses to run as root). Nothing here runs in a service: only
//! [`super::postgres::testing::admin_url`] calls it.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Starts a server and returns its admin URL, or why it could not.
pub fn start() -> Result<String, String> {
    let bin = server_bin().ok_or("no initdb under /usr/lib/postgresql/*/bin")?;
    let as_root = std::fs::metadata("/proc/self")
        .map_err(|e| e.to_string())?
        .uid()
        == 0;
    let dir = std::env::temp_dir().join(format!(
        "mf-postgres-test.{}.{}",
        std::process::id(),
        hex::encode(rand::random::<[u8; 4]>())
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if as_root {
        run(Command::new("chown").arg("postgres:").arg(&dir), "chown")?;
    }
    watchdog(&bin, &dir, as_root)?;
    let data = dir.join("data");
    let mut initdb = server_command(&bin, "initdb", as_root);
    initdb.arg("-D").arg(&data).args([
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
        "--no-sync",
    ]);
    run(&mut initdb, "initdb")?;
    let port = (0..5)
        .find_map(|_| start_on_free_port(&bin, &dir, as_root))
        .ok_or_else(|| format!("pg_ctl start failed; see {}/server.log", dir.display()))?;
    Ok(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
}

/// The newest `/usr/lib/postgresql/VERSION/bin` holding `initdb` and `pg_ctl`.
fn server_bin() -> Option<PathBuf> {
    let mut bins: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    bins.sort();
    bins.pop().map(|(_, bin)| bin)
}

/// `tool` from `bin`, as the `postgres` user when this process is root.
fn server_command(bin: &Path, tool: &str, as_root: bool) -> Command {
    if as_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(tool));
        c
    } else {
        Command::new(bin.join(tool))
    }
}

/// Picks a free port and starts the server on it (`None` if another process took it).
fn start_on_free_port(bin: &Path, dir: &Path, as_root: bool) -> Option<u16> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .ok()?
        .port();
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off",
        dir.display()
    );
    let mut pg_ctl = server_command(bin, "pg_ctl", as_root);
    pg_ctl
        .arg("-D")
        .arg(dir.join("data"))
        .arg("-l")
        .arg(dir.join("server.log"))
        .args(["-w", "-t", "30", "-o", &options, "start"]);
    run(&mut pg_ctl, "pg_ctl start").ok().map(|()| port)
}

/// A detached shell that waits for this process to end, then stops the server and deletes
/// `dir` (started before the server, so no server outlives the tests).
fn watchdog(bin: &Path, dir: &Path, as_root: bool) -> Result<(), String> {
    let runas = if as_root {
        "runuser -u postgres -- "
    } else {
        ""
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         {runas}'{pg_ctl}' -D '{dir}/data' -m immediate -w stop >/dev/null 2>&1; \
         rm -rf '{dir}'",
        pid = std::process::id(),
        pg_ctl = bin.join("pg_ctl").display(),
        dir = dir.display(),
    );
    Command::new("setsid")
        .args(["sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(|_| ())
        .map_err(|e| format!("setsid: {e}"))
}

/// Runs `command`; an error names `what` and carries its output.
fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
