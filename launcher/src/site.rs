//! The launcher's file (`launcher.toml` at the workspace root by default): which services
//! run, how each is started, on which port, with which settings, and the shell in front of
//! them. A new team adds one `[[services]]` entry; `docs/NEW-TEAM.md` and
//! `launcher/README.md` describe every key.
//!
//! [`Site::read`] parses and checks a file: an unknown key, a missing one, a bad value or
//! two services on one port is a [`SiteError`] that names the file and the field
//! (`services[2].command`). Relative paths are relative to the file's folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The file the launcher reads when `--file` is not given (relative to the workspace root).
pub const DEFAULT_FILE: &str = "launcher.toml";

/// A file that cannot be used: which file, which field, what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {field}: {problem}")]
pub struct SiteError {
    /// The file.
    pub file: String,
    /// The field (`services[1].port`), or `file` for a problem with the whole file.
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

/// How a service is started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// A binary of the workspace, built with `cargo build -p PACKAGE` and run from the
    /// target folder.
    Package(String),
    /// A command (any language): the program and its arguments, run in [`Service::dir`].
    Command(Vec<String>),
}

/// One service the launcher runs.
#[derive(Debug, Clone)]
pub struct Service {
    /// The name on its log lines and in `--only`; the shell's name for it.
    pub name: String,
    /// How it starts.
    pub start: Start,
    /// Its port (given to it as `PORT`).
    pub port: u16,
    /// Its folder: where a command runs, and what `--watch` watches (absolute).
    pub dir: PathBuf,
    /// Folders or files `--watch` watches for it (absolute; `[dir]` unless given).
    pub watch: Vec<PathBuf>,
    /// Environment variables it gets unless the launcher's own environment sets them.
    pub env: BTreeMap<String, String>,
}

/// The shell in front of the services.
#[derive(Debug, Clone)]
pub struct ShellEntry {
    /// The workspace package of the shell (`shell`).
    pub package: String,
    /// Its public port (`PORT`).
    pub port: u16,
    /// Its admin port (`ADMIN_PORT`: `/metrics`, and in the dev loop the restart notices).
    pub admin_port: u16,
    /// Its configuration file (`SHELL_CONFIG`), absolute; the shell's built-in site if none.
    pub config: Option<PathBuf>,
    /// Environment variables it gets unless the launcher's own environment sets them.
    pub env: BTreeMap<String, String>,
}

