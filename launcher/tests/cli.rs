//! The launcher binary with a bad file or bad names: nothing starts, exit code 2, and one
//! line naming the file and the field.

use std::process::Command;

fn launcher(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_launcher"))
        .args(args)
        .env_remove("LAUNCHER_FILE")
        .output()
        .expect("the launcher runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_bad_launcher_file_stops_it_with_the_field_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("site.toml");
    std::fs::write(
        &file,
        "[[services]]\nname = \"blog\"\nport = 5001\ncommand = [\"node\"]\npackage = \"blog\"\n",
    )
    .unwrap();
    let (code, stderr) = launcher(&["--no-build", "--file", file.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("site.toml: services[0].command:"),
        "{stderr}"
    );
    assert!(!stderr.contains("starting"), "{stderr}");
}

#[test]
fn a_missing_file_and_an_unknown_only_name_are_refused() {
    let (code, stderr) = launcher(&["--no-build", "--file", "/nonexistent/site.toml"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("/nonexistent/site.toml: file: cannot be read"),
        "{stderr}"
    );
    let (code, stderr) = launcher(&["--no-build", "--only", "pricing,billing"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("no service called \"billing\""), "{stderr}");
    assert!(
        stderr.contains("pricing, dashboard, accounts, shell"),
        "{stderr}"
    );
}
