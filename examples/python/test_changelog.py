"""Unit and HTTP tests of svc-changelog, standard library only:

    python3 -m unittest discover -s examples/python -v

The HTTP tests start the server in a thread on a free port."""

import hashlib
import http.client
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import changelog  # noqa: E402

# Log lines go to a buffer the tests can read, not to the test runner's output.
LOGS = io.StringIO()
changelog.LOG_STREAM = LOGS

SECRET = "test-context-secret-0123456789"
ADA = {"id": 7, "name": "Ada <script>", "plan": "pro"}
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "changelog.py")


def settings(*extra):
    args = changelog.parser().parse_args(["--port", "0", "--context-secret", SECRET, *extra])
    return changelog.Settings(args)


class ContextTests(unittest.TestCase):
    def test_a_signed_context_verifies_with_the_same_secret_only(self):
        value = changelog.sign_context(SECRET, ADA, int(time.time()) + 60)
        self.assertEqual(changelog.verify_context(SECRET, value), ADA)
        self.assertIsNone(changelog.verify_context("another-secret-0123456789", value))

    def test_the_rust_format_verifies(self):
        # Made by shared_ui::context::ContextKey::sign_with_expiry with this secret for
        # {id 7, name "Ada", plan "pro"} until 4102444800 (2100-01-01): serde's field order.
        payload = b'{"id":7,"name":"Ada","plan":"pro","exp":4102444800}'
        import base64, hashlib, hmac  # noqa: E401
        tag = hmac.new(SECRET.encode(), payload, hashlib.sha256).digest()
        enc = lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")  # noqa: E731
        self.assertEqual(
            changelog.verify_context(SECRET, f"{enc(payload)}.{enc(tag)}"),
            {"id": 7, "name": "Ada", "plan": "pro"},
        )

    def test_expired_forged_and_unsigned_contexts_read_as_signed_out(self):
        now = int(time.time())
        self.assertIsNone(changelog.verify_context(SECRET, changelog.sign_context(SECRET, ADA, now - 1)))
        self.assertIsNone(changelog.verify_context(SECRET, changelog.sign_context(SECRET, ADA, now)))
        value = changelog.sign_context(SECRET, ADA, now + 60)
        payload, tag = value.split(".")
        forged = changelog.sign_context("forger-secret-0123456789", {**ADA, "name": "root"}, now + 60)
        self.assertIsNone(changelog.verify_context(SECRET, forged))
        other_payload = forged.split(".")[0]
        for bad in [
            payload, f"{payload}.", f"{other_payload}.{tag}", "not base64.!!", "", ".",
            f"{payload}=.{tag}", f"{payload}.{tag}=", f"{payload}.{tag}.x", f"{payload} .{tag}",
            json.dumps(ADA),
        ]:
            self.assertIsNone(changelog.verify_context(SECRET, bad), bad)
        self.assertIsNone(changelog.verify_context(SECRET, None))
        self.assertIsNone(changelog.verify_context("", value))

    def test_a_signed_payload_of_the_wrong_shape_reads_as_signed_out(self):
        exp = int(time.time()) + 60
        for user in [
            {"id": "7", "name": "Ada", "plan": "pro"},
            {"id": True, "name": "Ada", "plan": "pro"},
            {"id": 2**63, "name": "Ada", "plan": "pro"},
            {"id": 7, "name": None, "plan": "pro"},
            {"id": 7, "name": "Ada"},
        ]:
            self.assertIsNone(changelog.verify_context(SECRET, changelog.sign_context(SECRET, user, exp)), user)
        self.assertIsNone(changelog.verify_context(SECRET, changelog.sign_context(SECRET, ADA, -1)))