/// A checked launcher file.
#[derive(Debug, Clone)]
pub struct Site {
    /// The file it was read from.
    pub file: PathBuf,
    /// The services, in start order.
    pub services: Vec<Service>,
    /// The shell, if the file has one.
    pub shell: Option<ShellEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    #[serde(default)]
    services: Vec<RawService>,
    shell: Option<RawShell>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    name: String,
    port: u16,
    package: Option<String>,
    command: Option<Vec<String>>,
    dir: Option<PathBuf>,
    watch: Option<Vec<PathBuf>>,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShell {
    #[serde(default = "default_shell_package")]
    package: String,
    #[serde(default = "default_shell_port")]
    port: u16,
    #[serde(default = "default_admin_port")]
    admin_port: u16,
    config: Option<PathBuf>,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

fn default_shell_package() -> String {
    "shell".to_owned()
}

fn default_shell_port() -> u16 {
    8000
}

fn default_admin_port() -> u16 {
    9000
}

impl Site {
    /// Reads and checks `file`.
    pub fn read(file: &Path) -> Result<Site, SiteError> {
        let text = std::fs::read_to_string(file).map_err(|e| SiteError {
            file: file.display().to_string(),
            field: "file".to_owned(),
            problem: format!("cannot be read: {e}"),
        })?;
        Site::parse(&text, file)
    }

    /// Parses and checks the text of `file` (paths are resolved from the file's folder).
    pub fn parse(text: &str, file: &Path) -> Result<Site, SiteError> {
        let fail = |field: String, problem: String| SiteError {
            file: file.display().to_string(),
            field,
            problem,
        };
        let raw: RawSite = toml::from_str(text).map_err(|e| {
            // toml names the key in its message; the span gives the line.
            let problem = e.message().to_owned();
            let line = e
                .span()
                .map(|span| text[..span.start].matches('\n').count() + 1);
            let field = match line {
                Some(line) => format!("line {line}"),
                None => "file".to_owned(),
            };
            fail(field, problem)
        })?;
        let base = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut services = Vec::with_capacity(raw.services.len());
        for (i, service) in raw.services.into_iter().enumerate() {
            let checked = check_service(service, base)
                .map_err(|(field, problem)| fail(format!("services[{i}].{field}"), problem))?;
            services.push(checked);
        }
        let shell = raw.shell.map(|shell| ShellEntry {
            package: shell.package,
            port: shell.port,
            admin_port: shell.admin_port,
            config: shell.config.map(|c| base.join(c)),
            env: shell.env,
        });
        let site = Site {
            file: file.to_path_buf(),
            services,
            shell,
        };
        site.check_unique().map_err(|(f, p)| fail(f, p))?;
        Ok(site)
    }

    /// No two services share a name or a port, and none takes the shell's ports.
    fn check_unique(&self) -> Result<(), (String, String)> {
        let mut ports: Vec<(u16, String)> = Vec::new();
        if let Some(shell) = &self.shell {
            check_port(shell.port).map_err(|p| ("shell.port".to_owned(), p))?;
            if shell.admin_port == shell.port {
                return Err((
                    "shell.admin_port".to_owned(),
                    "must differ from shell.port".to_owned(),
                ));
            }
            ports.push((shell.port, "shell.port".to_owned()));
            ports.push((shell.admin_port, "shell.admin_port".to_owned()));
        }
        for (i, service) in self.services.iter().enumerate() {
            if let Some(j) = self.services[..i]
                .iter()
                .position(|s| s.name == service.name)
            {
                return Err((
                    format!("services[{i}].name"),
                    format!("\"{}\" is already the name of services[{j}]", service.name),
                ));
            }
            if let Some((_, other)) = ports.iter().find(|(p, _)| *p == service.port) {
                return Err((
                    format!("services[{i}].port"),
                    format!("{} is already the port of {other}", service.port),
                ));
            }
            ports.push((service.port, format!("services[{i}]")));
        }
        Ok(())
    }

    /// The service called `name`.
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    /// The names of the services, comma separated (for messages).
    pub fn names(&self) -> String {
        let mut names: Vec<&str> = self.services.iter().map(|s| s.name.as_str()).collect();
        if self.shell.is_some() {
            names.push("shell");
        }
        names.join(", ")
    }
}

/// Checks one `[[services]]` entry; an error is the field (within the entry) and why.
fn check_service(raw: RawService, base: &Path) -> Result<Service, (String, String)> {
    check_name(&raw.name).map_err(|p| ("name".to_owned(), p))?;
    check_port(raw.port).map_err(|p| ("port".to_owned(), p))?;
    let start = match (raw.package, raw.command) {
        (Some(package), None) if !package.trim().is_empty() => Start::Package(package),
        (Some(_), None) => return Err(("package".to_owned(), "must not be empty".to_owned())),
        (None, Some(command)) if command.first().is_some_and(|p| !p.trim().is_empty()) => {
            Start::Command(command)
        }
        (None, Some(_)) => {
            return Err((
                "command".to_owned(),
                "must name a program first, e.g. [\"python3\", \"app.py\"]".to_owned(),
            ))
        }
        (Some(_), Some(_)) => {
            return Err((
                "command".to_owned(),
                "give either `package` (a Rust crate of the workspace) or `command`, not both"
                    .to_owned(),
            ))
        }
        (None, None) => {
            return Err((
                "package".to_owned(),
                "missing: give `package` (a Rust crate of the workspace) or `command` \
                 (a program and its arguments)"
                    .to_owned(),
            ))
        }
    };
    let dir = match (&raw.dir, &start) {
        (Some(dir), _) => base.join(dir),
        // A crate's folder is named after its package at the root (svc-pricing/).
        (None, Start::Package(package)) => base.join(package),
        (None, Start::Command(_)) => base.to_path_buf(),
    };
    let watch = match raw.watch {
        Some(paths) => paths.iter().map(|p| base.join(p)).collect(),
        None => vec![dir.clone()],
    };
    if let Some(key) = raw.env.keys().find(|k| k.as_str() == "PORT") {
        return Err((
            format!("env.{key}"),
            "is set from `port`; remove it here".to_owned(),
        ));
    }
    Ok(Service {
        name: raw.name,
        start,
        port: raw.port,
        dir,
        watch,
        env: raw.env,
    })
}

/// A service name: 1 to 40 of `a-z`, `0-9`, `-`, starting with a letter (the shell's rule
/// for a manifest's name).
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = (1..=40).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if ok && name != "shell" {
        Ok(())
    } else if name == "shell" {
        Err("\"shell\" is the shell's name; pick another".to_owned())
    } else {
        Err(format!(
            "\"{name}\" is not a service name: 1 to 40 characters of a-z, 0-9 and '-', \
             starting with a letter and not ending with '-'"
        ))
    }
}

fn check_port(port: u16) -> Result<(), String> {
    if port == 0 {
        Err("must be a port from 1 to 65535 (0 would pick one the shell cannot know)".to_owned())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Site, SiteError> {
        Site::parse(text, Path::new("/site/launcher.toml"))
    }

    fn field_of(text: &str) -> String {
        let err = parse(text).unwrap_err();
        assert!(
            err.to_string().starts_with("/site/launcher.toml: "),
            "{err}"
        );
        err.field
    }

    #[test]
    fn the_committed_file_runs_the_four_services_as_before() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let site = Site::read(&root.join(DEFAULT_FILE)).unwrap();
        let names: Vec<(&str, u16)> = site
            .services
            .iter()
            .map(|s| (s.name.as_str(), s.port))
            .collect();
        assert_eq!(
            names,
            [("pricing", 1313), ("dashboard", 3000), ("accounts", 4000)]
        );
        let shell = site.shell.as_ref().unwrap();
        assert_eq!((shell.port, shell.admin_port), (8000, 9000));
        assert!(shell.config.is_none());
        let accounts = site.service("accounts").unwrap();
        assert_eq!(accounts.env["TRUSTED_PROXIES"], "127.0.0.1");
        assert_eq!(accounts.start, Start::Package("svc-accounts".to_owned()));
    }

    #[test]
    fn the_python_file_runs_the_changelog_by_command() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let site = Site::read(&root.join("examples/python/launcher.toml")).unwrap();
        let changelog = site.service("changelog").unwrap();
        assert!(matches!(&changelog.start, Start::Command(c) if c[1] == "changelog.py"));
        assert!(changelog.dir.ends_with("examples/python"));
        assert!(site.shell.unwrap().config.unwrap().ends_with("shell.toml"));
    }

