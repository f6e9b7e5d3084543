//! `launcher`: runs the site from source for development, in one terminal
//! (`cargo run -p launcher`).
//!
//! - [`site`]: the launcher file (`launcher.toml`): services, how each starts, ports,
//!   settings, the shell; a bad file is an error naming the field.
//! - [`plan`]: from a site to the [`Program`]s to run.
//! - [`devloop`]: the dev loop (`--watch`): rebuild and restart the team whose files changed,
//!   then tell the shell.
//! - [`scaffold`]: `new-team NAME`, a new Rust team wired in everywhere.
//!
//! - [`supervise`] is the core, and what the tests drive with small `sh -c` children: it
//!   starts every [`Program`], prefixes each line a child writes (stdout and stderr) with its
//!   `[name]` tag (coloured when [`Style::colour`]), reports a child that exits on its own with
//!   its exit status while the others keep running, and, once `stop` resolves, sends SIGTERM
//!   to each child by PID, waits up to `grace`, then kills those still running.
//!   A [`Program::restartable`] program is stopped and started again through its
//!   [`Restarter`], and waits for the next restart when its child exits on its own.
//! - `src/main.rs` reads the launcher file, builds its Rust teams with cargo, starts every
//!   service on its port, the shell last, and stops them all on Ctrl-C (SIGINT) or SIGTERM.
//!
//! Children run in their own process group, so a Ctrl-C at the terminal reaches only the
//! launcher, which then stops the children in order; their graceful shutdown is theirs.

pub mod devloop;
pub mod plan;
pub mod scaffold;
pub mod site;

use std::ffi::OsString;
use std::future::Future;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

/// The tag of the launcher's own lines.
pub const LAUNCHER_TAG: &str = "launcher";

/// How long a program waits for its [`Program::wait_for`] addresses before it starts anyway.
pub const WAIT_FOR_LIMIT: Duration = Duration::from_secs(20);

/// How long a dead child's output may take to drain before its death is reported anyway
/// (a grandchild can hold the pipes open).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// One child to run.
#[derive(Debug, Clone)]
pub struct Program {
    /// The tag on its lines (`pricing`).
    pub name: String,
    /// The executable.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Environment variables set on top of the launcher's own.
    pub envs: Vec<(OsString, OsString)>,
    /// The folder it runs in (the launcher's when `None`).
    pub current_dir: Option<PathBuf>,
    /// Addresses that must accept TCP connections before it starts (the shell waits for
    /// the services), given up after [`WAIT_FOR_LIMIT`].
    pub wait_for: Vec<SocketAddr>,
    /// Set by [`Program::restartable`]: restarts asked through its [`Restarter`].
    restarts: Option<RestartListener>,
}

/// Asks a running program to restart ([`Program::restartable`]).
#[derive(Debug, Clone)]
pub struct Restarter {
    asks: Arc<watch::Sender<u64>>,
    started: watch::Receiver<u64>,
}

impl Restarter {
    /// Stops the program's child (SIGTERM, then SIGKILL after the grace period) and starts
    /// it again. Returns once the new child was started (or could not be): true, or false
    /// when the program is gone for good (the launcher is stopping).
    pub async fn restart(&mut self) -> bool {
        let mut asked = 0;
        self.asks.send_modify(|n| {
            *n += 1;
            asked = *n;
        });
        match self.started.wait_for(|n| *n >= asked).await {
            Ok(n) => *n != u64::MAX,
            Err(_) => false,
        }
    }
}

/// The program's side of a [`Restarter`]: restarts asked (a count), and the last one done
/// (`u64::MAX` once the program is gone).
#[derive(Debug, Clone)]
struct RestartListener {
    asks: watch::Receiver<u64>,
    started: Arc<watch::Sender<u64>>,
}

