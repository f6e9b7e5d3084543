//! No compression oracle (issue 21, item 1; `docs/SECURITY.md`, "CSRF tokens and
//! compression"): a third party who makes a signed-in victim's browser request pages with
//! a guess in the path or the query, and sees only the compressed sizes, learns nothing
//! about the victim's name, whichever coding the browser accepts.
//!
//! The shell and the three services run as processes (`cargo build --workspace --bins`).
//! A victim, "Ada Lovelace", signs up, confirms the address by the mailed link (the
//! development mailer writes it to svc-accounts' log) and signs in. Then, with the victim's
//! session cookie, the test requests every page that could reflect request input (the 404
//! page's path, the query echoed by the accounts, pricing and dashboard fragments), once per
//! guess of 32 at the name (the right one among them, each as long as it), with
//! `Accept-Encoding` `gzip`, `br` and `zstd`, and measures the compressed bodies.
//!
//! The criterion, per page and coding: if the page reflected the guess beside the name, the
//! right guess would compress better (a back-reference instead of twelve literal bytes) in
//! every sample. Each guess is requested [`ROUNDS`] times, the guesses shuffled anew each
//! round so that slow drift (the dashboard's live figures grow) falls on all alike. With
//! nothing reflected, the right guess's mean size is drawn from the same distribution as
//! the 31 wrong ones', so `z = (mean of wrong - mean of right) / (sd of wrong / sqrt(ROUNDS))`
//! is about standard normal; the test fails when `z >= 4.5` (a false alarm about once in
//! 300,000 per page and coding). The spread is floored at half a byte: when every wrong
//! answer has the same size, a right guess one byte smaller already fails. Put back the
//! path in the 404 page and the right guess's mean is several bytes below the others', at
//! z well above 10 in every coding.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use mf_tests::replicas::Process;
use mf_tests::{csrf_in, free_port, FAST_HASH_ARGS, SECRET};

/// The victim's name: what the attacker guesses at.
const VICTIM: &str = "Ada Lovelace";
/// The attacker's 31 wrong guesses, each as long as the right one (3 + 1 + 8 letters).
const WRONG: [&str; 31] = [
    "Bob Hamilton",
    "Eve Franklin",
    "Ian Robinson",
    "Joe Thompson",
    "Kim Anderson",
    "Lea Williams",
    "Max Mitchell",
    "Ned Campbell",
    "Oli Peterson",
    "Pam Harrison",
    "Rex Sullivan",
    "Sam Crawford",
    "Tom Fletcher",
    "Uma Chandler",
    "Val Holloway",
    "Zoe Kingsley",
    "Amy Marshall",
    "Ben Newberry",
    "Cal Sinclair",
    "Dan Thornton",
    "Eli Rutledge",
    "Fay Pemberly",
    "Gus Gallaher",
    "Hal Woodward",
    "Ivy Stafford",
    "Jan Bradford",
    "Ken Caldwell",
    "Lou Lockhart",
    "Mia Hartwell",
    "Noa Sheridan",
    "Ray Whitaker",
];
/// Samples per guess, page and coding.
const ROUNDS: usize = 16;
/// The codings a browser offers.
const CODINGS: [&str; 3] = ["gzip", "br", "zstd"];
/// Where a guess goes: every place a request's input could come back in a signed-in page.
const PLACES: [(&str, &str); 4] = [
    ("404 page, path", "/no-such-page/{}"),
    (
        "accounts, ?plan echoed in Retry",
        "/accounts?plan=a&plan={}",
    ),
    ("pricing, ?billing", "/pricing?billing={}"),
    ("dashboard, ?refresh", "/dashboard?refresh={}"),
];
/// The one-sided bound on z (see the module doc).
const Z_BOUND: f64 = 4.5;

