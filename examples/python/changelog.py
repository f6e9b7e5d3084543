#!/usr/bin/env python3
"""svc-changelog: the "What's new" team's fragment server, in Python 3 with the standard
library only (no framework), as a worked example of a team that joins Mosaic in another
language by speaking the fragment contract (DESIGN.md, docs/NEW-TEAM.md).

Routes:
  GET  /manifest.json          the contract manifest
  GET  /fragments/entries      the changelog, a greeting for the signed-in user, a feedback form
  GET  /fragments/teaser       the latest change, a link to the section
  POST /actions/feedback       form action: 422 + fragment with inline errors, or 303
  GET  /                       standalone preview (a full page, Stimulus via an import map)
  GET  /healthz, /readyz       liveness, readiness (503 while stopping)
  GET  /metrics                Prometheus text: requests by route and status, their time
  GET  /assets/...             own CSS and Stimulus controller (ETag, 304), and the shared
                               ones read from shared-ui/assets when that folder is there

Run:  python3 examples/python/changelog.py            (http://127.0.0.1:5000/)
      python3 examples/python/changelog.py --help
      python3 examples/python/changelog.py healthcheck
"""

import argparse
import base64
import hashlib
import hmac
import html
import ipaddress
import json
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME = "changelog"
DEFAULT_PORT = 5000
DEV_CONTEXT_SECRET = "dev-only-context-secret-change-me"
HERE = os.path.dirname(os.path.abspath(__file__))
STATIC = os.path.join(HERE, "static")
DEFAULT_SHARED_ASSETS = os.path.normpath(os.path.join(HERE, "..", "..", "shared-ui", "assets"))
MAX_BODY = 8 * 1024
MAX_MESSAGE = 500
MIN_MESSAGE = 3

# Header names of the contract (shared-ui/src/headers.rs).
REQUEST_ID = "x-request-id"
BASE_PATH = "x-mf-base-path"
USER_CONTEXT = "x-mf-user"
FRAGMENT_VERSION = "x-fragment-version"

# The shared assets shared-ui serves under /assets/shared/, and where they are in its folder.
SHARED_FILES = {
    "stimulus-3.2.2.js": "vendor/stimulus-3.2.2.js",
    "boot.js": "boot.js",
    "shared.css": "shared.css",
    "favicon.svg": "favicon.svg",
}
STIMULUS_URL = "/assets/shared/stimulus-3.2.2.js"
IMPORT_MAP = json.dumps({"imports": {"@hotwired/stimulus": STIMULUS_URL}}, separators=(",", ":"))

ENTRIES = [
    {
        "id": "2026-11-csv-export",
        "date": "2026-11-24",
        "tag": "New",
        "title": "Export any widget as CSV",
        "text": "Every dashboard widget now has an Export button that downloads its data.",
    },
    {
        "id": "2026-11-yearly-billing",
        "date": "2026-11-10",
        "tag": "Improved",
        "title": "Yearly billing saves up to 17%",
        "text": "Switch the pricing page to yearly to see the discounted price of each plan.",
    },
    {
        "id": "2026-10-faster-pages",
        "date": "2026-10-28",
        "tag": "Faster",
        "title": "Pages stream as soon as they are ready",
        "text": "The site now sends each part of a page the moment it is ready.",
    },
]
ENTRY_IDS = [e["id"] for e in ENTRIES]

_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9_~-][A-Za-z0-9_.~-]*$")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_TRACEPARENT_RE = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
_B64URL_RE = re.compile(r"^[A-Za-z0-9_-]*$")


# ---------------------------------------------------------------------------------------
# Pure helpers (unit-tested)


def is_safe_path(path):
    """A service-relative path, as shared_ui::contract::is_safe_path: one leading '/', no
    '.', '..' or empty segment, only A-Za-z0-9/-_.~, at most 200 bytes."""
    if not isinstance(path, str) or len(path) > 200 or not path.startswith("/"):
        return False
    if path == "/":
        return True
    segments = path.split("/")[1:]
    return all(s not in ("", ".", "..") and re.fullmatch(r"[A-Za-z0-9_.~-]+", s) for s in segments)


def safe_base_path(value):
    """The x-mf-base-path to prefix our own URLs with, or '' when absent or unsafe."""
    if not value or value == "/" or not is_safe_path(value):
        return ""
    if not all(_SAFE_SEGMENT.match(s) for s in value.split("/")[1:]):
        return ""
    return value


def request_id(value):
    """The caller's request id if well-formed, else a new one."""
    if value and _REQUEST_ID_RE.match(value):
        return value
    return uuid.uuid4().hex


