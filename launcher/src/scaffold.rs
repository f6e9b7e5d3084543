//! `launcher new-team NAME` (`cargo run -p launcher -- new-team reviews`): a new Rust team,
//! made from `examples/minimal-rust` and wired in everywhere a team must be:
//!
//! - the crate `svc-NAME/` (the example with its names changed: service `NAME`, binary
//!   `svc-NAME`, its port, its stylesheet, its contract test);
//! - the workspace (`Cargo.toml` members);
//! - the launcher's file (`launcher.toml`, a `[[services]]` entry) and the shell's
//!   configuration it names (a `[[services]]` entry and a section `/NAME` showing the
//!   team's fragment). When `launcher.toml` names none, `shell/site.toml` is made from
//!   `shell/shell.example.toml` (the same site as the shell's built-in one) and named;
//! - the images: `Dockerfile` (builder and a stage), `docker/Dockerfile.offline` (a stage),
//!   `.dockerignore`, `scripts/build-images`, and `docker-compose.yml` (a service, the
//!   shell's `SHELL_SERVICES` and `depends_on`).
//!
//! Every change is worked out before anything is written: a bad name, a team that exists
//! already, or a file whose shape the scaffold does not recognise stops it with a message
//! and nothing changed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::site::{check_name, Site, DEFAULT_FILE};

/// The arguments of `new-team`.
#[derive(Debug, clap::Args)]
pub struct NewTeam {
    /// The team's service name (a-z, 0-9, '-', starting with a letter); the crate and its
    /// binary are `svc-NAME`
    pub name: String,
    /// Its port [default: the first free one from 5100 in launcher.toml]
    #[arg(long)]
    pub port: Option<u16>,
}

/// Why the scaffold did nothing.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ScaffoldError(String);

fn fail<T>(message: impl Into<String>) -> Result<T, ScaffoldError> {
    Err(ScaffoldError(message.into()))
}

/// The first port tried for a new team.
const FIRST_PORT: u16 = 5100;

/// One team's names.
#[derive(Debug)]
struct Names {
    /// `reviews`: the service, its section id and path.
    service: String,
    /// `svc-reviews`: the crate, its folder and its binary.
    package: String,
    /// `svc_reviews`.
    ident: String,
    /// `Reviews`: the type that implements the kit's `Team`.
    type_name: String,
    port: u16,
}

/// The files to write: new or changed, with their whole text.
type Writes = Vec<(PathBuf, String)>;

/// Creates the team under `root`; the report lists what was written and what comes next.
pub fn run(root: &Path, team: &NewTeam) -> Result<String, ScaffoldError> {
    check_name(&team.name).map_err(|e| ScaffoldError(format!("NAME: {e}")))?;
    let launcher_file = root.join(DEFAULT_FILE);
    let site = Site::read(&launcher_file).map_err(|e| ScaffoldError(e.to_string()))?;
    let names = names(&team.name, team.port, &site)?;
    if root.join(&names.package).exists() {
        return fail(format!(
            "{} exists already: pick another name",
            root.join(&names.package).display()
        ));
    }
    let mut writes = crate_files(root, &names)?;
    writes.push(workspace(root, &names)?);
    writes.extend(launcher_and_shell(root, &site, &names)?);
    writes.extend(images(root, &names)?);
    for (path, text) in &writes {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| ScaffoldError(format!("{}: {e}", dir.display())))?;
        }
        std::fs::write(path, text)
            .map_err(|e| ScaffoldError(format!("{}: {e}", path.display())))?;
    }
    Ok(report(root, &names, &writes))
}