class ContextVectorTests(unittest.TestCase):
    """docs/context-vectors.json: the verdicts every verifier of the contract agrees on."""

    def test_every_test_vector_has_its_verdict(self):
        path = os.path.join(os.path.dirname(SCRIPT), "..", "..", "docs", "context-vectors.json")
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        self.assertGreaterEqual(len(doc["vectors"]), 40)
        for v in doc["vectors"]:
            with self.subTest(v["case"]):
                got = changelog.verify_context(doc["secret"], v["value"], now=doc["now"])
                self.assertEqual(got, v["user"])


class HelperTests(unittest.TestCase):
    def test_base_paths_are_used_only_when_safe(self):
        self.assertEqual(changelog.safe_base_path("/svc/changelog"), "/svc/changelog")
        for bad in [None, "", "/", "//evil.example", "/svc/../x", "/svc/%2e", "javascript:x",
                    "/svc/\"><script>", "/a b", "/svc/.hidden", "svc/x", "/" + "a" * 200]:
            self.assertEqual(changelog.safe_base_path(bad), "", bad)

    def test_request_ids_are_kept_when_well_formed(self):
        self.assertEqual(changelog.request_id("abc-1.2:3_4"), "abc-1.2:3_4")
        self.assertNotEqual(changelog.request_id("bad id\n"), "bad id\n")
        self.assertEqual(len(changelog.request_id(None)), 32)
        self.assertEqual(len(changelog.request_id("x" * 129)), 32)

    def test_if_none_match(self):
        self.assertTrue(changelog.if_none_match_hits('"a", W/"b"', '"b"'))
        self.assertTrue(changelog.if_none_match_hits("*", '"b"'))
        self.assertFalse(changelog.if_none_match_hits('"a"', '"b"'))
        self.assertFalse(changelog.if_none_match_hits(None, '"b"'))

    def test_feedback_validation_names_each_field(self):
        _, errors = changelog.validate_feedback({"entry": ["nope"], "message": ["a"]})
        self.assertEqual(set(errors), {"entry", "message"})
        _, errors = changelog.validate_feedback({"entry": [changelog.ENTRY_IDS[0]], "message": ["x" * 501]})
        self.assertEqual(set(errors), {"message"})
        values, errors = changelog.validate_feedback({"entry": [changelog.ENTRY_IDS[1]], "message": ["  Nice  "]})
        self.assertEqual(errors, {})
        self.assertEqual(values["message"], "Nice")


