#!/usr/bin/env python3
"""Composer benchmark driver (run it through bench/run, which installs and builds first).

Four composers (`shell`, `nginx-ssi`, `tailor`, `podium`) each compose the same three
fragments (accounts user menu, dashboard overview, pricing teaser) into one page, in five
scenarios:

- `static`: the fragments are static 2-4 KB files served by an nginx origin (bench/static,
  one server block per fake service, under the fragment contract), so no service's rendering
  is in the figure: the composer's own cost.
- `services`: the fragments come from our three running services (release builds).
- `slow-fragment`: as `static`, but the dashboard overview comes from bench/delay-server.mjs,
  300 ms late.
- `slow-first`: as `static`, but the first fragment of the page, the accounts user menu,
  comes 300 ms late (a second delay server); the shell marks its slot `async`, Tailor its
  fragment `async`, nginx SSI cannot (Podium neither: it is left out). Measured: the time
  until the two fast fragments have arrived (fast_p50_ms) and until the last byte, the median
  of N sequential requests read as they stream; no wrk run (every page takes 300 ms).
- `browser`: as `static`, every request with Chromium's `Accept-Encoding`, `Accept` and
  `Accept-Language`: the shell answers zstd (level 3), nginx SSI gzip (`gzip on`, level 5,
  the shell's gzip level), Tailor and Podium brotli (Express's `compression`, quality 4).
- `signed-in`: as `static`, every request with a session cookie: the shell looks the
  session up at the session service (the static origin's `/internal/session`, its answer
  reused for 2 s) and signs the user into every fragment request; nginx SSI does the same
  with `auth_request` (cached 2 s per session). Tailor and Podium have no session layer, so
  only the shell and nginx SSI run it.

For each (scenario, system): start the composer alone, check that its page really holds the
three fragments, warm up, `wrk -t1 -cC -dD --latency` (requests/s, p50, p99, errors), then N
sequential `curl -w '%{time_starttransfer} %{time_total}'` (medians: ttfb_p50_ms,
total_p50_ms), (and the bytes of one page as sent, compressed or not, and its `Content-Encoding`), then the
composer's peak RSS (VmHWM, summed over nginx's master and workers),
then stop it. ROUNDS times (default 3, 1 with --quick), every composer once per round in
turn; a composer's row is its median round by requests/s (TTFB and total: the median over
rounds; RSS: the highest). Writes target/bench/compose.json (a list of rows {system, scenario, rps,
p50_ms, p99_ms, ttfb_p50_ms, total_p50_ms, errors, rss_mib, page_bytes, encoding}) and
target/bench/results.md.

Load goes to 127.0.0.1 only, each run bounded in time; only processes started here are
stopped, by PID.
"""

import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
HOST = "127.0.0.1"
SYSTEMS = ["shell", "nginx-ssi", "tailor", "podium"]
SCENARIOS = ["static", "services", "slow-fragment", "slow-first", "browser", "signed-in"]
SLOW_MS = 300
# The composers that take part in `slow-first` (Podium's layout has no async fragments).
SLOW_FIRST_SYSTEMS = ["shell", "nginx-ssi", "tailor"]
# The peers a scenario runs (Tailor and Podium have no session layer).
SCENARIO_SYSTEMS = {"signed-in": ["shell", "nginx-ssi"]}
# Chromium 131's headers for a navigation.
CHROMIUM = {
    "Accept-Encoding": "gzip, deflate, br, zstd",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
    "Accept-Language": "en-US,en;q=0.9",
}
SESSION_COOKIE = "mf_session=bench-session-0123456789abcdef"
# The request headers of each scenario (wrk, curl and the page check send them).
REQUEST_HEADERS = {"browser": CHROMIUM, "signed-in": {"Cookie": SESSION_COOKIE}}

# Ports: our services, the static origin (one per fake service), the delay server, composers.
SERVICES = {"accounts": 18400, "dashboard": 18300, "pricing": 18313}
ORIGIN = {"accounts": 18511, "dashboard": 18512, "pricing": 18513}
DELAY = 18522
DELAY_FIRST = 18523
COMPOSER = {"shell": 18000, "tailor": 18101, "podium": 18102, "nginx-ssi": 18103}
PAGE = {"shell": "/dashboard", "tailor": "/dashboard", "podium": "/", "nginx-ssi": "/dashboard"}
PODIUM_NAMES = {"accounts": "usermenu", "dashboard": "overview", "pricing": "teaser"}
FRAGMENTS = {"accounts": "user-menu", "dashboard": "overview", "pricing": "teaser"}


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def fail(message):
    log(f"error: {message}")
    sys.exit(1)


