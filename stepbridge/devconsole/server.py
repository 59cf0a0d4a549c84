"""``stepbridge dev``'s HTTP server: the standard library's ``ThreadingHTTPServer``, a route table, a live stream.

Why the standard library (docs/CONSOLE.md has the long form): the console serves one person on one
machine - a page, three static files, a dozen JSON routes and one Server-Sent Events stream. That
needs no framework, and a dependency would be one more thing in ``pip install stepbridge[local]``
to keep patched. ``ThreadingHTTPServer`` gives each request a thread, so the live stream can stay
open while the page posts actions; every call into LocalCloud is serialised by the session's lock.

Safety for a local tool:
* it binds 127.0.0.1 unless told otherwise;
* ``Host`` must name the address it listens on (``localhost``/``127.0.0.1``/``[::1]`` and its port),
  which defeats DNS rebinding - a web page cannot make the browser send our Host from its own name;
* every POST needs the ``X-Stepbridge-Token`` header holding a random token that only the console's
  own page contains (a ``<meta>``). Another site can neither read that page (same-origin policy) nor
  send a custom header without a CORS preflight, which this server never approves; a POST whose
  ``Origin`` is another site is refused too, and bodies must be ``application/json``;
* responses carry a Content-Security-Policy (scripts only from the console itself, no framing).
"""

from __future__ import annotations

import json
import re
import secrets
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, unquote, urlsplit

from stepbridge.devconsole.errors import ConsoleError, error_body, status_of
from stepbridge.devconsole.session import ClockState, DevSession
from stepbridge.operator.report import REPORT_CSS

#: Largest request body accepted (a workflow input or an event detail typed into a form).
MAX_BODY = 1024 * 1024
#: Seconds between keep-alive comments on the live stream (proxies drop silent streams).
HEARTBEAT = 15.0
_LOCAL_NAMES = ("127.0.0.1", "localhost", "[::1]")
_STATIC = {"console.js": "text/javascript", "console.css": "text/css"}
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")

Query = dict[str, str]
Handler = Callable[[DevSession, "Request"], object]


@dataclass
class Request:
    """What a route handler gets: path parameters, query parameters and the JSON body."""

    params: tuple[str, ...]
    query: Query
    body: object

    def text(self, key: str, *, required: bool = False, default: str = "") -> str:
        """A string field of the JSON body (400 if required and missing, or not a string)."""
        value = self.body.get(key, default) if isinstance(self.body, dict) else default
        if value is None:
            value = default
        if not isinstance(value, str):
            raise ConsoleError(400, f"{key!r} must be a string, got {type(value).__name__}")
        if required and not value.strip():
            raise ConsoleError(400, f"{key!r} is required")
        return value.strip()


ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    """Register a JSON route; ``{}`` in ``pattern`` is one path segment (URL-decoded)."""

    def register(fn: Handler) -> Handler:
        ROUTES.append((method, re.compile("^" + pattern.replace("{}", "([^/]+)") + "$"), fn))
        return fn

    return register


@route("GET", "/api/overview")
def _overview(s: DevSession, r: Request) -> object:
    return s.overview()


@route("GET", "/api/clock")
def _clock(s: DevSession, r: Request) -> object:
    return s.clock()


@route("GET", "/api/executions")
def _executions(s: DevSession, r: Request) -> object:
    try:
        limit = int(r.query.get("limit") or 50)
    except ValueError:
        raise ConsoleError(400, f"limit must be a whole number, got {r.query.get('limit')!r}") from None
    return s.executions(workflow=r.query.get("workflow"), status=r.query.get("status"), tag=r.query.get("tag"),
                        limit=limit)


@route("GET", "/api/executions/{}")
def _execution(s: DevSession, r: Request) -> object:
    return s.execution(r.params[0])


@route("POST", "/api/executions")
def _start(s: DevSession, r: Request) -> object:
    payload = r.body.get("input") if isinstance(r.body, dict) else None
    return s.start_workflow(r.text("workflow", required=True), payload, r.text("execution_id") or None)


@route("POST", "/api/executions/{}/cancel")
def _cancel(s: DevSession, r: Request) -> object:
    return s.cancel(r.params[0], compensate=bool(isinstance(r.body, dict) and r.body.get("compensate")))