class SettingsTests(unittest.TestCase):
    def parse(self, *argv, env=None):
        saved = dict(os.environ)
        try:
            for k in ("PORT", "BIND", "CONTEXT_SECRET", "CONTEXT_SECRET_FILE", "MOSAIC_DEV"):
                os.environ.pop(k, None)
            os.environ.update(env or {})
            return changelog.Settings(changelog.parser().parse_args(list(argv)))
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def test_defaults(self):
        s = self.parse()
        self.assertEqual((s.port, str(s.bind), s.dev_secret), (5000, "127.0.0.1", True))
        self.assertNotIn("dev-only", repr(s))

    def test_the_development_secret_is_refused_beyond_loopback_unless_dev(self):
        for argv, env in [((), {"BIND": "0.0.0.0"}),
                          (("--bind", "0.0.0.0", "--context-secret", changelog.DEV_CONTEXT_SECRET), {})]:
            with self.assertRaises(changelog.SettingError) as e:
                self.parse(*argv, env=env)
            self.assertIn("CONTEXT_SECRET", str(e.exception))
        self.assertTrue(self.parse("--bind", "0.0.0.0", "--dev").dev_secret)
        self.assertFalse(self.parse(env={"BIND": "0.0.0.0", "CONTEXT_SECRET": SECRET}).dev_secret)

    def test_bad_settings_are_named(self):
        for argv, name in [(("--port", "x"), "PORT"), (("--port", "70000"), "PORT"),
                           (("--bind", "localhost"), "BIND"),
                           (("--context-secret", "short"), "CONTEXT_SECRET"),
                           (("--section-path", "//evil"), "CHANGELOG_SECTION_PATH"),
                           (("--max-connections", "0"), "MAX_CONNECTIONS"),
                           (("--cors-origins", "ftp://x"), "CORS_ORIGINS"),
                           (("--cors-origins", "http://a/b"), "CORS_ORIGINS")]:
            with self.assertRaises(changelog.SettingError) as e:
                self.parse(*argv)
            self.assertIn(name, str(e.exception))

    def test_a_missing_secret_file_is_created_once_with_a_random_secret(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "context-secret")
            first = self.parse(env={"CONTEXT_SECRET_FILE": path, "BIND": "0.0.0.0"})
            self.assertFalse(first.dev_secret)
            self.assertEqual(len(first.context_secret), 64)
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
            again = self.parse("--context-secret-file", path)
            self.assertEqual(again.context_secret, first.context_secret)
            self.assertEqual(os.listdir(d), ["context-secret"], "no temporary file left")
            with open(path, "w") as f:
                f.write("short\n")
            with self.assertRaises(changelog.SettingError) as e:
                self.parse("--context-secret-file", path)
            self.assertIn("CONTEXT_SECRET_FILE", str(e.exception))

    def test_the_process_exits_2_naming_the_setting(self):
        env = {k: v for k, v in os.environ.items() if k not in ("CONTEXT_SECRET", "CONTEXT_SECRET_FILE")}
        env["BIND"] = "0.0.0.0"
        out = subprocess.run([sys.executable, SCRIPT, "--port", "0"], env=env,
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn("CONTEXT_SECRET", out.stderr)


class HttpTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server, cls.service = changelog.make_server(settings())
        cls.port = cls.server.server_address[1]
        cls.thread = threading.Thread(target=cls.server.serve_forever, kwargs={"poll_interval": 0.05})
        cls.thread.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()
        cls.thread.join()

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            res = conn.getresponse()
            return res.status, {k.lower(): v for k, v in res.getheaders()}, res.read().decode()
        finally:
            conn.close()

    def post(self, fields, headers=None, raw=None):
        body = raw if raw is not None else urllib.parse.urlencode(fields)
        h = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return self.request("POST", "/actions/feedback", body, h)

    def test_manifest(self):
        status, headers, body = self.request("GET", "/manifest.json")
        self.assertEqual(status, 200)
        m = json.loads(body)
        self.assertEqual(m["name"], "changelog")
        self.assertEqual([f["id"] for f in m["fragments"]], ["entries", "teaser"])
        for f in m["fragments"]:
            self.assertIn(f'data-fragment="changelog/{f["id"]}"', f["fallback"])
        self.assertEqual(m["actions"], ["/actions/feedback"])
        # The teaser is the same for everybody; entries greet the user (personal, the default).
        teaser = m["fragments"][1]
        self.assertIs(teaser["personal"], False)
        self.assertTrue(1 <= teaser["min_height"] <= 4000)
        self.assertNotIn("personal", m["fragments"][0])
        for url in m["assets"]["css"] + [c["module"] for c in m["assets"]["controllers"]]:
            path, _, query = url.partition("?")
            self.assertTrue(changelog.is_safe_path(path), url)
            self.assertRegex(query, "^v=[0-9a-f]{16}$")

    def test_fragments_follow_the_contract(self):
        version = json.loads(self.request("GET", "/manifest.json")[2])["version"]
        for fid in ("entries", "teaser"):
            status, headers, body = self.request("GET", f"/fragments/{fid}")
            self.assertEqual(status, 200)
            self.assertEqual(headers["content-type"], "text/html; charset=utf-8")
            self.assertTrue(headers["cache-control"])
            self.assertEqual(headers["x-fragment-version"], version)
            self.assertIn(f'data-fragment="changelog/{fid}"', body)
            self.assertNotIn("<html", body.lower())
            self.assertEqual(headers["x-content-type-options"], "nosniff")
            self.assertEqual(headers["x-frame-options"], "DENY")
            self.assertIn("frame-ancestors 'none'", headers["content-security-policy"])

    def test_the_base_path_prefixes_own_urls_only_when_safe(self):
        _, _, body = self.request("GET", "/fragments/entries", headers={"x-mf-base-path": "/svc/changelog"})
        self.assertIn('action="/svc/changelog/actions/feedback"', body)
        _, _, body = self.request("GET", "/fragments/teaser", headers={"x-mf-base-path": "/svc/changelog"})
        self.assertIn('href="/whats-new"', body)
        _, _, body = self.request("GET", "/fragments/entries", headers={"x-mf-base-path": '/x"><script>'})
        self.assertIn('action="/actions/feedback"', body)
        self.assertNotIn("<script>", body)

    def test_the_signed_in_user_is_greeted_and_escaped_a_forged_one_is_not(self):
        value = changelog.sign_context(SECRET, ADA, int(time.time()) + 60)
        _, _, body = self.request("GET", "/fragments/entries", headers={"x-mf-user": value})
        self.assertIn("Hi Ada &lt;script&gt;", body)
        forged = changelog.sign_context("forger-secret-0123456789", ADA, int(time.time()) + 60)
        _, _, body = self.request("GET", "/fragments/entries", headers={"x-mf-user": forged})
        self.assertNotIn("Ada", body)
        self.assertIn("You are signed out", body)

    def test_request_ids_are_echoed_and_logged_with_the_traceparent(self):
        trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        _, headers, _ = self.request("GET", "/healthz",
                                     headers={"x-request-id": "req-42", "traceparent": trace})
        self.assertEqual(headers["x-request-id"], "req-42")
        # The line is written once the answer is out: give it a moment.
        deadline = time.monotonic() + 5
        while True:
            line = [l for l in LOGS.getvalue().splitlines() if "request_id=req-42 " in l]
            if line or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        self.assertEqual(len(line), 1, LOGS.getvalue()[-2000:])
        self.assertIn("method=GET path=/healthz status=200", line[0])
        self.assertIn(f"traceparent={trace}", line[0])

    def test_bad_feedback_is_422_with_the_fragment_and_inline_errors(self):
        status, headers, body = self.post({"entry": "nope", "message": "x"},
                                          {"x-mf-base-path": "/svc/changelog"})
        self.assertEqual(status, 422)
        self.assertEqual(headers["content-type"], "text/html; charset=utf-8")
        self.assertIn('data-fragment="changelog/entries"', body)
        self.assertIn("field--invalid", body)
        self.assertIn("Write at least 3 characters.", body)
        self.assertIn('aria-invalid="true"', body)
        self.assertNotIn("<html", body)

    def test_bad_feedback_from_the_standalone_preview_comes_back_in_the_page(self):
        status, _, body = self.post({"entry": "nope", "message": "x"}, {"Sec-Fetch-Mode": "navigate"})
        self.assertEqual(status, 422)
        self.assertTrue(body.startswith("<!DOCTYPE html>"))
        self.assertIn("field--invalid", body)

    def test_good_feedback_is_303_to_the_section_or_the_preview(self):
        entry = changelog.ENTRY_IDS[0]
        status, headers, body = self.post({"entry": entry, "message": "Love it"},
                                          {"x-mf-base-path": "/svc/changelog"})
        self.assertEqual((status, headers["location"], body), (303, "/whats-new?thanks=1", ""))
        status, headers, _ = self.post({"entry": entry, "message": "Love it"})
        self.assertEqual((status, headers["location"]), (303, "/?thanks=1"))
        _, _, body = self.request("GET", "/fragments/entries?thanks=1")
        self.assertIn("Thank you", body)

    def test_the_body_is_capped_and_must_be_a_form(self):
        status, _, _ = self.post({}, raw="message=" + "x" * (changelog.MAX_BODY + 1))
        self.assertEqual(status, 413)
        status, _, _ = self.request("POST", "/actions/feedback", '{"message":"hi"}',
                                    {"Content-Type": "application/json"})
        self.assertEqual(status, 415)
        status, _, _ = self.request("GET", "/actions/feedback")
        self.assertEqual(status, 405)

    def test_assets_have_etags_and_answer_304(self):
        for path in ("/assets/changelog.css", "/assets/changelog-feedback.js"):
            status, headers, body0 = self.request("GET", path)
            self.assertEqual(status, 200)
            self.assertTrue(body0)
            status, again, body = self.request("GET", path, headers={"If-None-Match": headers["etag"]})
            self.assertEqual((status, body), (304, ""))
            self.assertEqual(again["etag"], headers["etag"])
            self.assertNotIn("content-length", again)
            # The same Vary as the 200 (accept-encoding on text of 1 KiB or more, which the
            # shell compresses).
            self.assertEqual(again.get("vary"), headers.get("vary"))
            self.assertEqual(headers.get("vary") == "accept-encoding", len(body0) >= 1024)

    def test_the_manifest_lists_hashed_asset_urls_answered_immutable(self):
        _, _, body = self.request("GET", "/manifest.json")
        manifest = json.loads(body)
        urls = manifest["assets"]["css"] + [c["module"] for c in manifest["assets"]["controllers"]]
        for url in urls:
            path, _, query = url.partition("?")
            status, headers, content = self.request("GET", url)
            self.assertEqual(status, 200)
            digest = hashlib.sha256(content.encode()).hexdigest()[:16]
            self.assertEqual(query, "v=" + digest)
            self.assertEqual(headers["cache-control"], changelog.IMMUTABLE)
            # A stale hash or none: the current bytes, revalidated, never a 404.
            for other in (path + "?v=0123456789abcdef", path):
                status, headers, again = self.request("GET", other)
                self.assertEqual((status, again), (200, content))
                self.assertEqual(headers["cache-control"], "no-cache")

    def test_head_is_get_without_a_body(self):
        _, get_headers, get_body = self.request("GET", "/fragments/teaser")
        status, headers, body = self.request("HEAD", "/fragments/teaser")
        self.assertEqual((status, body), (200, ""))
        self.assertEqual(headers["content-length"], str(len(get_body.encode())))
        self.assertEqual(headers["x-fragment-version"], get_headers["x-fragment-version"])

    def test_metrics_count_requests_by_route_pattern(self):
        self.request("GET", "/fragments/teaser")
        self.request("GET", "/fragments/teaser")
        self.request("GET", "/no/such/path/12345")
        status, headers, body = self.request("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/plain; version=0.0.4"))
        lines = body.splitlines()
        teaser = [l for l in lines if l.startswith(
            'http_requests_total{method="GET",route="/fragments/teaser",status="200"} ')]
        self.assertEqual(len(teaser), 1, body)
        self.assertGreaterEqual(int(teaser[0].split()[-1]), 2)
        self.assertIn('route="unmatched",status="404"', body)
        self.assertNotIn("/no/such/path/12345", body)
        self.assertIn('http_request_duration_seconds_count{method="GET",route="/fragments/teaser"}', body)

    def test_health_readiness_unknown_routes(self):
        self.assertEqual(self.request("GET", "/healthz")[0], 200)
        self.assertEqual(self.request("GET", "/readyz")[0], 200)
        self.assertEqual(self.request("GET", "/nothing-here")[0], 404)
        self.assertEqual(self.request("GET", "/assets/../changelog.py")[0], 404)
        self.assertEqual(self.request("GET", "/fragments/nope")[0], 404)
        self.assertEqual(self.request("GET", "//evil.example/fragments/entries")[0], 404)
        self.service.stopping.set()
        try:
            self.assertEqual(self.request("GET", "/readyz")[0], 503)
        finally:
            self.service.stopping.clear()

    def test_the_preview_is_a_whole_page_with_stimulus_and_a_csp_for_its_import_map(self):
        status, headers, body = self.request("GET", "/")
        self.assertEqual(status, 200)
        self.assertTrue(body.startswith("<!DOCTYPE html>"))
        self.assertIn('data-fragment="changelog/entries"', body)
        self.assertIn('data-fragment="changelog/teaser"', body)
        if self.service.has_stimulus:
            self.assertIn(f'<script type="importmap">{changelog.IMPORT_MAP}</script>', body)
            self.assertEqual(self.request("GET", changelog.STIMULUS_URL)[0], 200)
        import base64, hashlib  # noqa: E401
        digest = base64.b64encode(hashlib.sha256(changelog.IMPORT_MAP.encode()).digest()).decode()
        self.assertIn(f"'sha256-{digest}'", headers["content-security-policy"])