impl Program {
    /// A program with no arguments.
    pub fn new(name: impl Into<String>, program: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            program: program.into(),
            args: Vec::new(),
            envs: Vec::new(),
            current_dir: None,
            wait_for: Vec::new(),
            restarts: None,
        }
    }

    /// Makes it restartable: the [`Restarter`] stops and starts its child again, and a
    /// child that exits on its own waits for the next restart instead of ending the program.
    pub fn restartable(mut self) -> (Self, Restarter) {
        let (asks_tx, asks_rx) = watch::channel(0);
        let (started_tx, started_rx) = watch::channel(0);
        self.restarts = Some(RestartListener {
            asks: asks_rx,
            started: Arc::new(started_tx),
        });
        let restarter = Restarter {
            asks: Arc::new(asks_tx),
            started: started_rx,
        };
        (self, restarter)
    }

    /// Adds an argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// Sets the folder it runs in.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.current_dir = Some(dir.into());
        self
    }

    /// Starts it only once `addr` accepts TCP connections (or [`WAIT_FOR_LIMIT`] passed).
    pub fn wait_for(mut self, addr: SocketAddr) -> Self {
        self.wait_for.push(addr);
        self
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Terminal signals reach the launcher only; it stops the children itself.
            .process_group(0)
            .kill_on_drop(true);
        if let Some(dir) = &self.current_dir {
            cmd.current_dir(dir);
        }
        cmd
    }
}

/// How lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// ANSI colours on the tags.
    pub colour: bool,
}

impl Style {
    /// Colour when stdout is a terminal and `NO_COLOR` is unset or empty (no-color.org).
    pub fn detect() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            colour: !no_color && std::io::stdout().is_terminal(),
        }
    }

    /// Plain text.
    pub fn plain() -> Self {
        Self { colour: false }
    }
}

/// The tag colours, one per child in turn (cyan, magenta, yellow, green, blue).
const COLOURS: [&str; 5] = ["36", "35", "33", "32", "34"];

/// Writes `[name]` tags, padded so that the lines of every child start in one column.
#[derive(Debug, Clone)]
struct Tagger {
    style: Style,
    width: usize,
}

impl Tagger {
    fn line(&self, name: &str, colour: &str, text: &str) -> Vec<u8> {
        let tag = format!("[{name}]");
        let pad = " ".repeat(self.width.saturating_sub(tag.len()) + 1);
        let line = if self.style.colour {
            format!("\x1b[{colour}m{tag}\x1b[0m{pad}{text}\n")
        } else {
            format!("{tag}{pad}{text}\n")
        };
        line.into_bytes()
    }

    fn launcher(&self, text: &str) -> Vec<u8> {
        self.line(LAUNCHER_TAG, "1", text)
    }
}

/// How a child ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It could not be started (the message says why).
    FailedToStart(String),
    /// A stop was asked while it was still waiting to start.
    NotStarted,
    /// It exited on its own, before any stop was asked.
    Exited(ExitStatus),
    /// It exited after SIGTERM, within the grace period.
    Stopped(ExitStatus),
    /// It was still running after the grace period and was killed.
    Killed(ExitStatus),
}

/// What [`supervise`] saw.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Each child's name and outcome, in the order given.
    pub children: Vec<(String, Outcome)>,
    /// Whether the run ended because `stop` resolved (rather than every child exiting).
    pub stop_requested: bool,
}

impl Summary {
    /// A stop that was asked for, or every child exiting with success.
    pub fn success(&self) -> bool {
        if self.stop_requested {
            return true;
        }
        self.children
            .iter()
            .all(|(_, o)| matches!(o, Outcome::Exited(s) if s.success()))
    }
}