class Procs:
    """The processes started here, stopped by PID (SIGTERM, then SIGKILL after 5 s)."""

    def __init__(self, work):
        self.work = work
        self.all = []

    def start(self, name, argv, env=None, cwd=None):
        out = open(os.path.join(self.work, f"{name}.log"), "ab")
        p = subprocess.Popen(
            argv,
            env=dict(os.environ, **(env or {})),
            cwd=cwd or ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        p.bench_name = name
        self.all.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.all:
            self.all.remove(p)

    def stop_all(self):
        for p in list(reversed(self.all)):
            self.stop(p)


def http_get(url, timeout=2, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=timeout) as res:
        return res.status, res.read().decode("utf-8", "replace")


def wait_for(url, proc, seconds=30, headers=None):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            fail(f"{proc.bench_name} exited with {proc.returncode} before {url} answered (see its log)")
        try:
            if http_get(url, timeout=1, headers=headers)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    fail(f"{url} did not answer within {seconds} s")


def markers(scenario):
    """Strings the composed page must hold: each fragment's own root element (not a
    composer's fallback)."""
    if scenario == "services":
        return [f'data-fragment="{svc}/{frag}"' for svc, frag in FRAGMENTS.items()]
    return [f'data-fragment="{svc}/{frag}" data-origin="bench-static"' for svc, frag in FRAGMENTS.items()]


def readable_headers(scenario):
    """The scenario's request headers (a session cookie) but `Accept-Encoding`: answers
    that can be read."""
    return {k: v for k, v in REQUEST_HEADERS.get(scenario, {}).items() if k != "Accept-Encoding"}


def check_page(system, scenario, url, proc, seconds=20):
    """Polls the page until it holds the three fragments (the shell reads manifests after it
    is ready; Podium reads its manifests on first use)."""
    deadline = time.time() + seconds
    missing = []
    while time.time() < deadline:
        if proc.poll() is not None:
            fail(f"{system} exited with {proc.returncode} (see its log)")
        try:
            status, body = http_get(url, timeout=3, headers=readable_headers(scenario))
            missing = [m for m in markers(scenario) if m not in body]
            if status == 200 and not missing and "unavailable right now" not in body:
                return
        except OSError as e:
            missing = [str(e)]
        time.sleep(0.2)
    fail(f"{system} ({url}) did not compose the three fragments in the {scenario} scenario: missing {missing}")


def upstreams(scenario):
    """Base URLs of the three fragment servers of a scenario."""
    if scenario == "services":
        return {svc: f"http://{HOST}:{port}" for svc, port in SERVICES.items()}
    bases = {svc: f"http://{HOST}:{port}" for svc, port in ORIGIN.items()}
    if scenario == "slow-fragment":
        bases["dashboard"] = f"http://{HOST}:{DELAY}"
    if scenario == "slow-first":
        bases["accounts"] = f"http://{HOST}:{DELAY_FIRST}"
    return bases


def shell_config(scenario, work):
    """The shell's configuration: bench/shell.toml; in `slow-first` with the user menu's slot
    (the file's last table, its one [[chrome]] entry) `async`."""
    path = os.path.join(BENCH, "shell.toml")
    if scenario != "slow-first":
        return path
    async_path = os.path.join(work, "shell-slow-first.toml")
    with open(async_path, "w") as f:
        f.write(open(path).read() + 'mode = "async"\n')
    return async_path


def nginx_extra(scenario):
    """The lines nginx-ssi.conf gets in a scenario (see its header)."""
    lines = {"__GZIP__": "", "__AUTH_HTTP__": "", "__AUTH__": "", "__AUTH_LOCATION__": "", "__USER__": ""}
    if scenario == "browser":
        lines["__GZIP__"] = "gzip on; gzip_comp_level 5; gzip_min_length 1024; gzip_vary on;"
    if scenario == "signed-in":
        lines["__AUTH_HTTP__"] = "proxy_cache_path __PREFIX__/auth-cache keys_zone=auth:1m;"
        lines["__AUTH__"] = "auth_request /_session; auth_request_set $mf_user $upstream_http_x_mf_user;"
        lines["__AUTH_LOCATION__"] = (
            "location = /_session { internal; proxy_http_version 1.1; proxy_set_header Connection \"\"; "
            "proxy_pass_request_body off; proxy_set_header Content-Length \"\"; "
            "proxy_cache auth; proxy_cache_key $cookie_mf_session; proxy_cache_valid 200 401 2s; "
            "proxy_pass http://accounts/internal/session; }"
        )
        lines["__USER__"] = "proxy_set_header x-mf-user $mf_user;"
    return lines


def start_composer(procs, system, scenario, bin_dir, work):
    bases = upstreams(scenario)
    port = COMPOSER[system]
    urls_env = {
        "ACCOUNTS_URL": bases["accounts"],
        "DASHBOARD_URL": bases["dashboard"],
        "PRICING_URL": bases["pricing"],
        "PORT": str(port),
    }
    if system == "shell":
        services = ",".join(f"{svc}={bases[svc]}" for svc in ("pricing", "dashboard", "accounts"))
        return procs.start(
            system,
            [os.path.join(bin_dir, "shell"), "--port", str(port)],
            env={"SHELL_CONFIG": shell_config(scenario, work), "SHELL_SERVICES": services, "ADMIN_PORT": "0"},
        ), f"http://{HOST}:{port}/readyz"
    if scenario == "browser":
        urls_env["COMPRESS"] = "1"
    if system == "tailor":
        if scenario == "slow-first":
            urls_env["TEMPLATE"] = "dashboard-slow-first"
        return procs.start(system, ["node", "bench/peers/tailor.js"], env=urls_env), None
    if system == "podium":
        env = dict(urls_env)
        if scenario != "services":
            env["PODIUM_MANIFESTS"] = ",".join(
                f"{PODIUM_NAMES[svc]}={bases[svc]}/{PODIUM_NAMES[svc]}.podium.json" for svc in FRAGMENTS
            )
        return procs.start(system, ["node", "bench/peers/podium.mjs"], env=env), None
    if system == "nginx-ssi":
        prefix = os.path.join(work, f"nginx-ssi-{scenario}")
        os.makedirs(os.path.join(prefix, "html"), exist_ok=True)
        shutil.copy(os.path.join(BENCH, "peers", "nginx-dashboard.html"), os.path.join(prefix, "html", "dashboard.html"))
        conf = open(os.path.join(BENCH, "peers", "nginx-ssi.conf")).read()
        hostport = {svc: base.split("://", 1)[1] for svc, base in bases.items()}
        for key, value in nginx_extra(scenario).items():
            conf = conf.replace(key, value)
        for key, value in {
            "__PREFIX__": prefix,
            "__PORT__": str(port),
            "__WORKERS__": os.environ.get("NGINX_WORKERS", "2"),
            "__ACCOUNTS__": hostport["accounts"],
            "__DASHBOARD__": hostport["dashboard"],
            "__PRICING__": hostport["pricing"],
        }.items():
            conf = conf.replace(key, value)
        with open(os.path.join(prefix, "nginx.conf"), "w") as f:
            f.write(conf)
        subprocess.run(["chmod", "-R", "a+rX", prefix], check=True)
        return procs.start(system, ["nginx", "-c", os.path.join(prefix, "nginx.conf"), "-p", prefix]), None
    raise ValueError(system)


def process_tree(pid):
    """pid and its children (nginx: the master and its workers)."""
    pids = [pid]
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
        pids += [int(p) for p in out.split()]
    except OSError:
        pass
    return pids


def vm_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def to_ms(value):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if not m:
        return None
    n, unit = float(m.group(1)), m.group(2)
    return round(n * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit], 3)


