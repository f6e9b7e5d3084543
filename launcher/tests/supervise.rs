//! The launcher's core with real child processes (`sh -c`): tagged lines, a dead child
//! reported while the others keep running, and stopping with SIGTERM then SIGKILL.

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use launcher::{supervise, Outcome, Program, Style, Summary};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{mpsc, oneshot};

fn sh(name: &str, script: &str) -> Program {
    Program::new(name, "sh").arg("-c").arg(script)
}

/// Runs `supervise` in a task; its output arrives line by line on the receiver, and
/// sending on the oneshot asks it to stop.
fn start(
    programs: Vec<Program>,
    style: Style,
    grace: Duration,
) -> (
    mpsc::UnboundedReceiver<String>,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<Summary>,
) {
    let (writer, reader) = tokio::io::duplex(64 * 1024);
    let (lines_tx, lines_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if lines_tx.send(line).is_err() {
                return;
            }
        }
    });
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let run = tokio::spawn(supervise(
        programs,
        style,
        writer,
        async move {
            let _ = stop_rx.await;
        },
        grace,
    ));
    (lines_rx, stop_tx, run)
}

/// Reads lines until one matches, keeping all of them; fails after 20 s.
async fn until(
    rx: &mut mpsc::UnboundedReceiver<String>,
    seen: &mut Vec<String>,
    what: impl Fn(&str) -> bool,
) -> String {
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = rx.recv().await {
            seen.push(line.clone());
            if what(&line) {
                return Some(line);
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(line)) => line,
        _ => panic!("no matching line; saw:\n{}", seen.join("\n")),
    }
}

/// Like [`until`], but a line already seen counts (for lines whose order is not fixed).
async fn saw(
    rx: &mut mpsc::UnboundedReceiver<String>,
    seen: &mut Vec<String>,
    what: impl Fn(&str) -> bool,
) {
    if !seen.iter().any(|l| what(l)) {
        until(rx, seen, what).await;
    }
}

/// `[name]   text` -> (name, text).
fn split(line: &str) -> (&str, &str) {
    let rest = line.strip_prefix('[').expect("a tagged line");
    let (name, text) = rest.split_once(']').expect("a closing bracket");
    (name, text.trim_start())
}

#[tokio::test]
async fn every_line_is_tagged_with_its_child_and_a_dead_child_is_reported_while_the_other_keeps_running(
) {
    let programs = vec![
        sh(
            "alpha",
            "echo hello from alpha; echo oops on stderr >&2; i=0; \
             while true; do i=$((i+1)); echo tick $i; sleep 0.1; done",
        ),
        sh("beta", "echo bye from beta; sleep 0.3; exit 3"),
    ];
    let (mut rx, stop, run) = start(programs, Style::plain(), Duration::from_secs(5));
    let mut seen = Vec::new();

    until(&mut rx, &mut seen, |l| l.contains("bye from beta")).await;
    let death = until(&mut rx, &mut seen, |l| {
        split(l).0 == "launcher" && split(l).1.starts_with("beta exited")
    })
    .await;
    assert!(death.contains("exit status: 3"), "{death}");
    assert!(death.contains("the other one keeps running"), "{death}");

    // alpha keeps writing after beta's death was reported.
    let after = seen.len();
    until(&mut rx, &mut seen, |l| {
        split(l).0 == "alpha" && split(l).1.starts_with("tick")
    })
    .await;
    assert!(seen.len() > after);

    stop.send(()).unwrap();
    let summary = run.await.unwrap();
    while let Ok(line) = rx.try_recv() {
        seen.push(line);
    }
    let text = seen.join("\n");

    // Each child's stdout and stderr lines carry its tag, padded to one column.
    let hello = seen
        .iter()
        .find(|l| l.ends_with("hello from alpha"))
        .unwrap();
    assert_eq!(split(hello), ("alpha", "hello from alpha"));
    let oops = seen.iter().find(|l| l.ends_with("oops on stderr")).unwrap();
    assert_eq!(split(oops), ("alpha", "oops on stderr"));
    let bye = seen.iter().find(|l| l.ends_with("bye from beta")).unwrap();
    assert_eq!(split(bye), ("beta", "bye from beta"));
    assert_eq!(
        hello.find("hello"),
        bye.find("bye"),
        "text starts in one column"
    );
    assert!(!text.contains('\x1b'), "no colour in plain style");
    for line in &seen {
        assert!(line.starts_with('['), "untagged line: {line}");
    }

    // alpha was stopped by our SIGTERM; beta's own exit is kept.
    assert!(summary.stop_requested);
    assert_eq!(summary.children[0].0, "alpha");
    match &summary.children[0].1 {
        Outcome::Stopped(status) => assert_eq!(status.signal(), Some(15), "{status}"),
        other => panic!("alpha: {other:?}\n{text}"),
    }
    match &summary.children[1].1 {
        Outcome::Exited(status) => assert_eq!(status.code(), Some(3)),
        other => panic!("beta: {other:?}"),
    }
    assert!(text.contains("alpha stopped"), "{text}");
    assert!(summary.success(), "a stop that was asked for is a success");
}