def _b64url_decode(text):
    """Strict unpadded base64url, as Rust's URL_SAFE_NO_PAD: no '=', no stray characters,
    no non-canonical trailing bits."""
    if not _B64URL_RE.match(text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") != text:
        raise ValueError("non-canonical base64url")
    return raw


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


class _Pairs(list):
    """A JSON object's (key, value) pairs in order, so that a key given twice can be seen."""


_CONTEXT_FIELDS = ("id", "name", "plan", "exp")


def _context_fields(data):
    """The four fields of a parsed context object, or None when one is given twice (serde
    refuses a duplicate field; other keys are ignored, as serde ignores unknown fields)."""
    if not isinstance(data, _Pairs):
        return None
    fields = {}
    for key, value in data:
        if key in _CONTEXT_FIELDS:
            if key in fields:
                return None
            fields[key] = value
    return fields


def verify_context(secret, value, now=None):
    """The signed-in user of an x-mf-user value, or None (signed out).

    Exactly shared_ui::context::ContextKey::verify: `base64url(json).base64url(tag)` where
    tag = HMAC-SHA256(secret, json), compared in constant time; the JSON holds `id` (i64),
    `name`, `plan` (strings) and `exp` (Unix seconds, u64) which must be in the future.
    Anything unsigned, forged, malformed or expired reads as signed out."""
    if not secret or not isinstance(value, str) or "." not in value:
        return None
    payload, tag = value.split(".", 1)
    try:
        raw = _b64url_decode(payload)
        tag = _b64url_decode(tag)
    except ValueError:
        return None
    expected = hmac.new(secret.encode("utf-8"), raw, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, tag):
        return None
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant,
                          object_pairs_hook=_Pairs)
        # A lone surrogate (`"\ud800"`) is not Unicode text: serde_json refuses it.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except ValueError:
        return None
    data = _context_fields(data)
    if data is None:
        return None
    uid, name, plan, exp = (data.get(k) for k in _CONTEXT_FIELDS)
    if type(uid) is not int or not -(2**63) <= uid < 2**63:
        return None
    if type(exp) is not int or not 0 <= exp < 2**64:
        return None
    if not isinstance(name, str) or not isinstance(plan, str):
        return None
    if exp <= int(time.time() if now is None else now):
        return None
    return {"id": uid, "name": name, "plan": plan}


def sign_context(secret, user, exp):
    """The header value for `user` valid until `exp` (for tests and tools; the shell signs)."""
    raw = json.dumps({**user, "exp": exp}, separators=(",", ":")).encode("utf-8")
    tag = hmac.new(secret.encode("utf-8"), raw, hashlib.sha256).digest()
    enc = lambda b: base64.urlsafe_b64encode(b).decode("ascii").rstrip("=")  # noqa: E731
    return f"{enc(raw)}.{enc(tag)}"


def if_none_match_hits(header, etag):
    """Whether an If-None-Match list (weak tags, '*') matches `etag`."""
    if not header:
        return False
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


