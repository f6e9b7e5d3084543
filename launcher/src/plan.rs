//! From a [`Site`] to the programs [`crate::supervise`] runs: which binary or command, in
//! which folder, with which environment, and the shell waiting for every service.
//!
//! The environment of a child: the launcher's own, then each `env` key of the file that the
//! launcher's environment does not set, then `PORT` (and the shell's `ADMIN_PORT`) from the
//! file, always. A command word `${NAME:-default}` is the variable `NAME`, or `default`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::site::{Service, ShellEntry, Site, Start};
use crate::{Program, Restarter};

/// How to run a site.
#[derive(Debug, Clone)]
pub struct Options {
    /// The workspace root: where cargo and the workspace binaries run.
    pub root: PathBuf,
    /// Where the workspace binaries are (`target/debug`).
    pub bin_dir: PathBuf,
    /// Run only these (names from the file, `shell` for the shell); all when empty.
    pub only: Vec<String>,
    /// The dev loop: services restartable, the shell in `--dev`.
    pub watch: bool,
}

/// The programs to run, in start order, and a [`Restarter`] per service when watching.
#[derive(Debug)]
pub struct Plan {
    /// The programs.
    pub programs: Vec<Program>,
    /// The services' restarters (dev loop), by name.
    pub restarters: Vec<(String, Restarter)>,
    /// One line per program, for the launcher's first message (`pricing :1313`).
    pub ports: Vec<String>,
}

/// The names in `only` that the site does not have (with the names it has, for a message).
pub fn unknown_names(site: &Site, only: &[String]) -> Result<(), String> {
    match only
        .iter()
        .find(|name| *name != "shell" && site.service(name).is_none())
    {
        Some(name) => Err(format!(
            "--only: no service called \"{name}\" in {} (it has: {})",
            site.file.display(),
            site.names()
        )),
        None => Ok(()),
    }
}

/// Whether `name` is chosen by `only`.
fn chosen(only: &[String], name: &str) -> bool {
    only.is_empty() || only.iter().any(|o| o == name)
}

/// The services chosen.
pub fn services<'a>(site: &'a Site, only: &[String]) -> Vec<&'a Service> {
    site.services
        .iter()
        .filter(|s| chosen(only, &s.name))
        .collect()
}

/// The workspace packages to build: the chosen services' and the shell's.
pub fn packages(site: &Site, only: &[String]) -> Vec<String> {
    let mut packages: Vec<String> = services(site, only)
        .iter()
        .filter_map(|s| match &s.start {
            Start::Package(p) => Some(p.clone()),
            Start::Command(_) => None,
        })
        .collect();
    if let Some(shell) = site.shell.as_ref().filter(|_| chosen(only, "shell")) {
        packages.push(shell.package.clone());
    }
    packages
}

/// The programs for `site`.
pub fn plan(site: &Site, options: &Options) -> Plan {
    let mut plan = Plan {
        programs: Vec::new(),
        restarters: Vec::new(),
        ports: Vec::new(),
    };
    let services = services(site, &options.only);
    for service in &services {
        let program = service_program(service, options);
        let program = if options.watch {
            let (program, restarter) = program.restartable();
            plan.restarters.push((service.name.clone(), restarter));
            program
        } else {
            program
        };
        plan.programs.push(program);
        let language = match service.start {
            Start::Package(_) => "",
            Start::Command(_) => " (command)",
        };
        plan.ports
            .push(format!("{} :{}{language}", service.name, service.port));
    }
    if let Some(shell) = site
        .shell
        .as_ref()
        .filter(|_| chosen(&options.only, "shell"))
    {
        let program = services.iter().fold(shell_program(shell, options), |p, s| {
            p.wait_for(SocketAddr::from(([127, 0, 0, 1], s.port)))
        });
        plan.programs.push(program);
        plan.ports.push(format!(
            "shell :{} (metrics :{})",
            shell.port, shell.admin_port
        ));
    }
    plan
}

fn service_program(service: &Service, options: &Options) -> Program {
    let program = match &service.start {
        Start::Package(package) => {
            Program::new(&service.name, options.bin_dir.join(package)).current_dir(&options.root)
        }
        Start::Command(words) => {
            let mut words = words.iter().map(|w| expand(w));
            let first = words.next().unwrap_or_default();
            words
                .fold(Program::new(&service.name, first), Program::arg)
                .current_dir(&service.dir)
        }
    };
    with_env(program, &service.env).env("PORT", service.port.to_string())
}

fn shell_program(shell: &ShellEntry, options: &Options) -> Program {
    let program = Program::new("shell", options.bin_dir.join(&shell.package))
        .current_dir(&options.root)
        .env("PORT", shell.port.to_string())
        .env("ADMIN_PORT", shell.admin_port.to_string());
    let program = match &shell.config {
        Some(config) if std::env::var_os("SHELL_CONFIG").is_none() => {
            program.env("SHELL_CONFIG", config)
        }
        _ => program,
    };
    let program = if options.watch {
        program.env("MOSAIC_DEV", "true")
    } else {
        program
    };
    with_env(program, &shell.env)
}

/// Adds the file's variables that the launcher's own environment does not set.
fn with_env(program: Program, env: &std::collections::BTreeMap<String, String>) -> Program {
    env.iter()
        .filter(|(key, _)| std::env::var_os(key).is_none())
        .fold(program, |p, (key, value)| p.env(key, value))
}

/// `${NAME:-default}`: the variable, or the default when it is unset or empty; any other
/// word as it is.
pub fn expand(word: &str) -> String {
    let Some(inner) = word.strip_prefix("${").and_then(|w| w.strip_suffix('}')) else {
        return word.to_owned();
    };
    let (name, default) = inner.split_once(":-").unwrap_or((inner, ""));
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => default.to_owned(),
    }
}

/// The workspace root of this launcher (the folder above its crate).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// cargo's target folder (`CARGO_TARGET_DIR`, or `target/` under the root).
pub fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expand_reads_the_variable_or_its_default() {
        assert_eq!(expand("python3"), "python3");
        assert_eq!(expand("${LAUNCHER_TEST_UNSET_VAR:-python3}"), "python3");
        assert_eq!(expand("${PATH:-x}"), std::env::var("PATH").unwrap());
    }

    #[test]
    fn the_default_site_runs_the_shell_last_waiting_for_the_three() {
        let root = workspace_root();
        let site = Site::read(&root.join(crate::site::DEFAULT_FILE)).unwrap();
        let options = Options {
            bin_dir: root.join("target/debug"),
            root,
            only: Vec::new(),
            watch: false,
        };
        let plan = plan(&site, &options);
        let names: Vec<&str> = plan.programs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["pricing", "dashboard", "accounts", "shell"]);
        let shell = &plan.programs[3];
        assert_eq!(shell.wait_for.len(), 3);
        assert!(shell.envs.iter().any(|(k, v)| k == "PORT" && v == "8000"));
        assert!(!shell.envs.iter().any(|(k, _)| k == "MOSAIC_DEV"));
        assert!(plan.restarters.is_empty());
        assert_eq!(
            packages(&site, &[]),
            ["svc-pricing", "svc-dashboard", "svc-accounts", "shell"]
        );
        assert!(unknown_names(&site, &["nope".to_owned()]).is_err());
        assert!(unknown_names(&site, &["shell".to_owned()]).is_ok());
    }
}