fn client() -> reqwest::Client {
    // No decompression, whatever features another crate turns on: the sizes are the wire's.
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_gzip()
        .no_brotli()
        .no_zstd()
        .no_deflate()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The shell and the three services as processes, svc-accounts logging its mail.
struct Site {
    shell: Process,
    _services: [Process; 3],
    accounts_log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Site {
    async fn start() -> Site {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let common = ["--context-secret", SECRET];
        let pricing = Process::start("svc-pricing", "svc-pricing", &common).await;
        let dashboard = Process::start("svc-dashboard", "svc-dashboard", &common).await;
        let db = dir.path().join("accounts.db").display().to_string();
        let mut args = vec!["--context-secret", SECRET, "--database", &db];
        args.extend(FAST_HASH_ARGS);
        args.extend(["--trusted-proxies", "127.0.0.1"]);
        let accounts_log = dir.path().join("accounts.log");
        let accounts =
            Process::start_logged("accounts", "svc-accounts", &args, &accounts_log).await;
        let services = format!(
            "pricing={},dashboard={},accounts={}",
            pricing.url(),
            dashboard.url(),
            accounts.url()
        );
        let admin = free_port().to_string();
        let shell_args = [
            "--context-secret",
            SECRET,
            "--services",
            &services,
            "--admin-port",
            &admin,
        ];
        let shell = Process::start("shell", "shell", &shell_args).await;
        Site {
            shell,
            _services: [pricing, dashboard, accounts],
            accounts_log,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.shell.url())
    }
}

/// A fresh CSRF token of `/accounts` for this cookie jar.
async fn form_token(site: &Site, http: &reqwest::Client) -> String {
    let page = http.get(site.url("/accounts")).send().await.unwrap();
    csrf_in(&page.text().await.unwrap()).expect("a form token")
}

/// Posts a form through the shell as the site's own page does.
async fn post(
    site: &Site,
    http: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let token = form_token(site, http).await;
    let mut form = form.to_vec();
    form.push(("csrf_token", &token));
    http.post(site.url(path))
        .header("origin", site.shell.url())
        .header("x-mf-loader", "1")
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// The token of the confirmation link the development mailer wrote to the log (10 s).
async fn mailed_confirmation(log: &Path) -> String {
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some((_, rest)) = text.split_once("confirm=") {
            return rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no confirmation mail:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Signs the victim up, confirms the address by the mailed link and signs in; returns the
/// `Cookie` header of the victim's browser.
async fn victim_cookie(site: &Site) -> String {
    let http = mf_tests::client();
    let (email, password) = ("ada@example.com", "correct horse battery");
    let sign_up = [
        ("name", VICTIM),
        ("email", email),
        ("password", password),
        ("plan", "pro"),
    ];
    let res = post(site, &http, "/svc/accounts/actions/sign-up", &sign_up).await;
    assert_eq!(res.status(), 303, "sign-up");
    let confirm = mailed_confirmation(&site.accounts_log).await;
    // The page streams: the account fragment (which uses the link up) is fetched as the
    // body is read.
    let url = site.url(&format!("/accounts?confirm={confirm}"));
    let page = http.get(url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("your address is confirmed"), "{page}");
    let signer = mf_tests::client();
    let res = post(
        site,
        &signer,
        "/svc/accounts/actions/sign-in",
        &[("email", email), ("password", password)],
    )
    .await;
    assert_eq!(res.status(), 303, "sign-in");
    let set = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("mf_session="))
        .expect("a session cookie");
    set.split(';').next().unwrap().to_owned()
}

/// Decodes a whole body in `coding`.
fn decode(coding: &str, bytes: &[u8]) -> String {
    let mut out = Vec::new();
    match coding {
        "gzip" => {
            let mut d = flate2::write::GzDecoder::new(&mut out);
            d.write_all(bytes).expect("gzip decodes");
            d.finish().expect("gzip ends");
        }
        "br" => {
            let mut d = brotli::DecompressorWriter::new(&mut out, 4096);
            d.write_all(bytes).expect("brotli decodes");
            d.flush().expect("brotli flushes");
        }
        "zstd" => {
            let mut d = zstd::stream::write::Decoder::new(&mut out).expect("a zstd decoder");
            d.write_all(bytes).expect("zstd decodes");
            d.flush().expect("zstd flushes");
        }
        other => panic!("no decoder for {other}"),
    }
    String::from_utf8(out).expect("the page is UTF-8")
}

/// One compressed page: its size on the wire; checks it was compressed as asked and shows
/// the victim signed in (else the measurement would say nothing), and that a wrong guess's
/// surname is nowhere in it (the reflection itself, seen directly).
async fn compressed_size(
    http: &reqwest::Client,
    url: &str,
    cookie: &str,
    coding: &str,
    guess: &str,
) -> usize {
    let res = http
        .get(url)
        .header("cookie", cookie)
        .header("accept-encoding", coding)
        .send()
        .await
        .unwrap();
    let used = res
        .headers()
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = res.bytes().await.unwrap();
    assert_eq!(
        used.as_deref(),
        Some(coding),
        "{url} was not compressed as asked"
    );
    let page = decode(coding, &body);
    assert!(
        page.contains(VICTIM),
        "{url} does not show the victim signed in"
    );
    let surname = guess.split(' ').nth(1).unwrap_or(guess);
    assert!(
        guess == VICTIM || !page.contains(surname),
        "{url} reflects the guess into a signed-in page"
    );
    body.len()
}

/// A small deterministic shuffle (xorshift), so a failure can be replayed.
fn shuffled(n: usize, seed: &mut u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        order.swap(i, (*seed % (i as u64 + 1)) as usize);
    }
    order
}

/// What one page and coding measured.
struct Measure {
    right: f64,
    wrong: f64,
    sd: f64,
    z: f64,
    rank: usize,
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// The statistics of `sizes[guess][round]`, guess 0 the right one (see the module doc).
fn measure(sizes: &[Vec<usize>]) -> Measure {
    let as_f = |v: &Vec<usize>| v.iter().map(|&s| s as f64).collect::<Vec<_>>();
    let right = mean(&as_f(&sizes[0]));
    let pooled: Vec<f64> = sizes[1..].iter().flat_map(as_f).collect();
    let wrong = mean(&pooled);
    let var = pooled.iter().map(|x| (x - wrong).powi(2)).sum::<f64>() / (pooled.len() - 1) as f64;
    let sd = var.sqrt();
    let z = (wrong - right) / (sd.max(0.5) / (ROUNDS as f64).sqrt());
    let rank = sizes[1..].iter().filter(|s| mean(&as_f(s)) < right).count();
    Measure {
        right,
        wrong,
        sd,
        z,
        rank,
    }
}

/// Every guess's compressed sizes of one page in one coding, `ROUNDS` each.
async fn sizes_of(
    site: &Site,
    cookie: &str,
    pattern: &str,
    coding: &str,
    seed: &mut u64,
) -> Vec<Vec<usize>> {
    let http = client();
    let guesses: Vec<&str> = std::iter::once(VICTIM).chain(WRONG).collect();
    assert!(
        guesses.iter().all(|g| g.len() == VICTIM.len()),
        "guesses as long as the name"
    );
    let mut sizes = vec![Vec::new(); guesses.len()];
    for _ in 0..ROUNDS {
        for g in shuffled(guesses.len(), seed) {
            let guess = guesses[g].replace(' ', "%20");
            let url = site.url(&pattern.replace("{}", &guess));
            let size = compressed_size(&http, &url, cookie, coding, guesses[g]).await;
            sizes[g].push(size);
        }
    }
    sizes
}

#[tokio::test]
async fn compressed_sizes_of_signed_in_pages_do_not_depend_on_a_guess_at_the_users_name() {
    let _heavy = mf_tests::heavy();
    let site = Site::start().await;
    let cookie = victim_cookie(&site).await;
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut failures = Vec::new();
    for (place, pattern) in PLACES {
        let mut z_sum = 0.0;
        for coding in CODINGS {
            let m = measure(&sizes_of(&site, &cookie, pattern, coding, &mut seed).await);
            let line = format!(
                "{place:<34} {coding:<4}: right {:.2} B, wrong {:.2} B (sd {:.2}), z {:.2}, \
                 {} of 31 wrong guesses smaller",
                m.right, m.wrong, m.sd, m.z, m.rank
            );
            eprintln!("{line}");
            if m.z >= Z_BOUND {
                failures.push(line);
            }
            z_sum += m.z;
        }
        // The codings' samples are independent: under no dependence, their z's sum to a
        // normal of variance 3.
        let combined = z_sum / (CODINGS.len() as f64).sqrt();
        eprintln!("{place:<34} all codings: z {combined:.2}");
        if combined >= Z_BOUND {
            failures.push(format!("{place}: all codings together, z {combined:.2}"));
        }
    }
    assert!(
        failures.is_empty(),
        "the right guess compresses distinguishably better (a compression oracle):\n{}",
        failures.join("\n")
    );
}