class CorsTests(unittest.TestCase):
    """Direct mode: only the configured shell origins may read answers from the browser."""

    @classmethod
    def setUpClass(cls):
        cls.server, _ = changelog.make_server(settings("--cors-origins", "http://127.0.0.1:8000/"))
        cls.port = cls.server.server_address[1]
        cls.thread = threading.Thread(target=cls.server.serve_forever, kwargs={"poll_interval": 0.05})
        cls.thread.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()
        cls.thread.join()

    request = HttpTests.request

    def test_an_allowed_origin_reads_fragments_and_passes_preflight(self):
        status, headers, _ = self.request("GET", "/fragments/teaser",
                                          headers={"Origin": "http://127.0.0.1:8000"})
        self.assertEqual(status, 200)
        self.assertEqual(headers["access-control-allow-origin"], "http://127.0.0.1:8000")
        self.assertIn("x-fragment-version", headers["access-control-expose-headers"])
        status, headers, _ = self.request("OPTIONS", "/actions/feedback", headers={
            "Origin": "http://127.0.0.1:8000", "Access-Control-Request-Method": "POST"})
        self.assertEqual(status, 204)
        self.assertEqual(headers["access-control-allow-methods"], "GET, POST")

    def test_another_origin_gets_no_cors_headers_and_a_403_preflight(self):
        status, headers, _ = self.request("GET", "/fragments/teaser",
                                          headers={"Origin": "http://evil.example"})
        self.assertEqual(status, 200)
        self.assertNotIn("access-control-allow-origin", headers)
        status, headers, _ = self.request("OPTIONS", "/fragments/teaser", headers={
            "Origin": "http://evil.example", "Access-Control-Request-Method": "GET"})
        self.assertEqual(status, 403)
        self.assertNotIn("access-control-allow-origin", headers)


class ConnectionCapTests(unittest.TestCase):
    def test_connections_beyond_the_cap_wait_for_a_free_slot(self):
        import socket
        server, _ = changelog.make_server(settings("--max-connections", "1"))
        port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        try:
            idle = socket.create_connection(("127.0.0.1", port))
            time.sleep(0.2)  # accepted: it holds the one slot
            waiting = socket.create_connection(("127.0.0.1", port))
            waiting.settimeout(0.5)
            waiting.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            with self.assertRaises(socket.timeout):
                waiting.recv(100)
            idle.close()
            waiting.settimeout(5)
            self.assertTrue(waiting.recv(100).startswith(b"HTTP/1.1 200"))
            waiting.close()
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


class HealthcheckTests(unittest.TestCase):
    def test_healthcheck_exits_0_when_healthz_answers_and_1_when_nothing_listens(self):
        server, _ = changelog.make_server(settings())
        port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        try:
            self.assertEqual(changelog.main(["healthcheck", "--port", str(port)]), 0)
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
        self.assertEqual(changelog.main(["healthcheck", "--port", str(port)]), 1)


if __name__ == "__main__":
    unittest.main()
