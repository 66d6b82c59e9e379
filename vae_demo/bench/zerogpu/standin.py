"""A loopback stand-in for ZeroGPU's device API, and the processes that run the app or a training job under
the REAL ``spaces`` package in ZeroGPU mode against it (tests only; nothing here can reach the Hub).

The package (0.51, ``spaces/zero/api.py`` and ``client.py``) talks to the device API at
``$SPACES_ZERO_DEVICE_API_URL``: ``POST /startup-report`` at launch; ``POST /schedule`` for every call
(``durationSeconds``: the declared duration × the hardware factor; ``token``: the visitor's X-IP-Token),
answered by a JSON grant, a server-sent-event stream while the call waits in the platform's queue
(``ping`` … ``succeeded``), 429 with ``{left, wait}`` when the visitor's quota is short (a negative wait
means a duration above the maximum: "illegal duration"), or 503 when no GPU is free; ``POST /allow`` from
the worker (its pid) and ``POST /release`` at the end (``fail`` when the call failed). :class:`DeviceAPI`
answers all of them, keeps a quota per visitor (charged the seconds each call held the GPU, as the
platform charges use, not the declared duration) and records every request for the tests to read.

:func:`app_command` runs ``app.py`` (with vae_demo.bench.loadtest.Server) and :func:`job_process` a JobManager
driven over stdin/stdout (vae_demo/bench/zerogpu/job.py), each as its own process with ``SPACES_ZERO_GPU=true``
(:func:`zerogpu_env`) and the CPU stand-ins of vae_demo/bench/zerogpu/cuda.py imported before the package.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

REPO = Path(__file__).resolve().parents[3]


def visitor_token(user: str | None = None, ip: str = "10.0.0.1") -> str:
    """An X-IP-Token as the Hub's page sends it (a JWT; the package reads its payload only): a logged-in
    visitor when ``user`` is given, else an unauthenticated one known by its address."""
    def b64(obj) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    payload = {"ip": ip, **({"user": user} if user else {})}
    return f"{b64({'alg': 'none'})}.{b64(payload)}.sig"


def token_payload(token: str | None) -> dict:
    if not token:
        return {}
    try:
        part = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(part + "=="))
    except (IndexError, ValueError):
        return {}


@dataclass
class Schedule:
    token: str | None
    duration_s: int | None
    answer: str  # granted, queued, quota, illegal, no_gpu
    t: float = field(default_factory=time.time)


class DeviceAPI:
    """The device API on 127.0.0.1 (a thread of the test process). ``quota_s``: a visitor's daily quota
    (unauthenticated, logged in); ``max_duration_s``: the longest call allowed; :meth:`force` queues
    answers for the next /schedule requests ("grant": as it would anyway, "no_gpu", ("queue", seconds),
    ("quota", left_s), "illegal")."""

    def __init__(self, quota_s=(120, 300), max_duration_s: int = 300):
        self.quota_s = quota_s
        self.max_duration_s = max_duration_s
        self.schedules: list[Schedule] = []
        self.allows: list[dict] = []
        self.releases: list[dict] = []
        self.used: dict[str, float] = {}
        self.startup_reports = 0
        self.on_allow = None  # hook(pid) called when a new worker asks to be allowed (once per worker)
        self.on_grant = None  # hook() called when a call is granted
        self._forced: deque = deque()
        self._grants: dict[str, tuple[str, float]] = {}  # allow token -> (visitor, when granted)
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):  # noqa: N802
                url = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                api.handle(self, url.path, q)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True, name="device-api").start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def force(self, *answers) -> None:
        with self._lock:
            self._forced.extend(answers)

    def reset(self, quota_s=None, max_duration_s=None) -> None:
        with self._lock:
            self.schedules.clear()
            self.allows.clear()
            self.releases.clear()
            self.used.clear()
            self._forced.clear()
            self.on_allow = self.on_grant = None
            if quota_s is not None:
                self.quota_s = quota_s
            if max_duration_s is not None:
                self.max_duration_s = max_duration_s

    @staticmethod
    def visitor(token: str | None) -> str:
        p = token_payload(token)
        return f"user:{p['user']}" if p.get("user") else f"ip:{p.get('ip', 'unknown')}"

    def left(self, token: str | None) -> float:
        quota = self.quota_s[1] if token_payload(token).get("user") else self.quota_s[0]
        return quota - self.used.get(self.visitor(token), 0.0)

    # --- the endpoints ---

    def handle(self, h: BaseHTTPRequestHandler, path: str, q: dict) -> None:
        if path == "/startup-report":
            self.startup_reports += 1
            return self._send(h, 200)
        if path == "/schedule":
            return self._schedule(h, q)
        if path == "/allow":
            with self._lock:
                self.allows.append({"token": q.get("allowToken"), "pid": int(q.get("pid", 0)), "t": time.time()})
            if self.on_allow is not None:
                self.on_allow(int(q.get("pid", 0)))
            return self._send(h, 200)
        if path == "/release":
            with self._lock:
                visitor, granted = self._grants.pop(q.get("allowToken"), (None, time.time()))
                held = time.time() - granted
                if visitor is not None:
                    self.used[visitor] = self.used.get(visitor, 0.0) + held
                self.releases.append({"token": q.get("allowToken"), "fail": q.get("fail") == "True",
                                      "held_s": held, "known": visitor is not None})
            return self._send(h, 200 if visitor is not None else 404)
        return self._send(h, 404)

    def _schedule(self, h, q: dict) -> None:
        token = q.get("token")
        duration = int(q["durationSeconds"]) if "durationSeconds" in q else None
        auth = {"X-Authenticated": "regular"} if token_payload(token).get("user") else {}
        with self._lock:
            forced = self._forced.popleft() if self._forced else None
            left = self.left(token)
        kind = forced if isinstance(forced, str) else (forced[0] if forced else None)  # "grant": as usual

        def record(answer):
            with self._lock:
                self.schedules.append(Schedule(token, duration, answer))

        if kind == "no_gpu":
            record("no_gpu")
            return self._send(h, 503, {"detail": "no GPU"})
        if kind == "illegal" or (duration or 60) > self.max_duration_s:
            record("illegal")
            return self._send(h, 429, {"left": int(max(0, left)), "wait": -1},
                              {**auth, "X-Approve-Result": "illegal-duration"})
        if kind == "quota" or (duration or 60) > left:
            shown = int(forced[1]) if kind == "quota" else int(max(0, left))
            record("quota")
            return self._send(h, 429, {"left": shown, "wait": 600}, {**auth, "X-Approve-Result": "quota-exceeded"})
        grant = {"idle": True, "nvidiaIndex": 0, "nvidiaUUID": "GPU-standin-0", "allowToken": uuid.uuid4().hex}
        if kind == "queue":  # the platform's queue: pings, then the grant, as server-sent events
            record("queued")
            h.send_response(200)
            h.send_header("Content-Type", "text/event-stream")
            for k, v in auth.items():
                h.send_header(k, v)
            h.send_header("X-Queuing-Reason", "node")
            h.end_headers()
            t_end = time.time() + float(forced[1])
            while time.time() < t_end:
                h.wfile.write(b"event: ping\n\n")
                h.wfile.flush()
                time.sleep(0.3)
            with self._lock:
                self._grants[grant["allowToken"]] = (self.visitor(token), time.time())
            h.wfile.write(f"event: succeeded\ndata: {json.dumps(grant)}\n\n".encode())
            h.wfile.flush()
            return
        record("granted")
        with self._lock:
            self._grants[grant["allowToken"]] = (self.visitor(token), time.time())
        if self.on_grant is not None:
            self.on_grant()
        return self._send(h, 200, grant, {**auth, "X-Approve-Result": "approved"})

    @staticmethod
    def _send(h, status: int, body=None, headers=None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)


# --- the processes ------------------------------------------------------------------------------------

def zerogpu_env(api: DeviceAPI, home: Path, **extra) -> dict:
    """The environment of a process that runs the real package in ZeroGPU mode against ``api``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPACES_", "ZEROGPU_", "ZERO_GPU"))}
    home.mkdir(parents=True, exist_ok=True)
    env.update({
        "SPACES_ZERO_GPU": "true", "SPACES_ZERO_DEVICE_API_URL": api.url,
        "HOME": str(home),  # the package's ~/.zerogpu (offload and clean-up folders)
        "PYTHONPATH": os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "PYTHONUNBUFFERED": "1", "GRADIO_ANALYTICS_ENABLED": "False", "OMP_NUM_THREADS": "1",
    })
    env.update({k: str(v) for k, v in extra.items()})
    return env


