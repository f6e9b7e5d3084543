//! The proxy relays final answers only (`docs/SECURITY.md`, "A team's 101"): a service that
//! answers `101 Switching Protocols` (or any interim 1xx) to a request that asked for no
//! upgrade gets a 502 from the shell, and nothing the service sends after its 101 (bytes a
//! front proxy might otherwise tunnel) reaches the client. An interim `103 Early Hints`
//! followed by a final answer is not an answer of its own: the final one is relayed.
//!
//! The service is a raw TCP server in this test process on 127.0.0.1 (no HTTP library
//! would send a 101 unasked), registered with the shell run as a real process.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mf_tests::replicas::Process;
use mf_tests::{raw_request, RawAnswer, SECRET};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What a client could receive if the shell tunnelled past the 101.
const TUNNELLED: &str = "tunnelled-bytes-past-the-switch";

const MANIFEST: &str = r#"{"name":"switcher","version":"1.0.0","fragments":[
  {"id":"socket","path":"/fragments/socket","title":"Socket"},
  {"id":"early","path":"/fragments/early","title":"Early"}],
  "assets":{"css":[],"controllers":[]},"actions":["/actions/switch"]}"#;

/// The raw answer of the service to `path`.
fn answer_to(path: &str) -> String {
    let switch = format!(
        "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n\
         {TUNNELLED}"
    );
    let ok = |content_type: &str, body: &str| {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
             x-fragment-version: 1.0.0\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    match path {
        "/manifest.json" => ok("application/json", MANIFEST),
        "/fragments/socket" | "/actions/switch" => switch,
        "/fragments/early" => format!(
            "HTTP/1.1 103 Early Hints\r\nLink: </x.css>; rel=preload\r\n\r\n{}",
            ok(
                "text/html; charset=utf-8",
                r#"<section data-fragment="switcher/early">final answer</section>"#
            )
        ),
        _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
    }
}

/// A service that speaks HTTP/1.1 byte for byte: one request per connection, answered by
/// [`answer_to`]; it records each request head.
struct RawService {
    url: String,
    heads: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RawService {
    async fn start() -> RawService {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&heads);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, Arc::clone(&seen)));
            }
        });
        RawService { url, heads, task }
    }

    /// The request heads seen for `path`.
    fn heads_for(&self, path: &str) -> Vec<String> {
        let prefix = format!(" {path} ");
        let heads = self.heads.lock().unwrap();
        heads
            .iter()
            .filter(|h| h.contains(&prefix))
            .cloned()
            .collect()
    }
}

impl Drop for RawService {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut stream: TcpStream, seen: Arc<Mutex<Vec<String>>>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    if let Some(length) = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())?
    }) {
        let mut body = vec![0u8; length];
        let _ = stream.read_exact(&mut body).await;
    }
    seen.lock().unwrap().push(head);
    let _ = stream.write_all(answer_to(&path).as_bytes()).await;
    let _ = stream.flush().await;
    // Holds the connection a while, as a service that switched protocols would.
    tokio::time::sleep(Duration::from_millis(500)).await;
}

/// The shell as a process with `switcher` registered and a section `/up` showing its
/// `socket` fragment; no chrome, no session service; the admin listener on a free port
/// (its default, 9000, is taken by any other shell running meanwhile).
async fn shell(dir: &tempfile::TempDir, service_url: &str) -> Process {
    let config = dir.path().join("shell.toml");
    std::fs::write(
        &config,
        format!(
            "default_section = \"up\"\nsession_service = \"\"\nchrome = []\n\n\
             [[services]]\nname = \"switcher\"\nurl = \"{service_url}\"\n\n\
             [[sections]]\nid = \"up\"\ntitle = \"Up\"\npath = \"/up\"\n\
             slots = [{{ service = \"switcher\", fragment = \"socket\" }}]\n"
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    Process::start(
        "shell",
        "shell",
        &[
            "--context-secret",
            SECRET,
            "--config",
            &config,
            "--admin-port",
            "0",
        ],
    )
    .await
}

/// The raw service behind a shell process.
struct Switcher {
    service: RawService,
    shell: Process,
    _config: tempfile::TempDir,
}

impl Switcher {
    /// `GET /svc/switcher{path}` as the fragment loader asks it.
    async fn loader_fetch(&self, path: &str) -> RawAnswer {
        let target = format!("/svc/switcher{path}");
        let shell = self.shell.url();
        raw_request(&shell, "GET", target.as_bytes(), "x-mf-loader: 1\r\n").await
    }

    /// Starts both, and waits (at most 10 s) until the shell knows the service's manifest:
    /// under load its first read at start may time out, and the proxy answers 503 until a
    /// later one succeeds.
    async fn start() -> Switcher {
        let service = RawService::start().await;
        let config = tempfile::tempdir().unwrap();
        let shell = shell(&config, &service.url).await;
        let switcher = Switcher {
            service,
            shell,
            _config: config,
        };
        let started = Instant::now();
        while switcher.loader_fetch("/fragments/early").await.status == 503 {
            assert!(started.elapsed() < Duration::from_secs(10), "no manifest");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        switcher
    }
}

#[tokio::test]
async fn a_service_answering_101_switching_protocols_gets_a_502_and_no_tunnel() {
    let switcher = Switcher::start().await;
    // The loader's fetch (a client asking for an upgrade itself is refused by the shell
    // before the proxy, with a 400).
    let answer = switcher.loader_fetch("/fragments/socket").await;
    assert_eq!(answer.status, 502, "{}\n{}", answer.head, answer.body);
    // What the page shows in the slot (the reason is logged): the "unavailable" box.
    assert!(
        answer.body.contains("Switcher is unavailable right now."),
        "{}",
        answer.body
    );
    assert!(
        answer
            .head
            .to_ascii_lowercase()
            .contains("\nx-mf-status: unavailable"),
        "{}",
        answer.head
    );
    assert!(
        !answer.head.to_ascii_lowercase().contains("\nupgrade:"),
        "{}",
        answer.head
    );
    assert!(!answer.body.contains(TUNNELLED), "{}", answer.body);
    for head in switcher.service.heads_for("/fragments/socket") {
        assert!(
            !head.to_ascii_lowercase().contains("\nupgrade:"),
            "sent on: {head}"
        );
    }

    // A form posted with JavaScript off: the page of its section, 502, the box in the slot.
    let page = mf_tests::client()
        .post(format!(
            "{}/svc/switcher/actions/switch",
            switcher.shell.url()
        ))
        .header("accept", "text/html")
        .form(&[("a", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 502);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Switcher is unavailable right now."),
        "{html}"
    );
    assert!(!html.contains(TUNNELLED));

    // The shell is unharmed.
    let health = raw_request(&switcher.shell.url(), "GET", b"/healthz", "").await;
    assert_eq!(health.status, 200);
}

#[tokio::test]
async fn a_final_answer_after_103_early_hints_is_relayed_without_the_interim_one() {
    let switcher = Switcher::start().await;
    let answer = switcher.loader_fetch("/fragments/early").await;
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert!(answer.body.contains("final answer"), "{}", answer.body);
    assert!(!answer.head.contains("103"), "{}", answer.head);
    assert!(
        !answer.head.to_ascii_lowercase().contains("link:"),
        "{}",
        answer.head
    );
}