def read_or_create_secret(path):
    """The secret in `path`; when there is no such file, a random one is written there first
    (temporary file, then os.link, which fails if another process got there first: then
    everyone reads the one that won). Raises SettingError."""
    name = "--context-secret-file / CONTEXT_SECRET_FILE"
    if not os.path.exists(path):
        folder = os.path.dirname(path) or "."
        tmp = os.path.join(folder, f".context-secret-{uuid.uuid4().hex}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise SettingError(name, f"cannot write a new secret beside {path}: {e}") from e
        try:
            os.link(tmp, path)
            log("INFO", "-", f"generated a new context secret path={path}")
        except FileExistsError:
            pass
        except OSError as e:
            raise SettingError(name, f"cannot create {path}: {e}") from e
        finally:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    try:
        with open(path, encoding="utf-8") as f:
            secret = f.read().strip()
    except (OSError, UnicodeDecodeError) as e:
        raise SettingError(name, f"cannot read {path}: {e}") from e
    if len(secret.encode("utf-8")) < 16:
        raise SettingError(name, f"{path} holds fewer than 16 bytes")
    return secret


# Where log lines go: stderr (tests put a buffer here).
LOG_STREAM = None


def log(level, rid, message):
    """One log line on stderr, with the request id."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    stream = LOG_STREAM or sys.stderr
    stream.write(f"{stamp} {level} {NAME} request_id={rid} {message}\n")
    stream.flush()


# ---------------------------------------------------------------------------------------
# Settings


class SettingError(Exception):
    """A setting that cannot be used; the message names it."""

    def __init__(self, name, problem):
        super().__init__(f"invalid setting {name}: {problem}")
        self.name = name


def parser():
    env = os.environ.get
    p = argparse.ArgumentParser(
        prog="changelog.py",
        description="svc-changelog: the 'What's new' fragment server (Python, stdlib only). "
        "Flags win over environment variables.",
    )
    p.add_argument("command", nargs="?", choices=["serve", "healthcheck"], default="serve",
                   help="serve (default), or healthcheck: exit 0 if /healthz answers 200")
    p.add_argument("--port", default=env("PORT", str(DEFAULT_PORT)),
                   help=f"TCP port, 0 for a free one (env PORT, default {DEFAULT_PORT})")
    p.add_argument("--bind", default=env("BIND", "127.0.0.1"),
                   help="address to bind (env BIND, default 127.0.0.1)")
    p.add_argument("--context-secret", default=env("CONTEXT_SECRET"),
                   help="secret that signs the user context, the same as the shell's, at "
                   "least 16 bytes (env CONTEXT_SECRET; default: the development value)")
    p.add_argument("--context-secret-file", default=env("CONTEXT_SECRET_FILE"),
                   help="file holding the secret, created with a random one if missing "
                   "(env CONTEXT_SECRET_FILE)")
    p.add_argument("--dev", action="store_true", default=env("MOSAIC_DEV", "") not in ("", "0", "false"),
                   help="allow the development secret on a non-loopback address (env MOSAIC_DEV)")
    p.add_argument("--section-path", default=env("CHANGELOG_SECTION_PATH", "/whats-new"),
                   help="the shell's section showing this team, where links and redirects go "
                   "when served through the shell (env CHANGELOG_SECTION_PATH, default /whats-new)")
    p.add_argument("--shared-assets", default=env("SHARED_ASSETS_DIR", DEFAULT_SHARED_ASSETS),
                   help="shared-ui's assets folder, for Stimulus and shared.css in the preview "
                   "(env SHARED_ASSETS_DIR; default: the workspace's shared-ui/assets)")
    p.add_argument("--cors-origins", default=env("CORS_ORIGINS", ""),
                   help="direct mode: the shell origins (comma separated, e.g. "
                   "http://127.0.0.1:8000) whose pages may fetch fragments from the browser "
                   "(env CORS_ORIGINS; default none)")
    p.add_argument("--max-connections", default=env("MAX_CONNECTIONS", "256"),
                   help="connections served at once; more wait in the backlog (env "
                   "MAX_CONNECTIONS, default 256)")
    p.add_argument("--version-label", default=env("CHANGELOG_VERSION"),
                   help="the manifest version (env CHANGELOG_VERSION; default 0.1.0+<hash of "
                   "the code and assets>)")
    return p


class Settings:
    """Checked settings."""

    def __init__(self, args):
        try:
            self.port = int(args.port)
        except ValueError:
            raise SettingError("--port / PORT", f"`{args.port}` is not a port number") from None
        if not 0 <= self.port <= 65535:
            raise SettingError("--port / PORT", f"{self.port} is not between 0 and 65535")
        try:
            self.bind = ipaddress.ip_address(args.bind)
        except ValueError:
            raise SettingError("--bind / BIND", f"`{args.bind}` is not an IP address") from None
        if args.context_secret:
            secret = args.context_secret
        elif args.context_secret_file:
            secret = read_or_create_secret(args.context_secret_file)
        else:
            secret = DEV_CONTEXT_SECRET
        if len(secret.encode("utf-8")) < 16:
            raise SettingError("--context-secret / CONTEXT_SECRET", "must be at least 16 bytes")
        self.dev_secret = secret == DEV_CONTEXT_SECRET
        if self.dev_secret and not self.bind.is_loopback and not args.dev:
            raise SettingError(
                "--context-secret / CONTEXT_SECRET",
                f"the development secret cannot be used on {self.bind} (not a loopback "
                "address): anyone who knows it can forge a signed-in user. Set CONTEXT_SECRET "
                "or CONTEXT_SECRET_FILE (the same secret in the shell and every service), or "
                "pass --dev on a development machine",
            )
        self.context_secret = secret
        if not is_safe_path(args.section_path):
            raise SettingError("--section-path / CHANGELOG_SECTION_PATH",
                               f"`{args.section_path}` is not a path such as /whats-new")
        self.section_path = args.section_path
        self.shared_assets = args.shared_assets
        self.cors_origins = parse_cors_origins(args.cors_origins)
        try:
            self.max_connections = int(args.max_connections)
        except ValueError:
            self.max_connections = 0
        if not 1 <= self.max_connections <= 100000:
            raise SettingError("--max-connections / MAX_CONNECTIONS",
                               "must be a number between 1 and 100000")
        self.version = args.version_label or default_version()
        if not (1 <= len(self.version) <= 64 and all(33 <= ord(c) <= 126 for c in self.version)):
            raise SettingError("--version-label / CHANGELOG_VERSION",
                               "must be 1 to 64 printable ASCII characters without spaces")

    def __repr__(self):
        return f"Settings(port={self.port}, bind={self.bind}, context_secret=[redacted])"


def parse_cors_origins(raw):
    """Origins such as http://127.0.0.1:8000 (scheme, host, optional port), lowercased."""
    origins = []
    for item in (o.strip() for o in (raw or "").split(",")):
        if not item:
            continue
        origin = item.rstrip("/")
        scheme, sep, host = origin.partition("://")
        if scheme not in ("http", "https") or not sep or not re.fullmatch(r"[A-Za-z0-9.:\[\]-]+", host):
            raise SettingError("--cors-origins / CORS_ORIGINS",
                               f"`{item}` is not an origin such as http://127.0.0.1:8000")
        origins.append(origin.lower())
    return origins


def default_version():
    digest = hashlib.sha256()
    for path in [os.path.abspath(__file__)] + sorted(
        os.path.join(STATIC, n) for n in os.listdir(STATIC)
    ):
        with open(path, "rb") as f:
            digest.update(f.read())
    return "0.1.0+" + digest.hexdigest()[:12]


# ---------------------------------------------------------------------------------------
# Assets


# Cache-Control of an asset asked for at its content-hashed URL (docs/CONTRACT.md#caching).
IMMUTABLE = "public, max-age=31536000, immutable"


class Asset:
    def __init__(self, body, content_type):
        self.body = body
        self.content_type = content_type
        digest = hashlib.sha256(body).hexdigest()
        self.etag = '"' + digest[:32] + '"'
        # The content hash its URLs carry (?v=): the first 16 hex digits of the SHA-256.
        self.hash = digest[:16]
        self.compressible = len(body) >= 1024 and content_type.startswith(
            ("text/", "application/javascript", "application/json", "image/svg+xml"))


def content_type_of(name):
    if name.endswith(".css"):
        return "text/css; charset=utf-8"
    if name.endswith(".js"):
        return "text/javascript; charset=utf-8"
    if name.endswith(".svg"):
        return "image/svg+xml"
    return "application/octet-stream"


def load_assets(shared_dir):
    assets = {}
    for name in sorted(os.listdir(STATIC)):
        with open(os.path.join(STATIC, name), "rb") as f:
            assets["/assets/" + name] = Asset(f.read(), content_type_of(name))
    for name, relative in SHARED_FILES.items():
        path = os.path.join(shared_dir, relative)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                assets["/assets/shared/" + name] = Asset(f.read(), content_type_of(name))
    return assets


# ---------------------------------------------------------------------------------------
# The service


# The routes /metrics counts by name; assets count as /assets/{file}, the rest as unmatched.
ROUTES = frozenset({"/", "/manifest.json", "/healthz", "/readyz", "/metrics",
                    "/fragments/entries", "/fragments/teaser", "/actions/feedback"})
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})