#[tokio::test]
async fn a_child_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let programs = vec![
        sh(
            "stubborn",
            "trap '' TERM; echo ready; while true; do sleep 0.05; done",
        ),
        sh("polite", "echo ready; while true; do sleep 0.05; done"),
    ];
    let (mut rx, stop, run) = start(programs, Style::plain(), Duration::from_millis(700));
    let mut seen = Vec::new();
    saw(&mut rx, &mut seen, |l| {
        l.starts_with("[stubborn]") && l.ends_with("ready")
    })
    .await;
    saw(&mut rx, &mut seen, |l| {
        l.starts_with("[polite]") && l.ends_with("ready")
    })
    .await;
    stop.send(()).unwrap();
    let summary = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("supervise returns after the grace period")
        .unwrap();
    match &summary.children[0].1 {
        Outcome::Killed(status) => assert_eq!(status.signal(), Some(9), "{status}"),
        other => panic!("stubborn: {other:?}"),
    }
    match &summary.children[1].1 {
        Outcome::Stopped(status) => assert_eq!(status.signal(), Some(15), "{status}"),
        other => panic!("polite: {other:?}"),
    }
    let text = {
        while let Ok(line) = rx.try_recv() {
            seen.push(line);
        }
        seen.join("\n")
    };
    assert!(
        text.contains("stubborn did not stop within 0.7s and was killed"),
        "{text}"
    );
}

#[tokio::test]
async fn when_every_child_exits_supervise_returns_and_reports_failure() {
    let programs = vec![
        sh("ok", "echo fine; exit 0"),
        sh("bad", "echo broken >&2; exit 1"),
        Program::new("missing", "/nonexistent/launcher-test-binary"),
    ];
    let (mut rx, _stop, run) = start(programs, Style::plain(), Duration::from_secs(1));
    let summary = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("supervise returns once every child has exited")
        .unwrap();
    let mut seen = Vec::new();
    while let Some(line) = rx.recv().await {
        seen.push(line);
    }
    let text = seen.join("\n");
    assert!(!summary.stop_requested);
    assert!(!summary.success());
    assert!(matches!(&summary.children[0].1, Outcome::Exited(s) if s.success()));
    assert!(matches!(&summary.children[1].1, Outcome::Exited(s) if s.code() == Some(1)));
    assert!(matches!(&summary.children[2].1, Outcome::FailedToStart(_)));
    assert!(text.contains("could not start missing"), "{text}");
    assert!(text.contains("no child is left running"), "{text}");
    assert!(seen.iter().any(|l| split(l) == ("bad", "broken")), "{text}");
}

#[tokio::test]
async fn colour_style_wraps_tags_in_ansi_codes() {
    let programs = vec![sh("one", "echo hi")];
    let (mut rx, _stop, run) = start(programs, Style { colour: true }, Duration::from_secs(1));
    run.await.unwrap();
    let mut seen = Vec::new();
    while let Some(line) = rx.recv().await {
        seen.push(line);
    }
    let hi = seen
        .iter()
        .find(|l| l.ends_with("hi"))
        .expect("the child's line");
    assert!(hi.starts_with("\x1b[36m[one]\x1b[0m"), "{hi:?}");
}

