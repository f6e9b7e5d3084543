//! `launcher` (`cargo run -p launcher`): runs the site of a launcher file (`launcher.toml`
//! at the workspace root by default): builds its Rust teams with cargo, starts every service
//! on its port with prefixed, coloured logs, the shell once they listen, and stops them all
//! on Ctrl-C or SIGTERM. A child that dies is reported; the others keep running.
//! `--watch` adds the dev loop ([`launcher::devloop`]); `new-team NAME` the scaffold
//! ([`launcher::scaffold`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use launcher::devloop::DevLoop;
use launcher::plan::{self, Options};
use launcher::site::{Site, DEFAULT_FILE};
use launcher::{supervise, Style};
use tokio::signal::unix::{signal, SignalKind};

/// The Python team's launcher file (`--with-python`), from the workspace root.
const PYTHON_FILE: &str = "examples/python/launcher.toml";

/// Runs the site described by a launcher file from source, in one terminal.
///
/// By default `launcher.toml` at the workspace root: svc-pricing, svc-dashboard, svc-accounts
/// and the shell, at http://127.0.0.1:8000 once they are up. Each service also reads its
/// usual settings from the environment (CONTEXT_SECRET, RUST_LOG, ACCOUNTS_DATABASE...), which
/// win over the file's `env`. launcher/README.md describes the file and the settings.
#[derive(Debug, Parser)]
#[command(name = "launcher", version, args_conflicts_with_subcommands = true)]
struct Args {
    /// The launcher file: services, how each starts, ports, settings, the shell
    /// [default: launcher.toml at the workspace root]
    #[arg(long, env = "LAUNCHER_FILE", value_name = "PATH")]
    file: Option<PathBuf>,
    /// Build and run the release binaries instead of the debug ones
    #[arg(long)]
    release: bool,
    /// Do not run `cargo build` first (use the binaries already in the target folder)
    #[arg(long)]
    no_build: bool,
    /// Run only these (comma-separated names from the file, and `shell`)
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Seconds a child may take to stop after SIGTERM before it is killed
    #[arg(long, default_value_t = 15)]
    grace_secs: u64,
    /// Also run the Python team's example, svc-changelog: the same as
    /// `--file examples/python/launcher.toml` (needs python3, or the interpreter in PYTHON)
    #[arg(long, conflicts_with = "file")]
    with_python: bool,
    /// The dev loop: when a team's files change, rebuild (Rust) and restart that team
    /// alone, and tell open pages to fetch its fragments again (starts the shell in --dev)
    #[arg(long)]
    watch: bool,
    /// What to do instead of running the site.
    #[command(subcommand)]
    command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Creates a new Rust team from examples/minimal-rust and adds it everywhere it must be
    /// (workspace, launcher.toml, the shell's configuration, images, compose)
    NewTeam(launcher::scaffold::NewTeam),
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let root = plan::workspace_root();
    if let Some(Command::NewTeam(new_team)) = &args.command {
        return match launcher::scaffold::run(&root, new_team) {
            Ok(report) => {
                eprintln!("{report}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("launcher new-team: {e}");
                ExitCode::from(2)
            }
        };
    }
    let file = match (&args.file, args.with_python) {
        (Some(file), _) => file.clone(),
        (None, true) => root.join(PYTHON_FILE),
        (None, false) => root.join(DEFAULT_FILE),
    };
    let site = match Site::read(&file).and_then(|site| {
        plan::unknown_names(&site, &args.only).map_err(|problem| launcher::site::SiteError {
            file: file.display().to_string(),
            field: "--only".to_owned(),
            problem,
        })?;
        Ok(site)
    }) {
        Ok(site) => site,
        Err(e) => {
            eprintln!("launcher: {e}");
            return ExitCode::from(2);
        }
    };
    if !args.no_build && !build(&root, &plan::packages(&site, &args.only), args.release) {
        return ExitCode::FAILURE;
    }
    run(site, root, &args).await
}

/// `cargo build -p …` for the packages; false (with a message) when it fails.
fn build(root: &std::path::Path, packages: &[String], release: bool) -> bool {
    if packages.is_empty() {
        return true;
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = std::process::Command::new(cargo);
    build.current_dir(root).arg("build");
    if release {
        build.arg("--release");
    }
    for package in packages {
        build.args(["-p", package]);
    }
    match build.status() {
        Ok(status) if status.success() => true,
        Ok(status) => {
            eprintln!("launcher: cargo build failed ({status})");
            false
        }
        Err(e) => {
            eprintln!("launcher: cannot run cargo: {e}");
            false
        }
    }
}

/// Runs the site until Ctrl-C or SIGTERM, with the dev loop when `--watch`.
async fn run(site: Site, root: PathBuf, args: &Args) -> ExitCode {
    let options = Options {
        bin_dir: plan::target_dir(&root).join(if args.release { "release" } else { "debug" }),
        root: root.clone(),
        only: args.only.clone(),
        watch: args.watch,
    };
    let plan = plan::plan(&site, &options);
    let site_url = site.shell.as_ref().map_or(String::new(), |s| {
        format!(" (site: http://127.0.0.1:{})", s.port)
    });
    eprintln!(
        "launcher: starting {}{site_url}; Ctrl-C stops them all",
        plan.ports.join(", ")
    );
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            eprintln!("launcher: cannot listen for SIGTERM: {e}");
            return ExitCode::FAILURE;
        }
    };
    let dev = args.watch.then(|| DevLoop {
        shell_admin_port: site
            .shell
            .as_ref()
            .filter(|_| args.only.is_empty() || args.only.iter().any(|o| o == "shell"))
            .map(|s| s.admin_port),
        packages: plan::packages(&site, &args.only),
        site,
        root,
        release: args.release,
        restarters: plan.restarters,
    });
    let stop = async move {
        let watching = async {
            match dev {
                Some(dev) => match launcher::devloop::run(dev).await {
                    Ok(()) => std::future::pending().await,
                    Err(e) => eprintln!("launcher: {e}; stopping"),
                },
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
            () = watching => {}
        }
    };
    let summary = supervise(
        plan.programs,
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