def header_args(flag, headers):
    """`-H 'Name: value'` for each header."""
    return [arg for name, value in headers.items() for arg in (flag, f"{name}: {value}")]


def wrk(url, connections, duration, headers):
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", *header_args("-H", headers), url],
        capture_output=True,
        text=True,
        timeout=duration + 30,
    ).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    if not (rps and p50 and p99):
        fail(f"could not read wrk's output for {url}:\n{out}")
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(x) for x in sock.groups())
    return float(rps.group(1)), to_ms(p50.group(1)), to_ms(p99.group(1)), errors, out


def curl_times(url, n, headers):
    """Medians of first and last byte over n requests, the bytes of a page as sent (not
    decoded) and its Content-Encoding."""
    ttfb, total, size, encoding = [], [], 0, ""
    for _ in range(n):
        out = subprocess.run(
            [
                "curl", "-s", "-o", "/dev/null", "--max-time", "5", *header_args("-H", headers),
                "-w", "%{http_code} %{time_starttransfer} %{time_total} %{size_download} [%header{content-encoding}]", url,
            ],
            capture_output=True,
            text=True,
        ).stdout.split()
        if len(out) != 5 or out[0] != "200":
            fail(f"curl {url} answered {out}")
        ttfb.append(float(out[1]) * 1000)
        total.append(float(out[2]) * 1000)
        size, encoding = int(out[3]), out[4].strip("[]") or "identity"
    return round(statistics.median(ttfb), 2), round(statistics.median(total), 2), size, encoding