/// The team's names and port; refuses a name or port the site already has.
fn names(name: &str, port: Option<u16>, site: &Site) -> Result<Names, ScaffoldError> {
    if site.service(name).is_some() {
        return fail(format!(
            "a service called \"{name}\" is already in {}",
            site.file.display()
        ));
    }
    let mut taken: Vec<u16> = site.services.iter().map(|s| s.port).collect();
    if let Some(shell) = &site.shell {
        taken.extend([shell.port, shell.admin_port]);
    }
    // The examples' ports (the Python team, minimal-rust) stay free for them.
    taken.extend([5000, 5050]);
    let port = match port {
        Some(0) => return fail("--port: must be from 1 to 65535"),
        Some(p) if taken.contains(&p) => {
            return fail(format!("--port: {p} is taken in {}", site.file.display()))
        }
        Some(p) => p,
        None => (FIRST_PORT..u16::MAX)
            .find(|p| !taken.contains(p))
            .unwrap_or(FIRST_PORT),
    };
    let package = if name.starts_with("svc-") {
        name.to_owned()
    } else {
        format!("svc-{name}")
    };
    let type_name = name
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or(String::new(), |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect();
    Ok(Names {
        service: name.to_owned(),
        ident: package.replace('-', "_"),
        package,
        type_name,
        port,
    })
}

fn read(path: &Path) -> Result<String, ScaffoldError> {
    std::fs::read_to_string(path).map_err(|e| ScaffoldError(format!("{}: {e}", path.display())))
}

/// The crate: examples/minimal-rust with the team's names.
fn crate_files(root: &Path, n: &Names) -> Result<Writes, ScaffoldError> {
    let example = root.join("examples/minimal-rust");
    let dir = root.join(&n.package);
    let rename = |text: &str| {
        text.replace("minimal-rust", &n.package)
            .replace("minimal_rust", &n.ident)
            .replace("pub struct Hello;", &format!("pub struct {};", n.type_name))
            .replace("for Hello ", &format!("for {} ", n.type_name))
            .replace("::Hello", &format!("::{}", n.type_name))
            .replace("<Hello>", &format!("<{}>", n.type_name))
            .replace("\"hello\"", &format!("\"{}\"", n.service))
            .replace("hello/greeting", &format!("{}/greeting", n.service))
            .replace("class=\"hello\"", &format!("class=\"{}\"", n.service))
            .replace("hello.css", &format!("{}.css", n.service))
            .replace(
                "const PORT: u16 = 5050;",
                &format!("const PORT: u16 = {};", n.port),
            )
    };
    let mut writes = Writes::new();
    for file in [
        "Cargo.toml",
        "src/lib.rs",
        "src/main.rs",
        "tests/contract.rs",
    ] {
        let text = sorted_uses(&rename(&read(&example.join(file))?));
        writes.push((dir.join(file), text));
    }
    let css =
        read(&example.join("assets/hello.css"))?.replace(".hello", &format!(".{}", n.service));
    writes.push((dir.join(format!("assets/{}.css", n.service)), css));
    let lib = &writes[1].1;
    if !lib.contains(&format!("const PORT: u16 = {};", n.port)) || lib.contains("Hello;") {
        return fail(
            "examples/minimal-rust/src/lib.rs has changed shape (its PORT or its type Hello \
             was not found): update launcher/src/scaffold.rs",
        );
    }
    writes.push((dir.join("README.md"), readme(n)));
    Ok(writes)
}

/// The leading `use` lines in the order rustfmt wants (the renamed crate may sort after
/// `shared_ui`, where `minimal_rust` sorted before).
fn sorted_uses(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let count = lines.iter().take_while(|l| l.starts_with("use ")).count();
    let mut uses = lines[..count].to_vec();
    uses.sort_unstable();
    let mut out = uses.join("\n");
    for line in &lines[count..] {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
    }
    out.push('\n');
    out
}

fn readme(n: &Names) -> String {
    format!(
        "# {package}\n\nThe `{service}` team, made by `cargo run -p launcher -- new-team {service}` \
         from\n[examples/minimal-rust](../examples/minimal-rust). One fragment, `greeting`, \
         on port {port}.\n\n```sh\ncargo run -p {package}      # http://127.0.0.1:{port}/ : its preview\n\
         cargo test -p {package}     # its contract test\ncargo run -p launcher -- --watch   \
         # the site with it at /{service}, reloading on save\n```\n\nNext steps: \
         [docs/NEW-TEAM.md](../docs/NEW-TEAM.md).\n",
        package = n.package,
        service = n.service,
        port = n.port,
    )
}

/// `Cargo.toml`: the crate among the workspace members (a one-line `members = [...]`).
fn workspace(root: &Path, n: &Names) -> Result<(PathBuf, String), ScaffoldError> {
    let path = root.join("Cargo.toml");
    let text = read(&path)?;
    let Some(start) = text.find("members = [") else {
        return fail("Cargo.toml: no `members = [` line");
    };
    let Some(end) = text[start..].find(']').map(|i| start + i) else {
        return fail("Cargo.toml: the members list has no `]`");
    };
    if text[start..end].contains(&format!("\"{}\"", n.package)) {
        return fail(format!("{} is already a workspace member", n.package));
    }
    let text = format!("{}, \"{}\"{}", &text[..end], n.package, &text[end..]);
    Ok((path, text))
}

/// `launcher.toml` (the service, and the shell's configuration named) and that
/// configuration (the service and its section).
fn launcher_and_shell(root: &Path, site: &Site, n: &Names) -> Result<Writes, ScaffoldError> {
    let launcher_path = root.join(DEFAULT_FILE);
    let mut launcher = read(&launcher_path)?;
    let entry = format!(
        "# The {service} team (cargo run -p launcher -- new-team {service}).\n\
         [[services]]\nname = \"{service}\"\npackage = \"{package}\"\nport = {port}\n\n",
        service = n.service,
        package = n.package,
        port = n.port
    );
    let Some(shell_at) = block_start(&launcher, "[shell]") else {
        return fail(format!("{DEFAULT_FILE}: no [shell] table"));
    };
    launcher.insert_str(shell_at, &entry);
    let config = match site.shell.as_ref().and_then(|s| s.config.clone()) {
        Some(config) => config,
        None => {
            let Some(at) = launcher
                .find("\n[shell]\n")
                .map(|i| i + "\n[shell]\n".len())
            else {
                return fail(format!("{DEFAULT_FILE}: no `[shell]` line"));
            };
            launcher.insert_str(at, "config = \"shell/site.toml\"\n");
            root.join("shell/site.toml")
        }
    };
    let shell_text = shell_config(root, &config, n)?;
    Ok(vec![(launcher_path, launcher), (config, shell_text)])
}

/// The shell's configuration with the team's service and section added (made from the
/// example's site when the file does not exist yet).
fn shell_config(root: &Path, config: &Path, n: &Names) -> Result<String, ScaffoldError> {
    let shell_text = match std::fs::read_to_string(config) {
        Ok(text) => text,
        Err(_) => site_toml(&read(&root.join("shell/shell.example.toml"))?),
    };
    if shell_text.contains(&format!("name = \"{}\"", n.service)) {
        return fail(format!(
            "{} already has a service called \"{}\"",
            config.display(),
            n.service
        ));
    }
    let mut shell_text = shell_text;
    let _ = write!(
        shell_text,
        "\n# The {service} team (cargo run -p launcher -- new-team {service}).\n\
         [[services]]\nname = \"{service}\"\nurl = \"http://127.0.0.1:{port}\"\n\n\
         [[sections]]\nid = \"{service}\"\ntitle = \"{title}\"\npath = \"/{service}\"\n\
         slots = [{{ service = \"{service}\", fragment = \"greeting\" }}]\n",
        service = n.service,
        port = n.port,
        title = n.type_name,
    );
    Ok(shell_text)
}

/// shell/site.toml's first text: the example's site, with a header saying what it is.
fn site_toml(example: &str) -> String {
    let body: String = example
        .lines()
        .skip_while(|line| line.starts_with('#') || line.is_empty())
        .fold(String::new(), |mut text, line| {
            text.push_str(line);
            text.push('\n');
            text
        });
    format!(
        "# The shell's configuration in the launcher's site (launcher.toml, [shell] config):\n\
         # shell/shell.example.toml's site (every key is described there), plus the teams\n\
         # that `cargo run -p launcher -- new-team NAME` added at the end.\n\n{body}"
    )
}

/// Where the block of `header` starts in `text`, with the comment lines right above it.
fn block_start(text: &str, header: &str) -> Option<usize> {
    let at = text
        .match_indices(header)
        .find(|(i, _)| *i == 0 || text.as_bytes()[i - 1] == b'\n')?
        .0;
    let mut start = at;
    for line in text[..at].lines().rev() {
        if !line.starts_with('#') {
            break;
        }
        start -= line.len() + 1;
    }
    Some(start)
}

/// The images: both Dockerfiles, `.dockerignore`, `scripts/build-images`, compose.
fn images(root: &Path, n: &Names) -> Result<Writes, ScaffoldError> {
    let p = &n.package;
    let stage = |copy: &str| {
        format!(
            "FROM scratch AS {p}\n{copy}\nUSER 10001:10001\nENV BIND=0.0.0.0\nEXPOSE {port}\n\
             HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD [\"/{p}\", \"healthcheck\"]\n\
             ENTRYPOINT [\"/{p}\"]\n\n",
            port = n.port
        )
    };
    let from_source = edit(root, "Dockerfile", |text| {
        let text = replace_once(text, "-p shell \\", &format!("-p shell -p {p} \\"))?;
        let text = replace_once(&text, " shell /out/ \\", &format!(" shell {p} /out/ \\"))?;
        let copy = format!(
            "COPY --from=builder /out/{p} /{p}\nCOPY --from=builder --chown=10001:10001 /out/secrets /secrets"
        );
        insert_before(&text, "FROM scratch AS shell\n", &stage(&copy))
    })?;
    let offline = edit(root, "docker/Dockerfile.offline", |text| {
        let copy = format!(
            "COPY target/x86_64-unknown-linux-gnu/release/{p} /{p}\nCOPY --chown=10001:10001 docker/secrets /secrets"
        );
        insert_before(text, "FROM scratch AS shell\n", &stage(&copy))
    })?;
    let ignore = edit(root, ".dockerignore", |text| {
        let text = insert_before(text, "!launcher/\n", &format!("!{p}/\n"))?;
        let shell_bin = "!target/x86_64-unknown-linux-gnu/release/shell\n";
        insert_before(
            &text,
            shell_bin,
            &format!("!target/x86_64-unknown-linux-gnu/release/{p}\n"),
        )
    })?;
    let build_images = edit(root, "scripts/build-images", |text| {
        replace_once(text, " shell)\n", &format!(" shell {p})\n"))
    })?;
    let compose = edit(root, "docker-compose.yml", |text| compose(text, n))?;
    Ok(vec![from_source, offline, ignore, build_images, compose])
}

/// docker-compose.yml: the service before the shell's, and the shell told about it.
fn compose(text: &str, n: &Names) -> Result<String, ScaffoldError> {
    let p = &n.package;
    let service = format!(
        "  {p}:\n    image: mosaic/{p}:dev\n    build:\n      context: .\n      dockerfile: Dockerfile\n      \
         target: {p}\n    environment:\n      CONTEXT_SECRET_FILE: /secrets/context-secret\n      \
         RUST_LOG: ${{RUST_LOG:-info}}\n    volumes:\n      - secrets:/secrets\n    healthcheck:\n      \
         test: [\"CMD\", \"/{p}\", \"healthcheck\"]\n      interval: 10s\n      timeout: 3s\n      \
         retries: 3\n      start_period: 5s\n    restart: unless-stopped\n    networks: [mosaic]\n\n"
    );
    let text = insert_before(text, "  shell:\n", &service)?;
    let Some(line_start) = text.find("      SHELL_SERVICES: ") else {
        return fail("docker-compose.yml: no `SHELL_SERVICES:` line in the shell's environment");
    };
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let text = format!(
        "{},{}=http://{p}:{}{}",
        &text[..line_end],
        n.service,
        n.port,
        &text[line_end..]
    );
    insert_after(&text, "      - svc-accounts\n", &format!("      - {p}\n"))
}

/// Reads `relative`, changes it with `change`, and names the file in an error.
fn edit(
    root: &Path,
    relative: &str,
    change: impl FnOnce(&str) -> Result<String, ScaffoldError>,
) -> Result<(PathBuf, String), ScaffoldError> {
    let path = root.join(relative);
    let text = read(&path)?;
    let changed = change(&text).map_err(|e| ScaffoldError(format!("{relative}: {e}")))?;
    Ok((path, changed))
}

fn replace_once(text: &str, from: &str, to: &str) -> Result<String, ScaffoldError> {
    match text.find(from) {
        Some(at) => Ok(format!("{}{to}{}", &text[..at], &text[at + from.len()..])),
        None => fail(format!("`{}` not found", from.trim())),
    }
}

fn insert_before(text: &str, anchor: &str, insert: &str) -> Result<String, ScaffoldError> {
    replace_once(text, anchor, &format!("{insert}{anchor}"))
}

fn insert_after(text: &str, anchor: &str, insert: &str) -> Result<String, ScaffoldError> {
    replace_once(text, anchor, &format!("{anchor}{insert}"))
}

fn report(root: &Path, n: &Names, writes: &Writes) -> String {
    let mut out = format!(
        "new-team: {} (service \"{}\", port {}), from examples/minimal-rust. Written:\n",
        n.package, n.service, n.port
    );
    for (path, _) in writes {
        let shown = path.strip_prefix(root).unwrap_or(path);
        let _ = writeln!(out, "  {}", shown.display());
    }
    let _ = write!(
        out,
        "Next:\n  cargo test -p {p}                 # its contract test\n  \
         cargo run -p launcher -- --watch    # the site, with it at http://127.0.0.1:8000/{s}\n  \
         cargo run -p shell -- check http://127.0.0.1:{port}   # the contract, from outside",
        p = n.package,
        s = n.service,
        port = n.port
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_comment_above_a_table_moves_with_it() {
        let text = "a = 1\n\n# the shell\n# more\n[shell]\nport = 1\n";
        let at = block_start(text, "[shell]").unwrap();
        assert_eq!(&text[at..], "# the shell\n# more\n[shell]\nport = 1\n");
    }

    #[test]
    fn type_names_are_camel_case() {
        let site = Site::parse("", Path::new("/x/launcher.toml")).unwrap();
        let n = names("order-history", None, &site).unwrap();
        assert_eq!(
            (
                n.package.as_str(),
                n.ident.as_str(),
                n.type_name.as_str(),
                n.port
            ),
            (
                "svc-order-history",
                "svc_order_history",
                "OrderHistory",
                5100
            )
        );
    }

    #[test]
    fn a_taken_port_or_name_is_refused() {
        let text = "[[services]]\nname = \"reviews\"\npackage = \"svc-reviews\"\nport = 5100\n";
        let site = Site::parse(text, Path::new("/x/launcher.toml")).unwrap();
        let err = names("reviews", None, &site).unwrap_err();
        assert!(err.to_string().contains("already"), "{err}");
        let err = names("other", Some(5100), &site).unwrap_err();
        assert!(err.to_string().contains("5100 is taken"), "{err}");
        assert_eq!(names("other", None, &site).unwrap().port, 5101);
    }
}