/// Starts every program and supervises them until they have all exited or `stop` resolves
/// and they have all been stopped. Output goes to `out`, one whole line at a time.
pub async fn supervise<W>(
    programs: Vec<Program>,
    style: Style,
    out: W,
    stop: impl Future<Output = ()>,
    grace: Duration,
) -> Summary
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let width = programs
        .iter()
        .map(|p| p.name.len())
        .chain([LAUNCHER_TAG.len()])
        .max()
        .unwrap_or(0)
        + 2;
    let tagger = Tagger { style, width };
    let (lines, writer) = spawn_writer(out);
    let (stop_tx, stop_rx) = watch::channel(false);
    let alive = Arc::new(AtomicUsize::new(programs.len()));

    let mut outcomes: Vec<Option<Outcome>> = vec![None; programs.len()];
    let mut watchers = JoinSet::new();
    for (index, program) in programs.iter().enumerate() {
        let watcher = Watcher {
            name: program.name.clone(),
            colour: COLOURS[index % COLOURS.len()],
            tagger: tagger.clone(),
            lines: lines.clone(),
            alive: Arc::clone(&alive),
            grace,
        };
        let program = program.clone();
        let stop_rx = stop_rx.clone();
        watchers.spawn(async move { (index, watcher.run(program, stop_rx).await) });
    }

    let mut stop = std::pin::pin!(stop);
    let mut stop_requested = false;
    loop {
        tokio::select! {
            joined = watchers.join_next() => match joined {
                None => break,
                Some(Ok((index, outcome))) => outcomes[index] = Some(outcome),
                // A watcher only panics on a bug; its child was killed on drop.
                Some(Err(e)) => {
                    let _ = lines.send(tagger.launcher(&format!("a watcher failed: {e}")));
                }
            },
            () = &mut stop, if !stop_requested => {
                stop_requested = true;
                let _ = lines.send(tagger.launcher(&format!(
                    "stopping: SIGTERM to every child, {}s before SIGKILL",
                    grace.as_secs_f32()
                )));
                let _ = stop_tx.send(true);
            }
        }
    }
    if stop_requested {
        let _ = lines.send(tagger.launcher("all stopped"));
    }
    drop(lines);
    let _ = writer.await;
    Summary {
        children: programs
            .iter()
            .zip(outcomes)
            .map(|(p, o)| {
                let outcome =
                    o.unwrap_or_else(|| Outcome::FailedToStart("its watcher failed".to_owned()));
                (p.name.clone(), outcome)
            })
            .collect(),
        stop_requested,
    }
}

/// One task owns `out`, so lines from different children never interleave mid-line.
fn spawn_writer<W>(mut out: W) -> (mpsc::UnboundedSender<Vec<u8>>, JoinHandle<()>)
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let task = tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            if out.write_all(&line).await.is_err() || out.flush().await.is_err() {
                // Nobody reads our output any more; keep draining so children never block.
                while rx.recv().await.is_some() {}
                return;
            }
        }
        let _ = out.shutdown().await;
    });
    (tx, task)
}

/// Copies a child's stream to the writer line by line, tagged. Bytes that are not UTF-8 are
/// shown as U+FFFD; a last line without a newline is still written.
fn pump<R>(
    stream: R,
    name: &str,
    colour: &'static str,
    tagger: &Tagger,
    lines: &mpsc::UnboundedSender<Vec<u8>>,
) -> JoinHandle<()>
where
    R: AsyncRead + Unpin + Send + 'static,
{
    let name = name.to_owned();
    let tagger = tagger.clone();
    let lines = lines.clone();
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    while matches!(buf.last(), Some(b'\n' | b'\r')) {
                        buf.pop();
                    }
                    let text = String::from_utf8_lossy(&buf);
                    if lines.send(tagger.line(&name, colour, &text)).is_err() {
                        return;
                    }
                }
            }
        }
    })
}

/// Watches one child until it exits or a stop is asked (and restarts it when asked).
struct Watcher {
    name: String,
    colour: &'static str,
    tagger: Tagger,
    lines: mpsc::UnboundedSender<Vec<u8>>,
    alive: Arc<AtomicUsize>,
    grace: Duration,
}

/// How one child's run ended.
enum Ended {
    /// For good: the outcome of the program.
    Final(Outcome),
    /// It exited on its own, and the program is restartable: it waits for a restart.
    Exited(Outcome),
    /// A restart was asked and the child stopped.
    Restart,
}