def fast_times(url, n):
    """Medians over n sequential requests, read as they stream: ms until the two fast
    fragments (dashboard overview, pricing teaser) have arrived, and until the last byte."""
    from urllib.parse import urlsplit
    import http.client

    fast_markers = [m.encode() for m in markers("slow-first") if "accounts/" not in m]
    parts = urlsplit(url)
    fast, total = [], []
    for _ in range(n):
        started = time.perf_counter()
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
        conn.request("GET", parts.path)
        res = conn.getresponse()
        body, arrived = b"", None
        while chunk := res.read1(65536):
            body += chunk
            if arrived is None and all(m in body for m in fast_markers):
                arrived = time.perf_counter() - started
        ended = time.perf_counter() - started
        conn.close()
        if res.status != 200 or arrived is None:
            fail(f"GET {url} answered {res.status} without both fast fragments")
        fast.append(arrived * 1000)
        total.append(ended * 1000)
    return round(statistics.median(fast), 2), round(statistics.median(total), 2)


def slow_first_markdown(rows):
    lines = [
        "",
        f"`slow-first`: the page's first fragment (the user menu) {SLOW_MS} ms late; time until the two fast "
        "fragments have arrived and until the last byte (medians of sequential requests read as they stream):",
        "",
        "| composer | first fragment | fast fragments arrived (p50) | last byte (p50) |",
        "| --- | --- | ---: | ---: |",
    ]
    how = {"shell": "slot `async`", "tailor": "fragment `async`", "nginx-ssi": "in order (no async)"}
    for r in rows:
        lines.append(f"| {r['system']} | {how.get(r['system'], '')} | {r['fast_p50_ms']:.2f} ms | {r['total_p50_ms']:.2f} ms |")
    return "\n".join(lines) + "\n"


def run_slow_first(procs, systems, bin_dir, work, samples, rounds):
    """The `slow-first` rows: every composer that can take part, `rounds` times in turn."""
    runs = {system: [] for system in systems if system in SLOW_FIRST_SYSTEMS}
    for round_no in range(1, rounds + 1):
        for system in runs:
            proc, ready = start_composer(procs, system, "slow-first", bin_dir, work)
            url = f"http://{HOST}:{COMPOSER[system]}{PAGE[system]}"
            wait_for(ready or url, proc)
            check_page(system, "slow-first", url, proc)
            fast_times(url, 3)  # warm-up
            fast, total = fast_times(url, samples)
            procs.stop(proc)
            runs[system].append((fast, total))
            log(f"   slow-first {system:>9} (round {round_no}/{rounds}): fast fragments {fast:>7.2f} ms  last byte {total:>7.2f} ms")
    return [
        {
            "system": system,
            "scenario": "slow-first",
            "fast_p50_ms": statistics.median(r[0] for r in results),
            "total_p50_ms": statistics.median(r[1] for r in results),
        }
        for system, results in runs.items()
    ]