class Service:
    """Everything the handlers share: settings, assets, the feedback received."""

    def __init__(self, settings):
        self.settings = settings
        self.assets = load_assets(settings.shared_assets)
        self.stopping = threading.Event()
        self.feedback = deque(maxlen=1000)
        self.lock = threading.Lock()
        # GET /metrics: (method, route, status) -> count, (method, route) -> [seconds, count].
        self.requests = {}
        self.durations = {}
        self.has_stimulus = all(
            "/assets/shared/" + n in self.assets for n in ("stimulus-3.2.2.js", "boot.js")
        )
        import_map_hash = base64.b64encode(hashlib.sha256(IMPORT_MAP.encode()).digest()).decode()
        self.csp = (
            "default-src 'self'; script-src 'self' 'sha256-" + import_map_hash + "'; "
            "style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; "
            "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
        )

    def observe(self, method, path, status, seconds):
        """Counts one answered request under its route pattern (never the raw path)."""
        if path in ROUTES:
            route = path
        elif path in self.assets:
            route = "/assets/{file}"
        else:
            route = "unmatched"
        method = method if method in METHODS else "other"
        with self.lock:
            key = (method, route, status)
            self.requests[key] = self.requests.get(key, 0) + 1
            total = self.durations.setdefault((method, route), [0.0, 0])
            total[0] += seconds
            total[1] += 1

    def metrics(self):
        """The figures in the Prometheus text format (version 0.0.4)."""
        with self.lock:
            requests = sorted(self.requests.items())
            durations = sorted(self.durations.items())
        lines = [
            "# HELP http_requests_total HTTP requests answered, by method, route and status.",
            "# TYPE http_requests_total counter",
        ]
        for (method, route, status), n in requests:
            lines.append(f'http_requests_total{{method="{method}",route="{route}",status="{status}"}} {n}')
        lines += [
            "# HELP http_request_duration_seconds Time to answer, by method and route.",
            "# TYPE http_request_duration_seconds summary",
        ]
        for (method, route), (seconds, n) in durations:
            labels = f'method="{method}",route="{route}"'
            lines.append(f"http_request_duration_seconds_sum{{{labels}}} {seconds:.6f}")
            lines.append(f"http_request_duration_seconds_count{{{labels}}} {n}")
        return "\n".join(lines) + "\n"

    def manifest(self):
        return {
            "name": NAME,
            "version": self.settings.version,
            "fragments": [
                {
                    "id": "entries",
                    "path": "/fragments/entries",
                    "title": "What's new",
                    "fallback": '<section class="card" data-fragment="changelog/entries">'
                    '<h2 class="card__title">What\'s new</h2>'
                    "<p>The changelog cannot be shown right now. Please try again shortly.</p>"
                    "</section>",
                },
                {
                    "id": "teaser",
                    "path": "/fragments/teaser",
                    "title": "Latest change",
                    # The same for everybody: the shell fetches it without waiting for the
                    # session and sends no user context. Its card is about 220 px tall: the
                    # shell reserves that much, so a placeholder swapped for it shifts nothing.
                    "personal": False,
                    "min_height": 220,
                    "fallback": '<aside class="card" data-fragment="changelog/teaser">'
                    '<h2 class="card__title">What\'s new</h2><p>See what changed lately.</p>'
                    "</aside>",
                },
            ],
            "assets": {
                "css": [self.url("/assets/changelog.css")],
                "controllers": [
                    {"identifier": "changelog-feedback",
                     "module": self.url("/assets/changelog-feedback.js")}
                ],
            },
            "actions": ["/actions/feedback"],
        }

    def url(self, path):
        """An asset's URL with its content hash (`/assets/changelog.css?v=...`)."""
        asset = self.assets.get(path)
        return f"{path}?v={asset.hash}" if asset else path

    def add_feedback(self, entry, message, user):
        with self.lock:
            self.feedback.append(
                {"entry": entry, "message": message, "user": user["id"] if user else None}
            )
            return len(self.feedback)