    #[test]
    fn a_command_service_runs_in_the_files_folder_and_watches_it() {
        let site = parse(
            "[[services]]\nname = \"blog\"\nport = 5001\ncommand = [\"node\", \"blog.js\"]\n",
        )
        .unwrap();
        assert_eq!(site.services[0].dir, Path::new("/site"));
        assert_eq!(site.services[0].watch, [PathBuf::from("/site")]);
        assert!(site.shell.is_none());
    }

    #[test]
    fn a_missing_start_names_the_package_field() {
        assert_eq!(
            field_of("[[services]]\nname = \"blog\"\nport = 5001\n"),
            "services[0].package"
        );
    }

    #[test]
    fn both_package_and_command_name_the_command_field() {
        let text = "[[services]]\nname = \"a\"\nport = 1\npackage = \"a\"\ncommand = [\"x\"]\n";
        assert_eq!(field_of(text), "services[0].command");
        let empty = "[[services]]\nname = \"a\"\nport = 1\ncommand = []\n";
        assert_eq!(field_of(empty), "services[0].command");
    }

    #[test]
    fn a_bad_name_or_port_names_its_field() {
        let bad_name = "[[services]]\nname = \"Blog!\"\nport = 1\npackage = \"a\"\n";
        assert_eq!(field_of(bad_name), "services[0].name");
        let zero = "[[services]]\nname = \"a\"\nport = 0\npackage = \"a\"\n";
        assert_eq!(field_of(zero), "services[0].port");
        let shell = "[[services]]\nname = \"shell\"\nport = 1\npackage = \"a\"\n";
        assert_eq!(field_of(shell), "services[0].name");
    }

    #[test]
    fn duplicates_name_the_later_entry() {
        let two = "[[services]]\nname = \"a\"\nport = 1\npackage = \"a\"\n\
                   [[services]]\nname = \"a\"\nport = 2\npackage = \"b\"\n";
        assert_eq!(field_of(two), "services[1].name");
        let port =
            "[shell]\nport = 8000\n[[services]]\nname = \"a\"\nport = 8000\npackage = \"a\"\n";
        let err = parse(port).unwrap_err();
        assert_eq!(err.field, "services[0].port");
        assert!(err.problem.contains("shell.port"), "{err}");
    }

    #[test]
    fn an_unknown_key_or_a_wrong_type_is_named_with_its_line() {
        let err = parse("[[services]]\nname = \"a\"\nprot = 1\n").unwrap_err();
        assert!(err.problem.contains("prot"), "{err}");
        assert_eq!(err.field, "line 3");
        let err = parse("[[services]]\nname = \"a\"\nport = \"high\"\n").unwrap_err();
        assert!(
            err.problem.contains("u16") || err.problem.contains("integer"),
            "{err}"
        );
        assert_eq!(err.field, "line 3");
        let err = parse("[[services]]\nport = 1\npackage = \"a\"\n").unwrap_err();
        assert!(err.problem.contains("name"), "{err}");
    }

    #[test]
    fn port_is_set_from_the_port_key_only() {
        let text =
            "[[services]]\nname = \"a\"\nport = 1\npackage = \"a\"\nenv = { PORT = \"2\" }\n";
        assert_eq!(field_of(text), "services[0].env.PORT");
    }

    #[test]
    fn a_missing_file_says_so() {
        let err = Site::read(Path::new("/nonexistent/launcher.toml")).unwrap_err();
        assert_eq!(err.field, "file");
        assert!(err.to_string().contains("cannot be read"), "{err}");
    }
}
