#!/usr/bin/env python3
"""Memory run: RSS of every service and the shell, idle and under load (release builds).

Started by bench/memory, which builds the binaries and passes their folder. Starts
svc-pricing, svc-dashboard, svc-accounts and the shell on 127.0.0.1 (ports 19xxx, a fresh
temporary accounts database), then:

1. idle: VmRSS of each process once they are ready and have settled;
2. 60 concurrent sign-ups, then 200 more (260 in all), each a burst of that many client
   threads posting at once to svc-accounts; svc-accounts' VmRSS is sampled every 20 ms
   during each burst (peak) and read again after it (and after a rest);
3. a minute of page load on the shell (wrk, GET /dashboard, 32 connections): the shell's
   VmRSS during and after, its VmHWM, and every service's VmRSS after.

Writes target/bench/memory.json and prints it. Stdlib only. Load goes to 127.0.0.1 only;
only the processes started here are stopped, by PID.
"""

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HOST = "127.0.0.1"
PORTS = {"svc-pricing": 19313, "svc-dashboard": 19300, "svc-accounts": 19400, "shell": 19000}
PASSWORD = "correct horse battery staple"


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def mib(kib):
    return round(kib / 1024, 1)


def get(port, path, timeout=5):
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        res = conn.getresponse()
        return res.status, res.read().decode("utf-8", "replace")
    finally:
        conn.close()


def wait_ready(name, port, path="/readyz", seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if get(port, path, timeout=1)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"error: {name} did not answer {path} on port {port} within {seconds} s")


class Sampler:
    """Samples a process' VmRSS every `every` seconds while running; keeps the peak."""

    def __init__(self, pid, every=0.02):
        self.pid, self.every, self.peak = pid, every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, status_kib(self.pid, "VmRSS"))
            time.sleep(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, status_kib(self.pid, "VmRSS"))


def csrf_token(port):
    status, html = get(port, "/fragments/account")
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if status != 200 or not m:
        sys.exit(f"error: svc-accounts /fragments/account gave no form token (HTTP {status})")
    return m.group(1)


