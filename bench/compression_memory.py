#!/usr/bin/env python3
"""The shell's memory under many compressed pages at once (started by bench/compression-memory).

For each count N (CONNECTIONS, default 300,1500) a fresh stack is started on 127.0.0.1
(svc-pricing, svc-dashboard, svc-accounts, the shell; ports 19xxx; a temporary accounts
database), then N client threads each open a connection, wait for all the others, and send
one `GET /dashboard` with `Accept-Encoding: <CODING>` (default br), reading the answer to its
end. The shell's VmRSS is sampled every 10 ms during the burst: reported are its idle RSS, the
peak during the burst, VmHWM after it, and how the answers came (status, Content-Encoding).

Writes the JSON given as second argument and prints it. Load goes to 127.0.0.1 only; only the
processes started here are stopped, by PID; every wait is bounded.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading

# The RSS sampler and /proc reader of bench/memory.py (this script runs from bench/).
from memory import Sampler, status_kib
import time

HOST = "127.0.0.1"
PORTS = {"svc-pricing": 19313, "svc-dashboard": 19300, "svc-accounts": 19400, "shell": 19000}


def mib(kib):
    return round(kib / 1024, 1)


def request(port, path, headers=None, timeout=30):
    """One HTTP/1.1 request with `Connection: close`; (status, headers dict, body bytes)."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {HOST}:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        k, _, v = line.partition(":")
        parsed[k.strip().lower()] = v.strip()
    return int(status_line.split()[1]), parsed, body


def wait_ready(name, port, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if request(port, "/readyz", timeout=1)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"error: {name} did not answer /readyz on port {port} within {seconds} s")


def burst(port, count, coding):
    """`count` connections, opened first, then one request each, all released at once."""
    start = threading.Barrier(count + 1, timeout=120)
    results = [None] * count

    def one(i):
        try:
            s = socket.create_connection((HOST, port), timeout=60)
        except OSError as e:
            results[i] = f"connect: {e.errno}"
            start.wait()
            return
        try:
            start.wait()
            req = (
                f"GET /dashboard HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n"
                f"Accept-Encoding: {coding}\r\n\r\n"
            )
            s.sendall(req.encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            head = data.partition(b"\r\n\r\n")[0].decode("latin-1").lower()
            status = head.split("\r\n")[0].split()[1] if head else "none"
            enc = "identity"
            for line in head.split("\r\n")[1:]:
                if line.startswith("content-encoding:"):
                    enc = line.split(":", 1)[1].strip()
            results[i] = f"{status} {enc}"
        except (OSError, threading.BrokenBarrierError) as e:
            results[i] = f"error: {type(e).__name__}"
        finally:
            s.close()

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    start.wait()
    began = time.time()
    for t in threads:
        t.join(timeout=120)
    counts = {}
    for r in results:
        counts[str(r)] = counts.get(str(r), 0) + 1
    return counts, time.time() - began


def run_once(bin_dir, count, coding):
    work = tempfile.mkdtemp(prefix="mosaic-compression-")
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
        start("svc-accounts", "--database", os.path.join(work, "accounts.db"))
        services = ",".join(
            f"{n}=http://{HOST}:{PORTS['svc-' + n]}" for n in ("pricing", "dashboard", "accounts")
        )
        start("shell", extra_env={"SHELL_SERVICES": services, "ADMIN_PORT": "0"})
        for name, port in PORTS.items():
            wait_ready(name, port)
        time.sleep(1)
        status, headers, _ = request(PORTS["shell"], "/dashboard", {"Accept-Encoding": coding})
        if status != 200:
            sys.exit(f"error: the shell's /dashboard answered {status}")
        time.sleep(1)
        shell = procs["shell"].pid
        idle = mib(status_kib(shell, "VmRSS"))
        with Sampler(shell, every=0.01) as sampler:
            answers, seconds = burst(PORTS["shell"], count, coding)
        time.sleep(0.5)
        row = {
            "connections": count,
            "coding": coding,
            "idle_rss_mib": idle,
            "peak_rss_mib": mib(sampler.peak),
            "hwm_mib": mib(status_kib(shell, "VmHWM")),
            "after_rss_mib": mib(status_kib(shell, "VmRSS")),
            "seconds": round(seconds, 2),
            "answers": answers,
        }
        print(json.dumps(row), flush=True)
        return row
    finally:
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: compression_memory.py BIN_DIR OUT_JSON (run bench/compression-memory)")
    bin_dir, out_path = sys.argv[1], sys.argv[2]
    counts = [int(c) for c in os.environ.get("CONNECTIONS", "300,1500").split(",")]
    coding = os.environ.get("CODING", "br")
    rows = [run_once(bin_dir, n, coding) for n in counts]
    with open(out_path, "w") as f:
        json.dump(rows, f, indent=2)
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