def app_command() -> list[str]:
    """``python app.py``, with the CPU stand-ins and the real package imported first."""
    code = ("import vae_demo.bench.zerogpu.cuda as c; c.import_spaces(); c.apply_gpu_env(); "
            f"import runpy; runpy.run_path({str(REPO / 'app.py')!r}, run_name='__main__')")
    return [sys.executable, "-c", code]


def job_process(api: DeviceAPI, home: Path, wrap: list[str] | None = None, **env) -> JobHost:
    """A JobManager in its own process under the real package (vae_demo/bench/zerogpu/job.py), ``wrap``: a command
    prefix (``unshare -m …``)."""
    cmd = (wrap or []) + [sys.executable, "-m", "vae_demo.bench.zerogpu.job"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=zerogpu_env(api, home, **env), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=open(home / "job.log", "w"), text=True)  # noqa: SIM115
    host = JobHost(proc, home / "job.log")
    host.call({"op": "ping"}, timeout=120)
    return host


class JobHost:
    """Talks to vae_demo/bench/zerogpu/job.py: one JSON command per line, one JSON answer per line."""

    def __init__(self, proc: subprocess.Popen, log: Path):
        self.proc, self.log = proc, log
        self._answers: deque = deque()
        self._cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith("@@"):
                with self._cv:
                    self._answers.append(json.loads(line[2:]))
                    self._cv.notify_all()

    def call(self, cmd: dict, timeout: float = 120) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        t_end = time.time() + timeout
        with self._cv:
            while not self._answers:
                if self.proc.poll() is not None or time.time() > t_end:
                    raise RuntimeError(f"the job process did not answer {cmd['op']}: {self.log_tail()}")
                self._cv.wait(0.2)
            answer = self._answers.popleft()
        if "error" in answer:
            raise RuntimeError(f"{cmd['op']}: {answer['error']}")
        return answer

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.call({"op": "exit"}, timeout=10)
            except RuntimeError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (a ZeroGPU worker is one of the app's)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out