def sign_up_burst(port, token, first, count):
    """`count` client threads, released together, each posting one sign-up. Returns the
    statuses (303 is success) and the burst's wall time."""
    start = threading.Barrier(count + 1)
    statuses = [None] * count

    def one(i):
        body = urllib.parse.urlencode(
            {
                "name": "Memory Bench",
                "email": f"memory{first + i}@example.com",
                "password": PASSWORD,
                "plan": "pro",
                "csrf_token": token,
            }
        )
        conn = http.client.HTTPConnection(HOST, port, timeout=120)
        try:
            conn.connect()
            start.wait()
            conn.request("POST", "/actions/sign-up", body, {"content-type": "application/x-www-form-urlencoded"})
            res = conn.getresponse()
            res.read()
            statuses[i] = res.status
        except OSError as e:
            statuses[i] = f"error: {e}"
        finally:
            conn.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    started = time.time()
    start.wait()
    for t in threads:
        t.join()
    return statuses, time.time() - started


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: memory.py BIN_DIR OUT_JSON (run bench/memory)")
    bin_dir, out_path = sys.argv[1], sys.argv[2]
    load_seconds = int(os.environ.get("LOAD_SECONDS", "60"))
    rest_seconds = float(os.environ.get("REST_SECONDS", "5"))
    work = tempfile.mkdtemp(prefix="mosaic-memory-")
    env = dict(os.environ, CONTEXT_SECRET="bench-context-secret-0123456789", RUST_LOG="warn")
    procs = {}

    def start(name, *args, extra_env=None):
        log = open(os.path.join(work, f"{name}.log"), "w")
        procs[name] = subprocess.Popen(
            [os.path.join(bin_dir, name), "--port", str(PORTS[name]), *args],
            env=dict(env, **(extra_env or {})),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    try:
        start("svc-pricing")
        start("svc-dashboard")
        # 260 sign-ups from one address: lift the sign-up limits (env only, so older builds
        # without them start too).
        start(
            "svc-accounts",
            "--database",
            os.path.join(work, "accounts.db"),
            extra_env={"ACCOUNTS_SIGN_UP_LIMIT_PER_CLIENT": "100000", "ACCOUNTS_SIGN_UP_LIMIT_GLOBAL": "100000"},
        )
        services = ",".join(
            f"{n}=http://{HOST}:{PORTS['svc-' + n]}" for n in ("pricing", "dashboard", "accounts")
        )
        start("shell", extra_env={"SHELL_SERVICES": services, "ADMIN_PORT": "0"})
        for name, port in PORTS.items():
            wait_ready(name, port)
        # The shell reads the manifests after it is ready; one page proves it composes.
        time.sleep(1)
        status, page = get(PORTS["shell"], "/dashboard")
        if status != 200 or 'data-fragment="dashboard/overview"' not in page:
            sys.exit(f"error: the shell's /dashboard did not compose (HTTP {status})")
        time.sleep(2)
        pids = {name: p.pid for name, p in procs.items()}
        idle = {name: mib(status_kib(pid, "VmRSS")) for name, pid in pids.items()}
        print("idle RSS (MiB):", idle, flush=True)

        accounts = pids["svc-accounts"]
        token = csrf_token(PORTS["svc-accounts"])
        sign_ups = []
        first = 0
        for count in (60, 200):
            with Sampler(accounts) as sampler:
                statuses, seconds = sign_up_burst(PORTS["svc-accounts"], token, first, count)
            first += count
            after = mib(status_kib(accounts, "VmRSS"))
            ok = sum(1 for s in statuses if s == 303)
            bad = [s for s in statuses if s != 303]
            row = {
                "concurrent": count,
                "total_so_far": first,
                "ok": ok,
                "failed": len(bad),
                "seconds": round(seconds, 2),
                "peak_rss_mib": mib(sampler.peak),
                "rss_after_mib": after,
            }
            if bad:
                row["failures"] = sorted({str(s) for s in bad})
            sign_ups.append(row)
            print("sign-ups:", row, flush=True)
        time.sleep(rest_seconds)
        accounts_rested = mib(status_kib(accounts, "VmRSS"))
        accounts_hwm = mib(status_kib(accounts, "VmHWM"))
        print(f"svc-accounts after a {rest_seconds:g} s rest: {accounts_rested} MiB (VmHWM {accounts_hwm})", flush=True)

        shell = pids["shell"]
        url = f"http://{HOST}:{PORTS['shell']}/dashboard"
        with Sampler(shell, every=0.2) as sampler:
            wrk = subprocess.run(
                ["wrk", "-t1", "-c32", f"-d{load_seconds}s", "--latency", url],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", wrk).group(1))
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", wrk)
        socket_errors = re.search(r"Socket errors: (.*)", wrk)
        shell_after = mib(status_kib(shell, "VmRSS"))
        page_load = {
            "url": "/dashboard",
            "seconds": load_seconds,
            "tool": "wrk -t1 -c32",
            "rps": rps,
            "non_2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": socket_errors.group(1).strip() if socket_errors else "none",
            "shell_peak_rss_mib": mib(sampler.peak),
            "shell_rss_after_mib": shell_after,
            "shell_vmhwm_mib": mib(status_kib(shell, "VmHWM")),
        }
        print("page load:", page_load, flush=True)
        time.sleep(2)
        after_all = {name: mib(status_kib(pid, "VmRSS")) for name, pid in pids.items()}
        hwm = {name: mib(status_kib(pid, "VmHWM")) for name, pid in pids.items()}

        result = {
            "date": time.strftime("%Y-%m-%d", time.gmtime()),
            "cpus": os.cpu_count(),
            "build": "release",
            "hash_concurrency": os.environ.get("ACCOUNTS_HASH_CONCURRENCY", "default"),
            "load_average_1m_at_end": round(os.getloadavg()[0], 1),
            "idle_rss_mib": idle,
            "sign_ups": sign_ups,
            "accounts_rss_after_rest_mib": accounts_rested,
            "accounts_vmhwm_mib": accounts_hwm,
            "page_load": page_load,
            "rss_after_all_mib": after_all,
            "vmhwm_mib": hwm,
            "targets": {
                "accounts_under_64_mib_after_260_sign_ups": accounts_rested < 64
                and all(r["peak_rss_mib"] < 64 for r in sign_ups),
                "services_idle_under_20_mib": all(
                    v < 20 for k, v in idle.items() if k.startswith("svc-")
                ),
                "shell_under_32_mib_after_a_minute_of_load": shell_after < 32
                and page_load["shell_peak_rss_mib"] < 32,
            },
        }
        os.makedirs(os.path.dirname(out_path), exist_ok=True)
        with open(out_path, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
        print(json.dumps(result, indent=2))
        failed = [s for r in sign_ups for s in r.get("failures", [])]
        if failed:
            sys.exit(f"error: some sign-ups failed: {failed}")
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


if __name__ == "__main__":
    main()