def esc(text):
    return html.escape(str(text), quote=True)


def render_entries(service, base, user, values=None, errors=None, thanks=False):
    """The `entries` fragment: greeting, the changelog, the feedback form."""
    values = values or {}
    errors = errors or {}
    out = ['<section class="changelog" data-fragment="changelog/entries" '
           'aria-labelledby="changelog-title">']
    out.append('<h2 id="changelog-title">What\'s new in Mosaic</h2>')
    if user:
        out.append(f'<p class="changelog__greeting">Hi {esc(user["name"])}, here is what '
                   f'changed lately on your {esc(user["plan"])} plan.</p>')
    else:
        out.append('<p class="changelog__greeting muted">You are signed out. '
                   '<a href="/accounts">Sign in</a> to see what changed for your plan.</p>')
    if thanks:
        out.append('<div class="alert alert--success" role="status">Thank you, your feedback '
                   'reached the team.</div>')
    out.append('<ol class="changelog__list">')
    for e in ENTRIES:
        out.append(
            f'<li class="changelog__entry" id="changelog-{esc(e["id"])}">'
            f'<p class="changelog__meta"><span class="badge badge--info">{esc(e["tag"])}</span> '
            f'<time datetime="{esc(e["date"])}">{esc(e["date"])}</time></p>'
            f'<h3 class="changelog__title">{esc(e["title"])}</h3>'
            f'<p>{esc(e["text"])}</p></li>'
        )
    out.append("</ol>")
    if errors:
        out.append('<div class="alert alert--danger" role="alert">Your feedback was not sent: '
                   'please fix the fields below.</div>')
    out.append(
        f'<form class="changelog__form stack" method="post" action="{esc(base)}/actions/feedback" '
        'data-controller="changelog-feedback">'
        '<h3>Tell us what you think</h3>'
    )
    entry_error = errors.get("entry")
    chosen = values.get("entry", ENTRY_IDS[0])
    invalid = ' aria-invalid="true" aria-describedby="changelog-entry-error"' if entry_error else ""
    out.append(f'<div class="field{" field--invalid" if entry_error else ""}">'
               '<label for="changelog-entry">About</label>'
               f'<select id="changelog-entry" name="entry"{invalid}>')
    for e in ENTRIES:
        selected = " selected" if e["id"] == chosen else ""
        out.append(f'<option value="{esc(e["id"])}"{selected}>{esc(e["title"])}</option>')
    out.append("</select>")
    if entry_error:
        out.append(f'<p class="field__error" id="changelog-entry-error">{esc(entry_error)}</p>')
    out.append("</div>")
    message_error = errors.get("message")
    described = "changelog-message-hint" + (" changelog-message-error" if message_error else "")
    invalid = ' aria-invalid="true"' if message_error else ""
    out.append(
        f'<div class="field{" field--invalid" if message_error else ""}">'
        '<label for="changelog-message">Your feedback</label>'
        f'<p class="field__hint" id="changelog-message-hint">{MIN_MESSAGE} to {MAX_MESSAGE} '
        'characters.</p>'
        f'<textarea id="changelog-message" name="message" rows="3" maxlength="{MAX_MESSAGE}" '
        f'aria-describedby="{described}"{invalid} '
        'data-changelog-feedback-target="message" '
        'data-action="input->changelog-feedback#update">'
        f'{esc(values.get("message", ""))}</textarea>'
        '<p class="field__hint" aria-live="polite" hidden '
        'data-changelog-feedback-target="count"></p>'
    )
    if message_error:
        out.append(f'<p class="field__error" id="changelog-message-error">{esc(message_error)}</p>')
    out.append("</div>")
    out.append('<button class="btn btn--primary" type="submit">Send feedback</button></form>')
    out.append("</section>")
    return "".join(out)