@route("POST", "/api/events")
def _send(s: DevSession, r: Request) -> object:
    detail = r.body.get("detail", {}) if isinstance(r.body, dict) else {}
    return s.send_event(r.text("type", required=True), detail)


@route("POST", "/api/clock/advance")
def _advance(s: DevSession, r: Request) -> object:
    return s.advance(r.text("duration", required=True))


@route("POST", "/api/clock/next")
def _next(s: DevSession, r: Request) -> object:
    return s.next_timer()


@route("POST", "/api/clock/speed")
def _speed(s: DevSession, r: Request) -> object:
    speed = r.body.get("speed") if isinstance(r.body, dict) else None
    if isinstance(speed, bool) or not isinstance(speed, int | float):
        raise ConsoleError(400, "'speed' must be a number: 0 pauses, 1 is real time, 60 a minute a second")
    return s.set_speed(float(speed))


@route("GET", "/api/tasks")
def _tasks(s: DevSession, r: Request) -> object:
    return s.tasks(assignee=r.query.get("assignee") or None, status=r.query.get("status") or None)


@route("GET", "/api/tasks/{}")
def _task(s: DevSession, r: Request) -> object:
    return s.task(r.params[0])


@route("POST", "/api/tasks/{}/claim")
def _claim(s: DevSession, r: Request) -> object:
    return s.claim_task(r.params[0], r.text("by", required=True))


@route("POST", "/api/tasks/{}/release")
def _release(s: DevSession, r: Request) -> object:
    return s.release_task(r.params[0], r.text("by", required=True))


@route("POST", "/api/tasks/{}/complete")
def _complete(s: DevSession, r: Request) -> object:
    data = r.body.get("data") if isinstance(r.body, dict) else None
    return s.complete_task(r.params[0], r.text("by", required=True), r.text("decision", required=True),
                           data if data is not None else {}, r.text("comment"))


class ConsoleServer(ThreadingHTTPServer):
    """The HTTP server with its session, its POST token and the Host names it answers to."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, session: DevSession, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = True) -> None:
        super().__init__((host, port), ConsoleHandler)
        self.session = session
        self.token = secrets.token_urlsafe(24)
        self.quiet = quiet
        self.closing = threading.Event()
        bound = self.server_address[1]
        names = set(_LOCAL_NAMES) | ({host} if host not in ("0.0.0.0", "::", "") else set())
        self.any_host = host in ("0.0.0.0", "::", "")
        self.allowed_hosts = {f"{n}:{bound}" for n in names}

    @property
    def url(self) -> str:
        """The console's address."""
        host, port = self.server_address[0], self.server_address[1]
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else str(host)
        return f"http://{shown}:{port}/"

    def start_background(self) -> threading.Thread:
        """Serve on a daemon thread (tests, and the CLI's main thread waiting for Ctrl-C)."""
        thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="stepbridge-dev-http",
                                  daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        """End the live streams and stop serving."""
        self.closing.set()
        self.session.changes.close()
        self.shutdown()
        self.server_close()