def markdown(rows, settings):
    by = {(r["scenario"], r["system"]): r for r in rows}
    lines = [
        f"Composing one page of the same three fragments (accounts user menu, dashboard overview, "
        f"pricing teaser), {settings}.",
        "",
        "| scenario | composer | requests/s | p50 ms | p99 ms | TTFB p50 ms | total p50 ms | errors | peak RSS MiB | bytes/page | encoding |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['scenario']} | {r['system']} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
            f"{r['ttfb_p50_ms']:.2f} | {r['total_p50_ms']:.2f} | {r['errors']} | {r['rss_mib']:.1f} | "
            f"{r['page_bytes']:,} | {r['encoding']} |"
        )
    lines += ["", "Throughput of the shell beside each peer (requests/s ratio):", ""]
    lines += ["| scenario | shell / nginx-ssi | shell / tailor | shell / podium |", "| --- | ---: | ---: | ---: |"]
    for scenario in [s for s in SCENARIOS if s != "slow-first"]:
        shell = by.get((scenario, "shell"))
        if not shell:
            continue
        cells = []
        for peer in ("nginx-ssi", "tailor", "podium"):
            other = by.get((scenario, peer))
            cells.append(f"{shell['rps'] / other['rps']:.2f}x" if other and other["rps"] else "n/a")
        lines.append(f"| {scenario} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: compose.py BIN_DIR OUT_DIR (run bench/run)")
    bin_dir, out_dir = sys.argv[1], sys.argv[2]
    quick = os.environ.get("QUICK") == "1"
    duration = int(os.environ.get("DURATION", "3" if quick else "10"))
    warmup = int(os.environ.get("WARMUP", "1" if quick else "2"))
    connections = int(os.environ.get("CONNECTIONS", "32"))
    samples = int(os.environ.get("SAMPLES", "11" if quick else "31"))
    rounds = int(os.environ.get("ROUNDS", "1" if quick else "3"))
    systems = os.environ.get("SYSTEMS", ",".join(SYSTEMS)).split(",")
    scenarios = os.environ.get("SCENARIOS", ",".join(SCENARIOS)).split(",")
    for s in systems:
        if s not in SYSTEMS:
            fail(f"unknown system {s!r} (one of {SYSTEMS})")
    for s in scenarios:
        if s not in SCENARIOS:
            fail(f"unknown scenario {s!r} (one of {SCENARIOS})")

    load_before = os.getloadavg()[0]
    work = tempfile.mkdtemp(prefix="mosaic-bench-")
    os.chmod(work, 0o755)  # nginx workers run as an unprivileged user
    procs = Procs(work)
    rows = []
    slow_first = []
    try:
        env = {"CONTEXT_SECRET": "bench-context-secret-0123456789", "RUST_LOG": "warn"}
        os.environ.update(env)
        # Our three services (the `services` scenario).
        if "services" in scenarios:
            svc_procs = {
                "pricing": procs.start("svc-pricing", [os.path.join(bin_dir, "svc-pricing"), "--port", str(SERVICES["pricing"])]),
                "dashboard": procs.start("svc-dashboard", [os.path.join(bin_dir, "svc-dashboard"), "--port", str(SERVICES["dashboard"])]),
                "accounts": procs.start(
                    "svc-accounts",
                    [os.path.join(bin_dir, "svc-accounts"), "--port", str(SERVICES["accounts"]), "--database", os.path.join(work, "accounts.db")],
                ),
            }
            for svc, port in SERVICES.items():
                wait_for(f"http://{HOST}:{port}/readyz", svc_procs[svc])
        # The static origin (nginx) and the delay server.
        if any(s != "services" for s in scenarios):
            static = os.path.join(work, "static")
            shutil.copytree(os.path.join(BENCH, "static"), static)
            prefix = os.path.join(work, "origin")
            os.makedirs(prefix)
            shutil.copy(os.path.join(static, "contract.conf"), os.path.join(prefix, "contract.conf"))
            conf = open(os.path.join(static, "origin.conf")).read()
            for key, value in {
                "__PREFIX__": prefix,
                "__STATIC__": static,
                "__ACCOUNTS_PORT__": str(ORIGIN["accounts"]),
                "__DASHBOARD_PORT__": str(ORIGIN["dashboard"]),
                "__PRICING_PORT__": str(ORIGIN["pricing"]),
            }.items():
                conf = conf.replace(key, value)
            with open(os.path.join(prefix, "nginx.conf"), "w") as f:
                f.write(conf)
            subprocess.run(["chmod", "-R", "a+rX", work], check=True)
            origin = procs.start("origin", ["nginx", "-c", os.path.join(prefix, "nginx.conf"), "-p", prefix])
            for port in ORIGIN.values():
                wait_for(f"http://{HOST}:{port}/readyz", origin)
            delay = procs.start(
                "delay-server",
                ["node", "bench/delay-server.mjs"],
                env={"ROOT": os.path.join(static, "dashboard"), "PORT": str(DELAY), "DELAY_MS": str(SLOW_MS)},
            )
            wait_for(f"http://{HOST}:{DELAY}/readyz", delay)
            delay_first = procs.start(
                "delay-server-first",
                ["node", "bench/delay-server.mjs"],
                env={"ROOT": os.path.join(static, "accounts"), "PORT": str(DELAY_FIRST), "DELAY_MS": str(SLOW_MS)},
            )
            wait_for(f"http://{HOST}:{DELAY_FIRST}/readyz", delay_first)
            # The fake services must pass the shell's own contract check.
            for name, base in [*((f"origin {s}", f"http://{HOST}:{p}") for s, p in ORIGIN.items()), ("delay server", f"http://{HOST}:{DELAY}")]:
                res = subprocess.run([os.path.join(bin_dir, "shell"), "check", base], capture_output=True, text=True)
                if res.returncode != 0:
                    fail(f"the {name} ({base}) fails `shell check`:\n{res.stdout}{res.stderr}")
            log("static origin and delay server pass `shell check`")

        # Rounds: every system once per round, in turn, so that a drift of the machine's
        # speed (on this shared 2-core VM the same run varies by 20% from one minute to the
        # next) falls on every system alike; each system's row is its median round.
        if "slow-first" in scenarios:
            slow_first = run_slow_first(procs, systems, bin_dir, work, samples, rounds)
        for scenario in [s for s in scenarios if s != "slow-first"]:
            in_scenario = [s for s in systems if s in SCENARIO_SYSTEMS.get(scenario, SYSTEMS)]
            headers = REQUEST_HEADERS.get(scenario, {})
            runs = {system: [] for system in in_scenario}
            for round_no in range(1, rounds + 1):
                for system in in_scenario:
                    proc, ready = start_composer(procs, system, scenario, bin_dir, work)
                    url = f"http://{HOST}:{COMPOSER[system]}{PAGE[system]}"
                    wait_for(ready or url, proc, headers=readable_headers(scenario))
                    check_page(system, scenario, url, proc)
                    subprocess.run(
                        ["wrk", "-t1", f"-c{connections}", f"-d{warmup}s", *header_args("-H", headers), url],
                        capture_output=True,
                        timeout=warmup + 30,
                    )
                    rps, p50, p99, errors, _ = wrk(url, connections, duration, headers)
                    ttfb, total, page_bytes, encoding = curl_times(url, samples, headers)
                    pids = process_tree(proc.pid)
                    rss = sum(vm_kib(pid, "VmHWM") for pid in pids)
                    procs.stop(proc)
                    runs[system].append(
                        {
                            "rps": rps, "p50_ms": p50, "p99_ms": p99, "ttfb_p50_ms": ttfb, "total_p50_ms": total,
                            "errors": errors, "rss": rss, "page_bytes": page_bytes, "encoding": encoding,
                        }
                    )
                    log(
                        f"{scenario:>13} {system:>9} (round {round_no}/{rounds}): {rps:>9,.0f} req/s  p50 {p50:>7.2f} ms  p99 {p99:>7.2f} ms  "
                        f"TTFB {ttfb:>7.2f} ms  total {total:>7.2f} ms  {page_bytes:,} B {encoding}  errors {errors}  RSS {rss / 1024:.1f} MiB ({len(pids)} process{'es' if len(pids) > 1 else ''})"
                    )
            for system in in_scenario:
                by_rps = sorted(runs[system], key=lambda r: r["rps"])
                median = by_rps[len(by_rps) // 2]
                rows.append(
                    {
                        "system": system,
                        "scenario": scenario,
                        "rps": round(median["rps"], 1),
                        "p50_ms": median["p50_ms"],
                        "p99_ms": median["p99_ms"],
                        "ttfb_p50_ms": statistics.median(r["ttfb_p50_ms"] for r in runs[system]),
                        "total_p50_ms": statistics.median(r["total_p50_ms"] for r in runs[system]),
                        "errors": sum(r["errors"] for r in runs[system]),
                        "rss_mib": round(max(r["rss"] for r in runs[system]) / 1024, 1),
                        "page_bytes": median["page_bytes"],
                        "encoding": median["encoding"],
                    }
                )
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)

    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "compose.json"), "w") as f:
        json.dump(rows, f, indent=2)
        f.write("\n")
    settings = (
        f"`wrk -t1 -c{connections} -d{duration}s` after a {warmup} s warm-up, TTFB and total the median of "
        f"{samples} sequential curl requests, "
        f"{'the median of ' + str(rounds) + ' rounds (every composer once per round, in turn), ' if rounds > 1 else ''}"
        f"{os.cpu_count()} cores, loopback, release builds, "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}{' (--quick)' if quick else ''}; 1-minute load average "
        f"{load_before:.1f} before the run, {os.getloadavg()[0]:.1f} after"
    )
    with open(os.path.join(out_dir, "slow-first.json"), "w") as f:
        json.dump(slow_first, f, indent=2)
        f.write("\n")
    text = (markdown(rows, settings) if rows else f"{settings}.\n") + (slow_first_markdown(slow_first) if slow_first else "")
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