def render_teaser(base, section_path):
    latest = ENTRIES[0]
    href = section_path if base else "/"
    return (
        '<aside class="card changelog-teaser" data-fragment="changelog/teaser" '
        'aria-labelledby="changelog-teaser-title">'
        '<p class="changelog-teaser__eyebrow">What\'s new</p>'
        f'<h2 class="card__title" id="changelog-teaser-title">{esc(latest["title"])}</h2>'
        f'<p>{esc(latest["text"])}</p>'
        f'<a class="btn btn--secondary" href="{esc(href)}">See every change</a></aside>'
    )


def render_preview(service, user, entries_html):
    head = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>What's new · svc-changelog preview</title>",
    ]
    if "/assets/shared/favicon.svg" in service.assets:
        icon = service.url("/assets/shared/favicon.svg")
        head.append(f'<link rel="icon" href="{icon}" type="image/svg+xml">')
    if "/assets/shared/shared.css" in service.assets:
        shared = service.url("/assets/shared/shared.css")
        head.append(f'<link rel="stylesheet" href="{shared}">')
    head.append(f'<link rel="stylesheet" href="{service.url("/assets/changelog.css")}">')
    if service.has_stimulus:
        controllers = json.dumps(service.manifest()["assets"]["controllers"], separators=(",", ":"))
        head.append(f'<script type="importmap">{IMPORT_MAP}</script>')
        head.append(f'<link rel="modulepreload" href="{STIMULUS_URL}">')
        head.append(f'<script type="application/json" id="mf-controllers">{controllers}</script>')
        head.append(f'<script type="module" src="{service.url("/assets/shared/boot.js")}"></script>')
    head.append("</head>")
    badge = (f'<span class="badge badge--info">Signed in as {esc(user["name"])}</span>'
             if user else '<span class="badge badge--info">Signed out</span>')
    body = (
        '<body><header class="site-header"><div class="container site-header__inner">'
        '<a class="brand" href="/"><span class="brand__mark" aria-hidden="true"></span>'
        'Mosaic changelog</a><nav class="nav" aria-label="Main"><ul>'
        '<li><a href="/" aria-current="page">Preview</a></li>'
        '<li><a href="/manifest.json">Manifest</a></li></ul></nav>'
        f'<div class="site-header__aside">{badge}</div></div></header>'
        '<main id="main" class="container changelog-preview">'
        "<h1>What's new</h1><p class=\"muted\">svc-changelog (Python) on its own. In the "
        "product the shell composes these fragments into its pages.</p>"
        f"{entries_html}{render_teaser('', service.settings.section_path)}</main></body></html>"
    )
    return "".join(head) + body


def validate_feedback(form):
    """(values, errors) of a posted feedback form."""
    entry = form.get("entry", [""])[0]
    message = form.get("message", [""])[0].strip()
    values = {"entry": entry, "message": message}
    errors = {}
    if entry not in ENTRY_IDS:
        errors["entry"] = "Choose one of the changes listed."
    if len(message) < MIN_MESSAGE:
        errors["message"] = f"Write at least {MIN_MESSAGE} characters."
    elif len(message) > MAX_MESSAGE:
        errors["message"] = f"Write at most {MAX_MESSAGE} characters."
    elif any(ord(c) < 32 and c not in "\r\n\t" for c in message):
        errors["message"] = "Remove the control characters."
    return values, errors