impl Watcher {
    /// Waits for the program's addresses, starts it and watches it; a restartable program
    /// is started again on each restart asked, until a stop.
    async fn run(self, program: Program, mut stop: watch::Receiver<bool>) -> Outcome {
        if !program.wait_for.is_empty() && !self.wait_for(&program, &mut stop).await {
            self.alive.fetch_sub(1, Ordering::SeqCst);
            self.say(&format!("{} was not started", self.name));
            return Outcome::NotStarted;
        }
        let mut restarts = program.restarts.clone();
        let outcome = loop {
            let spawned = self.spawn(&program);
            if let Some(listener) = &restarts {
                // Every restart asked so far is done: the new child is started (or failed).
                let asked = *listener.asks.borrow();
                listener.started.send_replace(asked);
            }
            let ended = match spawned {
                Ok((child, pumps)) => self.watch(child, pumps, &mut stop, restarts.as_mut()).await,
                Err(outcome) if restarts.is_some() => Ended::Exited(outcome),
                Err(outcome) => Ended::Final(outcome),
            };
            match ended {
                Ended::Final(outcome) => break outcome,
                Ended::Restart => self.say(&format!("restarting {}", self.name)),
                Ended::Exited(outcome) => {
                    self.say(&format!("{} restarts on the next change", self.name));
                    let Some(listener) = restarts.as_mut() else {
                        break outcome;
                    };
                    tokio::select! {
                        changed = listener.asks.changed() => if changed.is_err() { break outcome },
                        _ = stop.wait_for(|stop| *stop) => break outcome,
                    }
                }
            }
        };
        if let Some(listener) = &restarts {
            listener.started.send_replace(u64::MAX);
        }
        outcome
    }

    /// Waits for the program's addresses; false if a stop came first.
    async fn wait_for(&self, program: &Program, stop: &mut watch::Receiver<bool>) -> bool {
        let addrs: Vec<String> = program.wait_for.iter().map(|a| a.to_string()).collect();
        self.say(&format!("{} waits for {}", self.name, addrs.join(", ")));
        let ready = tokio::select! {
            ready = wait_for_ports(&program.wait_for) => ready,
            _ = stop.wait_for(|stop| *stop) => false,
        };
        if *stop.borrow() {
            return false;
        }
        if !ready {
            self.say(&format!(
                "{} starts anyway: not every address answered within {}s",
                self.name,
                WAIT_FOR_LIMIT.as_secs()
            ));
        }
        true
    }

    /// Starts the child and its output pumps, or says why it could not start.
    #[allow(clippy::type_complexity)]
    fn spawn(&self, program: &Program) -> Result<(Child, [Option<JoinHandle<()>>; 2]), Outcome> {
        let mut child = match program.command().spawn() {
            Ok(child) => child,
            Err(e) => {
                let message = format!("{}: {e}", program.program.display());
                let left = self.alive.load(Ordering::SeqCst).saturating_sub(1);
                if program.restarts.is_none() {
                    self.alive.fetch_sub(1, Ordering::SeqCst);
                }
                self.say(&format!(
                    "could not start {}: {message}; {}",
                    self.name,
                    left_running(left)
                ));
                return Err(Outcome::FailedToStart(message));
            }
        };
        let pid = child.id().unwrap_or(0);
        self.say(&format!(
            "started {} ({}, pid {pid})",
            self.name,
            program.program.display()
        ));
        let pumps = [
            child
                .stdout
                .take()
                .map(|s| pump(s, &self.name, self.colour, &self.tagger, &self.lines)),
            child
                .stderr
                .take()
                .map(|s| pump(s, &self.name, self.colour, &self.tagger, &self.lines)),
        ];
        Ok((child, pumps))
    }

    async fn watch(
        &self,
        mut child: Child,
        pumps: [Option<JoinHandle<()>>; 2],
        stop: &mut watch::Receiver<bool>,
        restarts: Option<&mut RestartListener>,
    ) -> Ended {
        enum Event {
            Exited(std::io::Result<ExitStatus>),
            Stop,
            Restart,
        }
        let restartable = restarts.is_some();
        let restart = async {
            let asked = match restarts {
                Some(listener) => listener.asks.changed().await.is_ok(),
                None => false,
            };
            if !asked {
                std::future::pending::<()>().await;
            }
        };
        let event = tokio::select! {
            status = child.wait() => Event::Exited(status),
            _ = stop.wait_for(|stop| *stop) => Event::Stop,
            () = restart => Event::Restart,
        };
        match event {
            Event::Stop => Ended::Final(self.stopped(&mut child, pumps).await),
            Event::Restart => {
                let outcome = self.stop(&mut child).await;
                drain(pumps).await;
                self.say(&format!(
                    "{} stopped for a restart ({outcome:?})",
                    self.name
                ));
                Ended::Restart
            }
            Event::Exited(status) => self.exited(status, pumps, restartable).await,
        }
    }