class ConsoleHandler(BaseHTTPRequestHandler):
    """One request: check Host (and the token for POST), then a static file, the stream or a JSON route."""

    server: ConsoleServer
    protocol_version = "HTTP/1.1"
    server_version = "stepbridge-dev"

    def log_message(self, format: str, *args: object) -> None:
        """Quiet unless asked: the terminal shows what the console does, not every poll."""
        if not self.server.quiet:
            sys.stderr.write(f"dev: {self.address_string()} {format % args}\n")

    # ---- answers ---------------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Security-Policy", _CSP)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: object) -> None:
        body = json.dumps(payload, default=str, ensure_ascii=False).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8")

    def _fail(self, status: int, message: str, error: str = "BadRequest") -> None:
        self._json(status, {"error": error, "message": message})

    # ---- checks ----------------------------------------------------------------------------------

    def _host_ok(self) -> bool:
        host = (self.headers.get("Host") or "").strip().lower()
        return self.server.any_host or host in self.server.allowed_hosts

    def _post_ok(self) -> str | None:
        """Why a POST is refused (``None`` when it may go on)."""
        if not secrets.compare_digest(self.headers.get("X-Stepbridge-Token") or "", self.server.token):
            return "missing or wrong X-Stepbridge-Token: post from the console's own page"
        origin = self.headers.get("Origin")
        if origin and urlsplit(origin).netloc.lower() != (self.headers.get("Host") or "").lower():
            return f"cross-site request from {origin!r} refused"
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return "the body must be JSON (Content-Type: application/json)"
        return None

    def _body(self) -> object:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise ConsoleError(400, "Content-Length is not a number") from None
        if length > MAX_BODY:
            if length <= 16 * MAX_BODY:  # read it away so the client hears the answer instead of a broken pipe
                for _ in range(0, length, 65536):
                    self.rfile.read(min(65536, length))
                    length -= 65536
            else:
                self.close_connection = True
            raise ConsoleError(413, f"the body is {int(self.headers.get('Content-Length') or 0)} bytes; "
                                    f"the console takes at most {MAX_BODY}")
        raw = self.rfile.read(length) if length else b""
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConsoleError(400, f"the body is not JSON: {exc}") from None

    # ---- methods ---------------------------------------------------------------------------------

    def do_GET(self) -> None:
        """Page, static files, live stream and the read-only JSON routes."""
        if not self._host_ok():
            self._fail(421, "this console answers only to the address it listens on (Host header refused)",
                       "MisdirectedRequest")
            return
        path = urlsplit(self.path).path
        if path in ("/", "/index.html"):
            self._index()
        elif path.startswith("/static/"):
            self._static(path.removeprefix("/static/"))
        elif path == "/api/stream":
            self._stream()
        else:
            self._dispatch("GET")

    def do_POST(self) -> None:
        """The state-changing JSON routes."""
        if not self._host_ok():
            self._fail(421, "this console answers only to the address it listens on (Host header refused)",
                       "MisdirectedRequest")
            return
        refused = self._post_ok()
        if refused:
            self._fail(403, refused, "Forbidden")
            return
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        for verb, pattern, handler in ROUTES:
            match = pattern.match(parts.path)
            if match is None:
                continue
            if verb != method:
                continue
            try:
                body = self._body() if method == "POST" else None
                request = Request(tuple(unquote(p) for p in match.groups()), query, body)
                result = handler(self.server.session, request)
            except Exception as exc:  # every failure is one JSON line; the console keeps serving
                self._json(status_of(exc), error_body(exc))
                return
            self._json(200, result)
            return
        if any(p.match(parts.path) for _, p, _ in ROUTES):
            self._fail(405, f"{method} is not allowed on {parts.path}", "MethodNotAllowed")
        else:
            self._fail(404, f"no console route {parts.path}", "NotFound")

    def _index(self) -> None:
        page = resources.files("stepbridge.devconsole").joinpath("static/index.html").read_text(encoding="utf-8")
        session = self.server.session
        page = page.replace("{{TOKEN}}", self.server.token).replace("{{APP}}", _escape(session.app.name))
        self._send(200, page.encode("utf-8"), "text/html; charset=utf-8")

    def _static(self, name: str) -> None:
        if name == "report.css":
            self._send(200, REPORT_CSS.encode("utf-8"), "text/css; charset=utf-8")
            return
        if name not in _STATIC:
            self._fail(404, f"no static file {name!r}", "NotFound")
            return
        data = resources.files("stepbridge.devconsole").joinpath(f"static/{name}").read_bytes()
        self._send(200, data, f"{_STATIC[name]}; charset=utf-8")

    def _stream(self) -> None:
        """Server-Sent Events: one ``state`` message now and whenever the version or the clock changes."""
        session = self.server.session
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.close_connection = True
        last: ClockState | None = None
        try:
            while not self.server.closing.is_set() and not session.changes.closed:
                state = session.clock()
                if state != last:
                    self.wfile.write(f"event: state\ndata: {json.dumps(state)}\n\n".encode())
                    last = state
                else:
                    self.wfile.write(b": keep-alive\n\n")
                self.wfile.flush()
                session.changes.wait(state["version"], HEARTBEAT)
        except (BrokenPipeError, ConnectionResetError, OSError):
            return  # the page went away


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def serve(session: DevSession, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = True) -> ConsoleServer:
    """A started console on ``host:port`` (``port=0``: a free one; read ``server.url``)."""
    server = ConsoleServer(session, host, port, quiet=quiet)
    server.start_background()
    return server


__all__ = ["ROUTES", "ConsoleError", "ConsoleServer", "serve"]