# ---------------------------------------------------------------------------------------
# HTTP


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "svc-changelog"
    # Seconds a connection may stay silent (slow clients do not hold a thread forever).
    timeout = 15
    service = None  # set by make_server

    # -- plumbing ------------------------------------------------------------------------

    def version_string(self):
        return self.server_version

    def setup(self):
        super().setup()
        self.rid = "-"
        self.cors = []
        # Headers and body are two writes: without this, the second waits for the client's
        # delayed ACK (about 40 ms).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_request(self, code="-", size="-"):
        pass  # dispatch writes one line per request, with its id

    def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
        log("WARN", getattr(self, "rid", "-"), format % args)

    def send(self, status, body=b"", content_type=None, headers=()):
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(status)
        if status != 304:
            # A 304's Content-Length would have to be that of the 200: leave it out.
            self.send_header("Content-Length", str(len(body)))
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header(REQUEST_ID, self.rid)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "strict-origin-when-cross-origin")
        self.send_header("Content-Security-Policy", self.service.csp)
        for name, value in list(headers) + self.cors:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(body)
        self.status = status

    def send_fragment(self, status, body, cache="private, no-store"):
        self.send(status, body, "text/html; charset=utf-8", [
            ("Cache-Control", cache),
            (FRAGMENT_VERSION, self.service.settings.version),
            ("Vary", "x-mf-user, x-mf-base-path, accept-language"),
        ])

    def not_found(self):
        self.send(404, '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
                  "<title>Not found · svc-changelog</title></head><body><main>"
                  "<h1>Not found</h1><p>svc-changelog has nothing at this address.</p>"
                  "</main></body></html>", "text/html; charset=utf-8",
                  [("Cache-Control", "no-store")])

    def dispatch(self):
        started = time.monotonic()
        self.rid = request_id(self.headers.get(REQUEST_ID))
        self.status = 0
        trace = self.headers.get("traceparent") or ""
        trace = f" traceparent={trace}" if _TRACEPARENT_RE.match(trace) else ""
        if self.command != "POST" and (
            self.headers.get("Transfer-Encoding") or self.headers.get("Content-Length", "0") != "0"
        ):
            # A body we do not read must not be taken for the next request.
            self.close_connection = True
        # Direct mode: only the configured shell origins may read answers from the browser.
        origin = self.headers.get("Origin")
        allowed = bool(origin) and origin.lower() in self.service.settings.cors_origins
        self.cors = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin"),
                     ("Access-Control-Expose-Headers", "x-fragment-version, x-request-id")
                     ] if allowed else []
        preflight = self.command == "OPTIONS" and self.headers.get("Access-Control-Request-Method")
        try:
            if preflight and origin:
                self.cors = []
                if allowed:
                    self.send(204, b"", None, [
                        ("Access-Control-Allow-Origin", origin),
                        ("Access-Control-Allow-Methods", "GET, POST"),
                        ("Access-Control-Allow-Headers", "x-mf-loader, x-request-id, content-type"),
                        ("Access-Control-Max-Age", "600"), ("Vary", "Origin")])
                else:
                    self.send(403, "This origin may not read this service's fragments "
                              "(CORS_ORIGINS).\n", "text/plain; charset=utf-8", [("Vary", "Origin")])
            else:
                # The raw target, split by hand: urlsplit would read `//host/x` as a host.
                path, _, query = self.path.split("#", 1)[0].partition("?")
                self.route(self.command, path, query)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # noqa: BLE001 (one failed request must not stop the server)
            log("ERROR", self.rid, f"handler failed: {type(e).__name__}: {e}")
            self.close_connection = True
            if not self.status:
                self.send(500, "Internal error", "text/plain; charset=utf-8")
        elapsed = (time.monotonic() - started) * 1000
        self.service.observe(self.command, self.path.split("?", 1)[0], self.status, elapsed / 1000)
        path = "".join(c if " " < c < "\x7f" else "?" for c in self.path.split("?", 1)[0][:200])
        log("INFO", self.rid, f"method={self.command} path={path} status={self.status} "
            f"elapsed_ms={elapsed:.1f}{trace}")

    do_GET = do_HEAD = do_POST = dispatch

    def do_PUT(self):
        self.close_connection = True
        self.dispatch()

    do_DELETE = do_PATCH = do_OPTIONS = do_PUT

    # -- context -------------------------------------------------------------------------

    def user(self):
        return verify_context(self.service.settings.context_secret,
                              self.headers.get(USER_CONTEXT))

    def base(self):
        return safe_base_path(self.headers.get(BASE_PATH))

    # -- routes --------------------------------------------------------------------------

    def route(self, method, path, query):
        svc = self.service
        read = method in ("GET", "HEAD")
        if path == "/actions/feedback":
            if method != "POST":
                return self.send(405, "Use POST.", "text/plain; charset=utf-8", [("Allow", "POST")])
            return self.feedback()
        if not read:
            self.close_connection = True
            if path in ("/", "/manifest.json", "/healthz", "/readyz", "/metrics") or path.startswith(
                ("/fragments/", "/assets/")
            ):
                return self.send(405, "Use GET.", "text/plain; charset=utf-8",
                                 [("Allow", "GET, HEAD")])
            return self.not_found()
        if path == "/healthz":
            return self.send(200, "ok", "text/plain; charset=utf-8", [("Cache-Control", "no-store")])
        if path == "/readyz":
            if svc.stopping.is_set():
                return self.send(503, "stopping", "text/plain; charset=utf-8",
                                 [("Cache-Control", "no-store")])
            return self.send(200, "ready", "text/plain; charset=utf-8", [("Cache-Control", "no-store")])
        if path == "/metrics":
            return self.send(200, svc.metrics(), "text/plain; version=0.0.4; charset=utf-8",
                             [("Cache-Control", "no-store")])
        if path == "/manifest.json":
            body = json.dumps(svc.manifest(), separators=(",", ":"))
            return self.send(200, body, "application/json", [("Cache-Control", "no-cache")])
        params = urllib.parse.parse_qs(query, max_num_fields=20)
        thanks = params.get("thanks") == ["1"]
        if path == "/fragments/entries":
            return self.send_fragment(200, render_entries(svc, self.base(), self.user(),
                                                          thanks=thanks))
        if path == "/fragments/teaser":
            return self.send_fragment(200, render_teaser(self.base(), svc.settings.section_path),
                                      cache="public, max-age=30")
        if path == "/":
            user = self.user()
            page = render_preview(svc, user, render_entries(svc, "", user, thanks=thanks))
            return self.send(200, page, "text/html; charset=utf-8", [("Cache-Control", "no-store")])
        asset = svc.assets.get(path)
        if asset:
            # The current hash in the URL: the bytes never change, so a year; any other
            # (a page from before a deploy) or none: the current bytes, revalidated.
            fresh = params.get("v") == [asset.hash]
            headers = [("ETag", asset.etag), ("Cache-Control", IMMUTABLE if fresh else "no-cache")]
            if asset.compressible:
                # The shell compresses text of 1 KiB or more and says so in Vary; a 304
                # must carry the same Vary as its 200 (RFC 9110 section 15.4.5).
                headers.append(("Vary", "accept-encoding"))
            if if_none_match_hits(self.headers.get("If-None-Match"), asset.etag):
                return self.send(304, b"", None, headers)
            return self.send(200, asset.body, asset.content_type, headers)
        return self.not_found()

    def feedback(self):
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            return self.send(411, "Send a Content-Length.", "text/plain; charset=utf-8")
        try:
            length = int(length)
        except (TypeError, ValueError):
            self.close_connection = True
            return self.send(411, "Send a Content-Length.", "text/plain; charset=utf-8")
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            return self.send(413, f"The form is larger than {MAX_BODY} bytes.",
                             "text/plain; charset=utf-8")
        body = self.rfile.read(length)
        kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            return self.send(415, "Send application/x-www-form-urlencoded.",
                             "text/plain; charset=utf-8")
        try:
            form = urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True,
                                         max_num_fields=20)
        except (UnicodeDecodeError, ValueError):
            return self.send(400, "The form is not UTF-8 URL-encoded.", "text/plain; charset=utf-8")
        values, errors = validate_feedback(form)
        base = self.base()
        user = self.user()
        if errors:
            fragment = render_entries(self.service, base, user, values, errors)
            if not base and self.headers.get("Sec-Fetch-Mode") == "navigate":
                # A browser posting from the standalone preview gets the whole page back.
                return self.send(422, render_preview(self.service, user, fragment),
                                 "text/html; charset=utf-8", [("Cache-Control", "no-store")])
            return self.send_fragment(422, fragment)
        count = self.service.add_feedback(values["entry"], values["message"], user)
        log("INFO", self.rid, f"feedback received entry={values['entry']} total={count}")
        to = (self.service.settings.section_path if base else "/") + "?thanks=1"
        return self.send(303, b"", None, [("Location", to), ("Cache-Control", "no-store")])