    /// A child that exited on its own: reported; final unless the program restarts.
    async fn exited(
        &self,
        status: std::io::Result<ExitStatus>,
        pumps: [Option<JoinHandle<()>>; 2],
        restartable: bool,
    ) -> Ended {
        let outcome = match status {
            Ok(status) => Outcome::Exited(status),
            Err(e) => Outcome::FailedToStart(format!("waiting for it failed: {e}")),
        };
        drain(pumps).await;
        let what = match &outcome {
            Outcome::Exited(status) => format!("exited ({status})"),
            other => format!("{other:?}"),
        };
        if restartable {
            self.say(&format!("{} {what}", self.name));
            return Ended::Exited(outcome);
        }
        let left = self.alive.fetch_sub(1, Ordering::SeqCst) - 1;
        self.say(&format!("{} {what}; {}", self.name, left_running(left)));
        Ended::Final(outcome)
    }

    /// Stops a child because a stop was asked, and reports how it ended.
    async fn stopped(&self, child: &mut Child, pumps: [Option<JoinHandle<()>>; 2]) -> Outcome {
        let outcome = self.stop(child).await;
        drain(pumps).await;
        self.alive.fetch_sub(1, Ordering::SeqCst);
        match &outcome {
            Outcome::Stopped(status) => self.say(&format!("{} stopped ({status})", self.name)),
            Outcome::Killed(status) => self.say(&format!(
                "{} did not stop within {}s and was killed ({status})",
                self.name,
                self.grace.as_secs_f32()
            )),
            other => self.say(&format!("{}: {other:?}", self.name)),
        }
        outcome
    }

    /// SIGTERM by PID, then SIGKILL after the grace period.
    async fn stop(&self, child: &mut Child) -> Outcome {
        if let Some(pid) = child
            .id()
            .and_then(|id| rustix::process::Pid::from_raw(id as i32))
        {
            if let Err(e) = rustix::process::kill_process(pid, rustix::process::Signal::TERM) {
                self.say(&format!("SIGTERM to {} failed: {e}", self.name));
            }
        }
        match tokio::time::timeout(self.grace, child.wait()).await {
            Ok(Ok(status)) => Outcome::Stopped(status),
            Ok(Err(e)) => Outcome::FailedToStart(format!("waiting for it failed: {e}")),
            Err(_) => {
                let _ = child.start_kill();
                match child.wait().await {
                    Ok(status) => Outcome::Killed(status),
                    Err(e) => Outcome::FailedToStart(format!("waiting for it failed: {e}")),
                }
            }
        }
    }

    fn say(&self, text: &str) {
        let _ = self.lines.send(self.tagger.launcher(text));
    }
}

/// "the other 2 keep running".
fn left_running(left: usize) -> String {
    match left {
        0 => "no child is left running".to_owned(),
        1 => "the other one keeps running".to_owned(),
        n => format!("the other {n} keep running"),
    }
}

/// Whether every address accepted a TCP connection within [`WAIT_FOR_LIMIT`].
async fn wait_for_ports(addrs: &[SocketAddr]) -> bool {
    let deadline = tokio::time::Instant::now() + WAIT_FOR_LIMIT;
    for addr in addrs {
        loop {
            let attempt =
                tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(addr));
            if let Ok(Ok(_)) = attempt.await {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    true
}

/// Waits for a child's output to be written, bounded by [`DRAIN_TIMEOUT`].
async fn drain(pumps: [Option<JoinHandle<()>>; 2]) {
    for pump in pumps.into_iter().flatten() {
        let abort = pump.abort_handle();
        if tokio::time::timeout(DRAIN_TIMEOUT, pump).await.is_err() {
            abort.abort();
        }
    }
}
