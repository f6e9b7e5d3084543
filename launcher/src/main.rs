//! `launcher` (`cargo run -p launcher`): builds the four binaries with cargo, runs them on
//! their default ports from the workspace root with prefixed, coloured logs, and stops them
//! all on Ctrl-C or SIGTERM. A child that dies is reported; the others keep running.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use launcher::{supervise, Program, Style};
use tokio::signal::unix::{signal, SignalKind};

/// The services, in start order: tag, package (= binary name), default port.
const SERVICES: [(&str, &str, u16); 4] = [
    ("pricing", "svc-pricing", 1313),
    ("dashboard", "svc-dashboard", 3000),
    ("accounts", "svc-accounts", 4000),
    ("shell", "shell", 8000),
];

/// Runs svc-pricing, svc-dashboard, svc-accounts and the shell from source, in one terminal.
///
/// The site is at http://127.0.0.1:8000 once they are up. Each service reads its usual
/// settings from the environment (CONTEXT_SECRET, RUST_LOG, ACCOUNTS_DATABASE...); the
/// accounts database defaults to ./data/accounts.db in the workspace root, and svc-accounts
/// trusts the shell on 127.0.0.1 as its proxy (TRUSTED_PROXIES) unless told otherwise.
#[derive(Debug, Parser)]
#[command(name = "launcher", version)]
struct Args {
    /// Build and run the release binaries instead of the debug ones
    #[arg(long)]
    release: bool,
    /// Do not run `cargo build` first (use the binaries already in the target folder)
    #[arg(long)]
    no_build: bool,
    /// Run only these (comma-separated: pricing, dashboard, accounts, shell)
    #[arg(long, value_delimiter = ',', value_parser = ["pricing", "dashboard", "accounts", "shell"])]
    only: Vec<String>,
    /// Seconds a child may take to stop after SIGTERM before it is killed
    #[arg(long, default_value_t = 15)]
    grace_secs: u64,
    /// Also run the Python team's example, svc-changelog (examples/python/changelog.py on
    /// port 5000; needs python3, or the interpreter in PYTHON), and start the shell with
    /// examples/python/shell.toml (unless SHELL_CONFIG is set), which adds its section
    /// /whats-new and its teaser on the dashboard
    #[arg(long)]
    with_python: bool,
}

/// The Python team's example: tag, script (from the workspace root), port, shell config.
const PYTHON_TEAM: (&str, &str, u16, &str) = (
    "changelog",
    "examples/python/changelog.py",
    5000,
    "examples/python/shell.toml",
);

fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let root = workspace_root();
    let chosen: Vec<_> = SERVICES
        .iter()
        .filter(|(tag, ..)| args.only.is_empty() || args.only.iter().any(|o| o == tag))
        .collect();

    if !args.no_build {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = std::process::Command::new(cargo);
        build.current_dir(&root).arg("build");
        if args.release {
            build.arg("--release");
        }
        for (_, package, _) in &chosen {
            build.args(["-p", package]);
        }
        match build.status() {
            Ok(status) if status.success() => {}
            Ok(status) => {
                eprintln!("launcher: cargo build failed ({status})");
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("launcher: cannot run cargo: {e}");
                return ExitCode::FAILURE;
            }
        }
    }

    let bin_dir = target_dir(&root).join(if args.release { "release" } else { "debug" });
    let mut service_addrs: Vec<SocketAddr> = chosen
        .iter()
        .filter(|(tag, ..)| *tag != "shell")
        .map(|(.., port)| SocketAddr::from(([127, 0, 0, 1], *port)))
        .collect();
    let (python_tag, python_script, python_port, python_config) = PYTHON_TEAM;
    if args.with_python {
        service_addrs.push(SocketAddr::from(([127, 0, 0, 1], python_port)));
    }
    let mut programs: Vec<Program> = chosen
        .iter()
        .map(|(tag, package, _)| {
            let program = Program::new(*tag, bin_dir.join(package)).current_dir(&root);
            let program = if *tag == "accounts" && std::env::var_os("TRUSTED_PROXIES").is_none() {
                // The shell runs on loopback: believe its X-Forwarded-For, so the sign-in
                // limits count real clients rather than one shell.
                program.env("TRUSTED_PROXIES", "127.0.0.1")
            } else {
                program
            };
            if *tag == "shell" {
                let program = if args.with_python && std::env::var_os("SHELL_CONFIG").is_none() {
                    program.env("SHELL_CONFIG", root.join(python_config))
                } else {
                    program
                };
                // The shell reads the manifests at start; it tolerates missing services,
                // but starting it once they listen gives a complete first page.
                service_addrs
                    .iter()
                    .fold(program, |program, addr| program.wait_for(*addr))
            } else {
                program
            }
        })
        .collect();
    let mut ports: Vec<String> = chosen
        .iter()
        .map(|(tag, _, port)| match *tag {
            // The shell's metrics are on its admin port (ADMIN_PORT, default 9000).
            "shell" => format!(
                "{tag} :{port} (metrics :{})",
                std::env::var("ADMIN_PORT").unwrap_or_else(|_| "9000".to_owned())
            ),
            _ => format!("{tag} :{port}"),
        })
        .collect();
    if args.with_python {
        let python = std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
        programs.insert(
            0,
            Program::new(python_tag, python)
                .arg(root.join(python_script))
                .env("PORT", python_port.to_string())
                .current_dir(&root),
        );
        ports.insert(0, format!("{python_tag} :{python_port} (Python)"));
    }
    eprintln!(
        "launcher: starting {} (site: http://127.0.0.1:8000); Ctrl-C stops them all",
        ports.join(", ")
    );

    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            eprintln!("launcher: cannot listen for SIGTERM: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stop = async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    let summary = supervise(
        programs,
        Style::detect(),
        tokio::io::stdout(),
        stop,
        Duration::from_secs(args.grace_secs),
    )
    .await;
    if summary.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