def make_server(settings):
    """A bound server (not yet serving) and its Service."""
    service = Service(settings)
    handler = type("BoundHandler", (Handler,), {"service": service})
    server_class = Server6 if settings.bind.version == 6 else Server
    server = server_class((str(settings.bind), settings.port), handler)
    server.slots = threading.BoundedSemaphore(settings.max_connections)
    return server, service


class Server(ThreadingHTTPServer):
    """One thread per connection; a client that goes away is one log line, not a traceback."""

    daemon_threads = True
    # At most this many connections are served at once (make_server sets it from
    # MAX_CONNECTIONS); the accept loop waits for a free one, so the rest wait in the backlog.
    slots = threading.BoundedSemaphore(256)

    def process_request(self, request, client_address):
        self.slots.acquire()
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request, client_address):
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return
        log("ERROR", "-", f"connection from {client_address[0]} failed: "
            f"{type(error).__name__}: {error}")


class Server6(Server):
    address_family = socket.AF_INET6


def healthcheck(args):
    try:
        port = int(args.port)
        bind = ipaddress.ip_address(args.bind)
    except ValueError as e:
        print(f"healthcheck: {e}", file=sys.stderr)
        return 2
    if bind.is_unspecified:
        host = "[::1]" if bind.version == 6 else "127.0.0.1"
    else:
        host = f"[{bind}]" if bind.version == 6 else str(bind)
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=3) as res:
            ok = res.status == 200
    except (urllib.error.URLError, OSError) as e:
        print(f"healthcheck: port {port}: {e}", file=sys.stderr)
        return 1
    return 0 if ok else 1


def main(argv=None):
    args = parser().parse_args(argv)
    if args.command == "healthcheck":
        return healthcheck(args)
    try:
        settings = Settings(args)
        server, service = make_server(settings)
    except SettingError as e:
        print(f"changelog: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"changelog: invalid setting --port / PORT: cannot listen on "
              f"{args.bind}:{args.port}: {e}", file=sys.stderr)
        return 2
    if settings.dev_secret:
        log("WARN", "-", "the development context secret is in use (no CONTEXT_SECRET or "
            "CONTEXT_SECRET_FILE, or that very value): anyone who knows it can forge a "
            "signed-in user. Set CONTEXT_SECRET before this serves real users.")
    if not service.has_stimulus:
        log("WARN", "-", f"no shared assets in {settings.shared_assets}: the preview runs "
            "without Stimulus and shared.css (set SHARED_ASSETS_DIR)")

    def stop(signum, _frame):
        log("INFO", "-", f"signal {signum}: stopping")
        service.stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host, port = server.server_address[:2]
    log("INFO", "-", f"listening on http://{host}:{port} version={settings.version}")
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    log("INFO", "-", "stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