#[tokio::test]
async fn a_program_with_wait_for_starts_only_once_its_address_accepts_connections() {
    // A port nobody listens on yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let programs = vec![
        sh("early", "echo early up; while true; do sleep 0.05; done"),
        sh("late", "echo late up; while true; do sleep 0.05; done").wait_for(addr),
    ];
    let (mut rx, stop, run) = start(programs, Style::plain(), Duration::from_secs(5));
    let mut seen = Vec::new();
    saw(&mut rx, &mut seen, |l| {
        l.contains("late waits for 127.0.0.1:")
    })
    .await;
    saw(&mut rx, &mut seen, |l| l.ends_with("early up")).await;
    // Give "late" several polls: it must not have started.
    tokio::time::sleep(Duration::from_millis(400)).await;
    while let Ok(line) = rx.try_recv() {
        seen.push(line);
    }
    assert!(
        !seen
            .iter()
            .any(|l| l.contains("late up") || l.contains("started late")),
        "late started before its address answered:\n{}",
        seen.join("\n")
    );
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    until(&mut rx, &mut seen, |l| {
        l.starts_with("[late]") && l.ends_with("late up")
    })
    .await;
    drop(listener);
    stop.send(()).unwrap();
    let summary = run.await.unwrap();
    assert!(
        matches!(summary.children[1].1, Outcome::Stopped(_)),
        "{summary:?}"
    );
}

#[tokio::test]
async fn a_stop_while_a_program_waits_leaves_it_not_started() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let programs = vec![sh("never", "echo should not run").wait_for(addr)];
    let (mut rx, stop, run) = start(programs, Style::plain(), Duration::from_secs(5));
    let mut seen = Vec::new();
    until(&mut rx, &mut seen, |l| l.contains("never waits for")).await;
    stop.send(()).unwrap();
    let summary = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("the stop is not held up by the wait")
        .unwrap();
    assert_eq!(summary.children[0].1, Outcome::NotStarted);
    while let Some(line) = rx.recv().await {
        seen.push(line);
    }
    assert!(
        !seen.iter().any(|l| l.contains("should not run")),
        "{}",
        seen.join("\n")
    );
}

#[tokio::test]
async fn a_restartable_program_is_stopped_and_started_again_on_request() {
    let (program, mut restarter) = sh(
        "alpha",
        "echo up; trap 'echo bye; exit 0' TERM; while true; do sleep 0.05; done",
    )
    .restartable();
    let (mut rx, stop, run) = start(vec![program], Style::plain(), Duration::from_secs(5));
    let mut seen = Vec::new();
    until(&mut rx, &mut seen, |l| l.ends_with("up")).await;

    assert!(restarter.restart().await, "the restart is done");
    until(&mut rx, &mut seen, |l| l.contains("restarting alpha")).await;
    until(&mut rx, &mut seen, |l| l.ends_with("up")).await;
    let starts = seen.iter().filter(|l| l.contains("started alpha")).count();
    assert_eq!(starts, 2, "{}", seen.join("\n"));

    stop.send(()).unwrap();
    let summary = run.await.unwrap();
    assert!(matches!(summary.children[0].1, Outcome::Stopped(_)));
    // Once the program is gone, a restart says so instead of waiting forever.
    assert!(!restarter.restart().await);
}

#[tokio::test]
async fn a_restartable_program_that_exits_waits_for_the_next_restart() {
    let (program, mut restarter) = sh("beta", "echo run; exit 7").restartable();
    let (mut rx, stop, run) = start(vec![program], Style::plain(), Duration::from_secs(5));
    let mut seen = Vec::new();
    until(&mut rx, &mut seen, |l| {
        l.contains("beta restarts on the next change")
    })
    .await;
    assert!(restarter.restart().await);
    until(&mut rx, &mut seen, |l| {
        l.contains("beta restarts on the next change")
    })
    .await;
    let runs = seen.iter().filter(|l| l.ends_with("run")).count();
    assert_eq!(runs, 2, "{}", seen.join("\n"));
    stop.send(()).unwrap();
    let summary = run.await.unwrap();
    assert!(summary.stop_requested);
    assert!(matches!(summary.children[0].1, Outcome::Exited(s) if s.code() == Some(7)));
}
