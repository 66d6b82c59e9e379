"""Load test of the app: ``python -m vae_demo.bench.loadtest`` (the ``load`` section of ``python -m vae_demo.bench``).

It starts the app (``python app.py``) as its own process on loopback, with its own copy of the
checkpoints folder, starts a training job in the Train tab (``--no-training``: leave it out), and
drives the app through its public API with ``gradio_client``, the way the page does:

0. One user alone for ``--solo`` s (20), while the training job runs: how the app feels to one person.
1. ``--users`` simulated users (default 20), each with its own session, for ``--duration`` s (60),
   while the training job runs (it is stopped at the end of this phase).
   Each picks a random test image, then loops: waits a moment (``--think``, uniform), then either
   moves the severity slider (the restore row: every model of the dataset plus a classical
   restorer; now and then after choosing another corruption, which sets the slider's range as on
   the page), drags a latent slider of a random model, or picks another random image. Users are
   spread over the datasets that have test images. Every request's latency is recorded; an
   exception or an empty result is an error.
2. Memory: the same users go on for ``--requests`` (2000) more requests while the server's resident
   memory is sampled; the growth is the mean of the last tenth of the samples minus the mean of the
   first tenth. Peak memory is the server's high-water mark (VmHWM) over the whole run.

3. Browser users (``--browser-users``, 30; 0: none): that many headless Chromium pages (one browser,
   loopback only) open the Latent sliders tab and drag a slider for ``--browser-duration`` s (30) — a
   move every 50 ms each, decoded in the page. Reported: the server's CPU over that window, over as long
   a window just before with the same pages open and idle, and over one before any page opened (the
   idle server alone), each also per second (cores busy): dragging minus idle is what slider traffic
   costs it; the repaints the pages saw, and every page error, failed request or request to any host
   but the app. Pages are opened one at a time, each within 60 s, for at most OPEN_LIMIT_S (240 s) in
   all; every open page runs Gradio's whole front end on this same machine, which bounds how many it can
   hold.

4. A class's burst under ZeroGPU (``--zerogpu-burst``, sizes; default 16,32,64,128,200; empty: none): the
   app again, now as on a ZeroGPU Space (the real ``spaces`` package in ZeroGPU mode against the loopback
   stand-in for its device API in tests/, so it needs the repository's tests folder), idle; for each size
   that many sessions pick an image and then all move the restore row's severity slider at the same moment
   (:func:`burst`): answers, "Queue is full" refusals, errors, latencies. Then the same first burst
   against Gradio's own queue under ZeroGPU (one waiting event), the control.

Figures go to ``--json`` (default ``loadtest.json``) and, through the benchmark, to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MEMORY_GROWTH_BAR_MB = 20.0  # "memory does not grow": at most this much over the memory phase
TRAINING_JOB = ("mnist", "conv_vae", 16, "none", 1000, 128, 1e-3, 10000)  # the Train tab's run inputs


def training_job() -> tuple:
    """The Train tab's API inputs: the run's, then each model setting's control at its default."""
    from vae_demo.app.tabs.train import model_controls

    return (*TRAINING_JOB, *(s.default for s in model_controls().values()))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m vae_demo.bench.loadtest", description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--users", type=int, default=20, help="simulated users, one session each")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of the latency phase")
    p.add_argument("--requests", type=int, default=2000, help="requests of the memory phase")
    p.add_argument("--solo", type=float, default=20.0, help="seconds of one user alone first (0: none)")
    p.add_argument("--think", default="0.1,0.5", help="seconds a user waits between requests: min,max")
    p.add_argument("--no-training", action="store_true", help="no training job in the background")
    p.add_argument("--browser-users", type=int, default=30, help="headless Chromium pages dragging sliders (0: none)")
    p.add_argument("--browser-duration", type=float, default=30.0, help="seconds the browser users drag")
    p.add_argument("--zerogpu-burst", default="16,32,64,128,200",
                   help="sessions per burst under ZeroGPU, comma-separated (empty: no ZeroGPU phase)")
    p.add_argument("--checkpoint-dir", default=None,
                   help="checkpoints to serve (copied; default: $VAE_DEMO_CHECKPOINTS or ./checkpoints)")
    p.add_argument("--data-dir", default=None, help="data dir (default: $VAE_DEMO_DATA or ./data)")
    p.add_argument("--json", default="loadtest.json", help="where the figures go")
    p.add_argument("--seed", type=int, default=0)
    return p


# --- the server ------------------------------------------------------------------------------------

def _proc_kb(pid: int, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


class Server:
    """``python app.py`` on a free loopback port, with its own checkpoints folder (a copy)."""

    def __init__(self, checkpoint_dir: Path, data_dir: str | None, max_epochs: int = 1000,
                 command: list[str] | None = None, env: dict | None = None):
        """``command``: what runs the app (default ``python app.py``); ``env``: its environment (default
        this process's), to which the server settings are added."""
        from vae_demo.bench.latency import free_port

        self.tmp = Path(tempfile.mkdtemp(prefix="vae_demo_load_"))
        self.ckpt = self.tmp / "checkpoints"
        self.user_ckpt = self.tmp / "user_checkpoints"  # where the Train tab's job writes
        shutil.copytree(checkpoint_dir, self.ckpt) if Path(checkpoint_dir).is_dir() else self.ckpt.mkdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = {**(os.environ if env is None else env), "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(self.port),
               "VAE_DEMO_CHECKPOINTS": str(self.ckpt), "VAE_DEMO_MAX_EPOCHS": str(max_epochs),
               "VAE_DEMO_USER_CHECKPOINTS": str(self.user_ckpt),  # what the app trains stays in tmp
               "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
        if data_dir:
            env["VAE_DEMO_DATA"] = str(data_dir)
        self.log = open(self.tmp / "server.log", "w")  # noqa: SIM115  (closed in stop())
        self.proc = subprocess.Popen(command or [sys.executable, str(REPO / "app.py")], cwd=REPO, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 180.0) -> float:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the app exited with code {self.proc.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as r:
                    if r.status == 200:
                        return time.perf_counter() - t0
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"the app did not answer within {timeout:.0f} s: {self.log_tail()}")

    def rss_mb(self) -> float | None:
        kb = _proc_kb(self.proc.pid, "VmRSS")
        return None if kb is None else kb / 1024

    def cpu_s(self) -> float | None:
        """CPU seconds (user + system) the server has used so far."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    def peak_mb(self) -> float | None:
        kb = _proc_kb(self.proc.pid, "VmHWM")
        return None if kb is None else kb / 1024

    def log_tail(self, n: int = 1500) -> str:
        self.log.flush()
        return (self.tmp / "server.log").read_text(errors="replace")[-n:]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


# --- the users -------------------------------------------------------------------------------------

@dataclass
class Record:
    records: list = field(default_factory=list)  # (phase, endpoint, seconds, ok, message)
    per_phase: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, *row) -> int:
        """Record one request; returns how many requests its phase has now."""
        with self.lock:
            self.records.append(row)
            self.per_phase[row[0]] = self.per_phase.get(row[0], 0) + 1
            return self.per_phase[row[0]]


def _models_by_dataset(ckpt_dir: Path) -> dict[str, list[str]]:
    """Checkpoints with a latent code (slider-able), by dataset."""
    from vae_demo.checkpoints import list_checkpoints
    from vae_demo.models import MODELS

    out: dict[str, list[str]] = {}
    for meta in list_checkpoints(ckpt_dir):
        if MODELS[meta["model"]].has_latent_code:
            out.setdefault(meta["dataset"], []).append(meta["name"])
    return out


KIND_SEVERITY = {"gaussian": (0.05, 0.8), "erasure": (0.1, 0.9), "blur": (0.5, 4.0), "block": (4, 16),
                 "saltpepper": (0.02, 0.3), "lowres": (2, 4)}


def _ok(endpoint: str, result) -> tuple[bool, str]:
    """Did the request give what the page would show? (handlers report problems as warnings and
    leave outputs unchanged, which reaches an API caller as empty outputs)."""
    if endpoint == "restore":
        gallery, summary = result
        good = bool(gallery) and "restored in" in str(summary)
        return good, "" if good else f"no restore row: {str(summary)[:120]!r}"
    if endpoint == "slide":
        return bool(result), "" if result else "no image"
    if endpoint == "pick_random":
        return bool(result and result[0]), "" if result and result[0] else "no image picked"
    return True, ""


def user(i: int, url: str, dataset: str, models: list[str], rec: Record, phases: dict, think: tuple,
         sliders: int, seed: int) -> None:
    from gradio_client import Client

    rng = random.Random(seed * 1000 + i)
    try:
        client = Client(url, verbose=False, download_files=False)  # the page does not save them either
    except Exception as err:  # noqa: BLE001  (a failed connection is an error of this user)
        rec.add("connect", "connect", 0.0, False, f"{type(err).__name__}: {err}"[:200])
        return
    picked, kind = False, "gaussian"
    while True:
        phase = phases["now"]
        if phase == "done":
            return
        if phase == "pause":
            time.sleep(0.2)
            continue
        if not picked or rng.random() < 0.1:
            endpoint, args = "pick_random", (dataset, 0)
        elif models and rng.random() < 0.5:
            values = [round(rng.uniform(-3, 3), 2) for _ in range(sliders)]
            endpoint, args = "slide", (dataset, rng.choice(models), *values)
        elif rng.random() < 0.2:
            kind = rng.choice(list(KIND_SEVERITY))
            endpoint, args = "choose_corruption", (kind, dataset)
        else:
            lo, hi = KIND_SEVERITY[kind]
            sev = rng.randint(lo, hi) if isinstance(lo, int) else round(rng.uniform(lo, hi), 2)
            endpoint, args = "restore", (dataset, kind, sev, rng.randint(0, 99), rng.random() < 0.5, 64)
        t0 = time.perf_counter()
        try:
            result = client.predict(*args, api_name="/" + endpoint)
            ok, msg = _ok(endpoint, result)
        except Exception as err:  # noqa: BLE001  (every failure counts; the message says which)
            ok, msg = False, f"{type(err).__name__}: {err}"[:200]
        dt = time.perf_counter() - t0
        n = rec.add(phase, endpoint, dt, ok, msg)
        picked = picked or (endpoint == "pick_random" and ok)
        if endpoint == "choose_corruption" and not ok:
            kind = "gaussian"
        if phase == "memory" and n >= phases["memory_requests"]:
            phases["now"] = "done"
        time.sleep(rng.uniform(*think))


# --- a class's burst -------------------------------------------------------------------------------

class RawClient:
    """The page's own calls through Gradio's queue (``/gradio_api/queue/join`` and the session's event
    stream), raw, so that a refusal ("Queue is full", HTTP 503 at the join) is seen as such."""

    def __init__(self, url: str, timeout: float = 120.0, headers: dict | None = None):
        import httpx

        self.url, self.timeout = url.rstrip("/"), timeout
        self.http = httpx.Client(timeout=timeout, limits=httpx.Limits(max_connections=None), headers=headers)
        config = self.http.get(self.url + "/config").json()
        kinds = {c["id"]: c["type"] for c in config["components"]}
        self.deps = {d["api_name"]: d for d in config["dependencies"] if d.get("api_name")}
        self.states = {n: [kinds[i] == "state" for i in d["inputs"]] for n, d in self.deps.items()}

    def call(self, api: str, values: list, session: str, expect: str = "") -> tuple[str, float, str]:
        """(outcome, seconds, message): outcome "answered" (a success, whose outputs hold ``expect``),
        "queue_full" or "error"."""
        it = iter(values)
        data = [None if st else next(it, None) for st in self.states[api]]
        body = {"data": data, "fn_index": self.deps[api]["id"], "session_hash": session, "event_data": None,
                "trigger_id": None}
        t0 = time.perf_counter()
        r = self.http.post(self.url + "/gradio_api/queue/join", json=body)
        if r.status_code == 503:
            return "queue_full", time.perf_counter() - t0, r.text[:200]
        if r.status_code != 200:
            return "error", time.perf_counter() - t0, f"HTTP {r.status_code}: {r.text[:200]}"
        with self.http.stream("GET", self.url + f"/gradio_api/queue/data?session_hash={session}") as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("msg") == "process_completed":
                    out = msg.get("output") or {}
                    ok = bool(msg.get("success")) and any(expect in str(d) for d in out.get("data") or [])
                    return ("answered" if ok else "error"), time.perf_counter() - t0, str(out.get("error") or "")[:200]
        return "error", time.perf_counter() - t0, "the event stream ended without an answer"


def burst(url: str, sessions: int = 16, dataset: str = "mnist", timeout: float = 120.0) -> dict:
    """A class moving the severity slider at once: ``sessions`` sessions each pick a test image, then all
    ask ``/restore`` at the same moment. Counts the answers, the "Queue is full" refusals and the errors,
    and the latency of the answers (p50, max) and of the whole burst."""
    import uuid

    client = RawClient(url, timeout)
    ids = [uuid.uuid4().hex[:12] for _ in range(sessions)]
    picked = [client.call("pick_random", [dataset, 0], sid)[0] for sid in ids]  # each student's image
    results: list = [None] * sessions
    gate = threading.Barrier(sessions)

    def one(i):
        gate.wait()
        results[i] = client.call("restore", [dataset, "gaussian", 0.3, i, False, 8, None], ids[i], "restored in")

    t0 = time.perf_counter()
    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    wall = time.perf_counter() - t0
    done = [r for r in results if r is not None]
    answered = [r[1] * 1000 for r in done if r[0] == "answered"]
    return {"sessions": sessions, "answered": len(answered), "queue_full": sum(r[0] == "queue_full" for r in done),
            "errors": sum(r[0] == "error" for r in done) + sessions - len(done),
            "p50_ms": _r(_pct(answered, 0.5)), "max_ms": _r(max(answered) if answered else None),
            "wall_s": _r(wall, 2), "messages": sorted({r[2] for r in done if r[0] != "answered"})[:3],
            "images_picked": picked.count("answered")}


# --- the run ---------------------------------------------------------------------------------------

def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def _latency(rows) -> dict:
    ms = [r[2] * 1000 for r in rows]
    return {"requests": len(rows), "p50_ms": _r(_pct(ms, 0.5)), "p95_ms": _r(_pct(ms, 0.95)),
            "max_ms": _r(max(ms) if ms else None)}


def _by_endpoint(rows) -> dict:
    """_latency per endpoint (rows: phase, endpoint, seconds, ok)."""
    return {ep: _latency([r for r in rows if r[1] == ep]) for ep in sorted({r[1] for r in rows})}


def _r(v, nd=1):
    return None if v is None else round(v, nd)


DRAG_JS = """
(seconds) => new Promise((done) => {
  const input = document.querySelector('#sliders-z0 input[type=range]');
  const img = () => document.querySelector('#sliders-image img');
  let paints = 0, last = img() && img().getAttribute('src'), i = 0;
  const obs = new MutationObserver(() => {
    const s = img() && img().getAttribute('src');
    if (s && s !== last) { last = s; paints += 1; }
  });
  obs.observe(document.querySelector('#sliders-image'), {subtree: true, childList: true, attributes: true});
  const t0 = performance.now();
  const timer = setInterval(() => {
    if (performance.now() - t0 > seconds * 1000) {
      clearInterval(timer); obs.disconnect();
      const where = document.querySelector('#sliders-where');
      return done({moves: i, paints, where: where ? where.innerText : ''});
    }
    input.value = String((Math.sin(i++ / 5) * 2.5).toFixed(2));
    input.dispatchEvent(new Event('input', {bubbles: true}));
  }, 50);
})
"""


OPEN_LIMIT_S = 240.0  # pages still not open by then are not waited for (and count as errors)


def browser_phase(server: Server, pages: int, seconds: float, log) -> dict:
    """``pages`` headless Chromium pages drag a latent slider for ``seconds`` (see the module doc)."""
    from playwright.sync_api import sync_playwright

    from vae_demo.bench.latency import chromium_path, open_browser

    if chromium_path() is None:
        return {"skipped": "chromium not found (apt-get install chromium)"}
    errors: list[str] = []
    phase = ["open"]  # which window the pages' requests to the server fall in
    asked = {"open": [], "idle": [], "dragging": [], "done": []}
    cpu0 = server.cpu_s()  # first no page at all: what the idle server spends by itself (Gradio's loops)
    time.sleep(seconds)
    alone = server.cpu_s() - cpu0
    with sync_playwright() as p:
        browser = open_browser(p)
        try:
            opened = []
            t_open = time.perf_counter()
            for k in range(pages):
                if time.perf_counter() - t_open > OPEN_LIMIT_S:
                    errors.append(f"pages {k}..{pages - 1} not opened: {OPEN_LIMIT_S:g} s limit")
                    break
                pg = browser.new_page(viewport={"width": 1280, "height": 800})
                pg.set_default_timeout(60_000)
                pg.on("pageerror", lambda e, k=k: errors.append(f"page {k}: {e}"))
                # a request the page itself cancels (Gradio closing an event stream) is not a failure
                pg.on("requestfailed", lambda r, k=k: None if "ERR_ABORTED" in str(r.failure) else
                      errors.append(f"page {k}: {r.url[-60:]} {r.failure}"))
                pg.on("response", lambda r, k=k: errors.append(f"page {k}: HTTP {r.status} {r.url[-60:]}")
                      if r.status >= 400 else None)
                pg.on("request", lambda r: asked[phase[0]].append(r.url))
                pg.route(lambda u: not u.startswith(server.url.rstrip("/")),
                         lambda route: (errors.append(f"outside request {route.request.url[:60]}"), route.abort()))
                try:
                    pg.goto(server.url)
                    pg.get_by_role("tab", name="Latent sliders").click()
                    pg.locator("#sliders-image img").wait_for()
                    pg.wait_for_function("() => window.vaeDecoder && window.vaeDecoder.state.backend")
                    opened.append(pg)
                except Exception as err:  # noqa: BLE001  (a page that cannot open is an error, reported)
                    errors.append(f"page {k} did not open: {str(err)[:120]}")
            log(f"browser users: {len(opened)} pages open in {time.perf_counter() - t_open:.0f} s")
            cpu0 = server.cpu_s()  # first the same pages, open and idle: what the server spends anyway
            phase[0] = "idle"
            if opened:  # (a Playwright wait, not time.sleep: it hands the pages' request events over as they come)
                opened[0].wait_for_timeout(seconds * 1000)
            else:
                time.sleep(seconds)
            idle = server.cpu_s() - cpu0
            cpu0, t0 = server.cpu_s(), time.perf_counter()
            phase[0] = "dragging"
            # every page drags at once: each one's loop runs in its own page, started without waiting
            for pg in opened:  # returns at once: the drag's promise is left running in the page
                pg.evaluate(f"() => {{ window.__drag = ({DRAG_JS.strip()})({seconds}); return 1; }}")
            results = []
            for pg in opened:
                try:
                    results.append(pg.evaluate("() => window.__drag"))  # the page timeout (60 s) bounds it
                except Exception as err:  # noqa: BLE001
                    errors.append(f"a page's drag did not finish: {str(err)[:120]}")
            wall = time.perf_counter() - t0
            cpu = server.cpu_s() - cpu0
            phase[0] = "done"
        finally:
            browser.close()
    in_page = sum("in this browser" in r.get("where", "") for r in results)
    return {"pages": pages, "pages_open": len(opened), "seconds": seconds, "wall_s": _r(wall, 1),
            "moves": sum(r["moves"] for r in results), "repaints": sum(r["paints"] for r in results),
            "pages_decoding_in_page": in_page, "server_cpu_s": _r(cpu, 2), "server_cpu_idle_s": _r(idle, 2),
            "server_cpu_alone_s": _r(alone, 2),
            # what the pages asked of the server in each window: all requests, and those that are not the
            # 5-s poll of the versions file (services/versions.py)
            "requests": {w: {"all": len(u), "not_version_polls": sum("versions-" not in x for x in u),
                             "examples": sorted({x.split("?")[0][-70:] for x in u if "versions-" not in x})[:5]}
                         for w, u in asked.items() if w in ("idle", "dragging")},
            # CPU-seconds per second (1 = one core busy): no page, the pages idle, the pages dragging
            "server_cores": {"alone": _r(alone / seconds, 3), "idle": _r(idle / seconds, 3),
                             "dragging": _r(cpu / wall, 3)},
            "server_cpu_share": _r(cpu / (wall * (os.cpu_count() or 1)), 3), "errors": len(errors),
            "error_examples": errors[:5], "pass": not errors and len(opened) == pages and in_page == pages}


def zerogpu_burst(checkpoint_dir: Path, data_dir, sizes=(16, 32, 64, 128, 200), log=None) -> dict:
    """Phase 4 (see the module doc): bursts of restores against the app as on a ZeroGPU Space, then the
    first size against Gradio's own queue there (the control)."""
    log = log or (lambda msg: None)
    try:
        from vae_demo.bench.zerogpu.standin import DeviceAPI, app_command, zerogpu_env
    except ImportError as err:
        return {"skipped": f"needs the repository's tests folder (the device API stand-in): {err}"}
    from vae_demo.services.gpu import queue_settings

    api = DeviceAPI()
    out = {"queue": queue_settings(), "gradio_threads": 40, "bursts": [], "control": None}
    try:
        for control in (False, True):
            home = Path(tempfile.mkdtemp(prefix="vae_demo_zerogpu_"))
            env = zerogpu_env(api, home, **({"ZEROGPU_TEST_GRADIO_QUEUE": "default"} if control else {}))
            server = Server(checkpoint_dir, data_dir, command=app_command(), env=env)
            try:
                server.wait_ready()
                for n in sizes[:1] if control else sizes:
                    r = burst(server.url, n)
                    log(f"ZeroGPU burst of {n}{' (Gradio default queue)' if control else ''}: {r['answered']} answered, "
                        f"{r['queue_full']} queue full, {r['errors']} errors, last answer {r['max_ms']} ms")
                    if control:
                        out["control"] = r
                    else:
                        out["bursts"].append(r)
                    time.sleep(2)
            finally:
                server.stop()
                shutil.rmtree(home, ignore_errors=True)
        out["gpu_calls"] = len(api.schedules)  # restores never ask for a GPU
    finally:
        api.close()
    return out


def run(users: int = 20, duration: float = 60.0, requests: int = 2000, think: tuple = (0.1, 0.5),
        training: bool = True, checkpoint_dir=None, data_dir=None, seed: int = 0, progress=None,
        solo: float = 20.0, browser_users: int = 0, browser_duration: float = 30.0,
        zerogpu_sizes: tuple = ()) -> dict:
    """Run the load test; returns the figures (see the module doc). ``zerogpu_sizes``: phase 4's bursts
    (none by default; the command's ``--zerogpu-burst`` asks for 16, 32, 64, 128 and 200)."""
    from vae_demo.checkpoints import checkpoint_dir as default_ckpt_dir
    from vae_demo.services.latent import MAX_SLIDERS
    from vae_demo.services.testdata import TestImages

    ckpt = Path(default_ckpt_dir(checkpoint_dir))
    log = progress or (lambda msg: print(msg, file=sys.stderr, flush=True))
    images = TestImages(data_dir)
    datasets = [d for d in ("mnist", "fashion-mnist", "cifar10") if images.present_on_disk(d)]
    if not datasets:
        raise RuntimeError("no test images found: set VAE_DEMO_DATA or --data-dir (see README)")
    models = _models_by_dataset(ckpt)
    server = Server(ckpt, data_dir)
    try:
        startup = server.wait_ready()
        log(f"app up in {startup:.1f} s at {server.url}")
        rec = Record()
        train_note = "none"
        if training:
            from gradio_client import Client

            status = Client(server.url, verbose=False).predict(*training_job(), api_name="/train")
            train_note = (f"`{TRAINING_JOB[1]}` on {TRAINING_JOB[0]} started through the Train tab's API "
                          f"before the users, stopped (Stop button's API) after the latency phase")
            log(f"training: {str(status)[:160]}")
        phases = {"now": "latency", "memory_requests": requests}
        think = (float(think[0]), float(think[1]))
        threads = [threading.Thread(target=user, daemon=True, name=f"user-{i}", args=(
            i, server.url, datasets[i % len(datasets)], models.get(datasets[i % len(datasets)], []), rec, phases,
            think, MAX_SLIDERS, seed)) for i in range(users)]
        samples = []  # (requests so far, RSS MB)
        if solo > 0:  # one user alone first: how the app feels to one person while a job trains
            phases["now"] = "solo"
            threads[0].start()
            t_solo = time.perf_counter()
            while time.perf_counter() - t_solo < solo:
                time.sleep(0.5)
                samples.append((len(rec.records), server.rss_mb(), "solo"))
            phases["now"] = "latency"
        cpu0_server, cpu0_self = server.cpu_s(), time.process_time()
        t0 = time.perf_counter()
        for t in threads:
            if not t.is_alive():
                t.start()
        while time.perf_counter() - t0 < duration:
            time.sleep(0.5)
            samples.append((len(rec.records), server.rss_mb(), "latency"))
        cpu_server, cpu_self = server.cpu_s() - cpu0_server, time.process_time() - cpu0_self
        if training:  # the job's own memory swings by ~100 MB per epoch: stop it before watching memory
            from gradio_client import Client

            phases["now"] = "pause"
            client = Client(server.url, verbose=False, download_files=False)
            client.predict(api_name="/stop_training")
            client.predict(api_name="/follow_training")  # streams the job's state until it has ended
        phases["now"] = "memory"
        log(f"latency phase: {len(rec.records)} requests in {duration:g} s; memory phase: {requests} more")
        t_mem = time.perf_counter()
        while phases["now"] != "done" and time.perf_counter() - t_mem < 20 * 60:
            time.sleep(0.5)
            samples.append((len(rec.records), server.rss_mb(), "memory"))
        phases["now"] = "done"
        for t in threads:
            t.join(timeout=60)
        browser = browser_phase(server, browser_users, browser_duration, log) if browser_users > 0 else None
        peak = server.peak_mb()
        trained_epochs = None
        if training:
            from vae_demo.checkpoints import list_checkpoints

            trained_epochs = max((m.get("epochs", 0) for m in list_checkpoints(server.user_ckpt)), default=0)
        alive = server.proc.poll() is None
    finally:
        server_log = server.log_tail(3000)
        server.stop()
    zerogpu = zerogpu_burst(ckpt, data_dir, tuple(zerogpu_sizes), log) if zerogpu_sizes else None

    lat_rows = [r for r in rec.records if r[0] == "latency"]
    solo_rows = [r for r in rec.records if r[0] == "solo"]
    mem_rows = [r for r in rec.records if r[0] == "memory"]
    errors = [r for r in rec.records if not r[3]]
    mem = [m for n, m, ph in samples if ph == "memory" and m is not None]
    k = max(1, len(mem) // 10)
    growth = (statistics.mean(mem[-k:]) - statistics.mean(mem[:k])) if len(mem) >= 2 else None
    return {
        "users": users, "duration_s": duration, "think_s": list(think), "datasets": datasets,
        "training": train_note, "training_epochs_done": trained_epochs, "startup_s": round(startup, 1),
        "cpu_s": {"server": _r(cpu_server), "load_generator": _r(cpu_self), "cores": os.cpu_count(),
                  "wall": duration},
        "solo": {"duration_s": solo, **_latency(solo_rows), "by_endpoint": _by_endpoint(solo_rows)},
        "latency": {**_latency(lat_rows), "throughput_rps": _r(len(lat_rows) / duration, 2),
                    "by_endpoint": _by_endpoint(lat_rows)},
        "memory_phase": {**_latency(mem_rows), "rss_start_mb": _r(statistics.mean(mem[:k]) if mem else None),
                         "rss_end_mb": _r(statistics.mean(mem[-k:]) if mem else None), "growth_mb": _r(growth),
                         "bar_mb": MEMORY_GROWTH_BAR_MB,
                         "samples": [[n, _r(m), ph] for n, m, ph in samples[:: max(1, len(samples) // 80)]]},
        "peak_rss_mb": _r(peak),
        "requests": len(rec.records),
        "errors": len(errors),
        "error_examples": sorted({f"{r[1]}: {r[4]}" for r in errors})[:5],
        "server_alive": alive,
        "pass_errors": not errors and alive,
        "pass_memory": growth is not None and growth <= MEMORY_GROWTH_BAR_MB,
        "server_log_tail": server_log if errors else "",
        "browser_users": browser,
        "zerogpu_burst": zerogpu,
    }


def save_memory_plot(path: Path, samples: list, growth_mb: float | None = None) -> Path:
    """The server's resident memory against requests served, as a PNG line chart (PIL only)."""
    from PIL import Image, ImageDraw, ImageFont

    pts = [(n, m, ph) for n, m, ph in samples if m is not None]
    w, h, left, right, top, bottom = 720, 300, 64, 16, 28, 40
    im = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(im)
    try:
        font = ImageFont.load_default(size=12)
    except TypeError:  # Pillow without FreeType
        font = ImageFont.load_default()
    if len(pts) < 2:
        d.text((left, h // 2), "no memory samples", fill="black", font=font)
        im.save(path)
        return path
    n_max = max(p[0] for p in pts) or 1
    lo, hi = 0.0, max(p[1] for p in pts) * 1.1

    def xy(n, m):
        return (left + (w - left - right) * n / n_max, h - bottom - (h - top - bottom) * (m - lo) / (hi - lo))

    mem_from = next((n for n, _, ph in pts if ph == "memory"), None)
    if mem_from is not None:  # shade the memory phase
        d.rectangle([xy(mem_from, hi)[0], top, w - right, h - bottom], fill=(235, 242, 255))
        d.text((xy(mem_from, hi)[0] + 4, top + 2), "memory phase (training stopped)", fill=(60, 60, 140), font=font)
    d.text((left + 4, top + 2), "latency phase (training running)", fill=(60, 60, 60), font=font)
    for frac in (0, 0.25, 0.5, 0.75, 1.0):  # y grid
        m = lo + frac * (hi - lo)
        y = xy(0, m)[1]
        d.line([left, y, w - right, y], fill=(225, 225, 225))
        d.text((4, y - 7), f"{m:.0f} MB", fill="black", font=font)
    d.line([xy(n, m) for n, m, _ in pts], fill=(200, 40, 40), width=2)
    d.line([left, h - bottom, w - right, h - bottom], fill="black")
    d.text((left, h - bottom + 6), "0", fill="black", font=font)
    d.text((w - right - 100, h - bottom + 6), f"{n_max} requests", fill="black", font=font)
    title = "server resident memory (RSS)" + (f"; growth over the memory phase {growth_mb:.1f} MB"
                                               if growth_mb is not None else "")
    d.text((left, 8), title, fill="black", font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)
    return path


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        lo, hi = (float(v) for v in args.think.split(","))
    except ValueError:
        print(f"error: --think wants min,max seconds, got {args.think!r}", file=sys.stderr)
        return 2
    if not (1 <= args.users <= 500 and 1 <= args.duration <= 3600 and 0 <= args.requests <= 10**6
            and 0 <= lo <= hi <= 60):
        print("error: --users 1..500, --duration 1..3600 s, --requests 0..1e6, --think 0 ≤ min ≤ max ≤ 60",
              file=sys.stderr)
        return 2
    try:
        sizes = tuple(int(v) for v in args.zerogpu_burst.split(",") if v.strip())
    except ValueError:
        print(f"error: --zerogpu-burst wants sizes like 16,32,64, got {args.zerogpu_burst!r}", file=sys.stderr)
        return 2
    try:
        out = run(args.users, args.duration, args.requests, (lo, hi), not args.no_training,
                  args.checkpoint_dir, args.data_dir, args.seed, solo=args.solo,
                  browser_users=max(0, min(args.browser_users, 60)), browser_duration=args.browser_duration,
                  zerogpu_sizes=tuple(n for n in sizes if 1 <= n <= 1000))
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    lat, mem = out["latency"], out["memory_phase"]
    print(f"{out['requests']} requests, {out['errors']} errors; latency p50 {lat['p50_ms']} ms, p95 {lat['p95_ms']} ms; "
          f"peak RSS {out['peak_rss_mb']} MB; memory growth over {args.requests} requests {mem['growth_mb']} MB "
          f"→ wrote {args.json}")
    z = out["zerogpu_burst"]
    if z and "skipped" not in z:
        print("ZeroGPU bursts (sessions: answered/queue full/errors, last answer ms): " + ", ".join(
            f"{r['sessions']}: {r['answered']}/{r['queue_full']}/{r['errors']}, {r['max_ms']}" for r in z["bursts"])
            + (f"; Gradio's default queue, {z['control']['sessions']}: {z['control']['answered']} answered, "
               f"{z['control']['queue_full']} queue full" if z.get("control") else ""))
    b = out["browser_users"]
    if b and "skipped" not in b:
        print(f"browser users: {b['pages_open']} pages, {b['moves']} slider moves, {b['repaints']} repaints, "
              f"{b['errors']} errors; server CPU {b['server_cpu_s']} s over {b['wall_s']} s")
    zerogpu_ok = not z or "skipped" in z or all(  # every one answered up to the bound (running + waiting
        r["errors"] == 0 and r["answered"] >= min(r["sessions"], z["queue"]["max_size"] + z["gradio_threads"])
        for r in z["bursts"])  # events); past it, as many as finished while the burst came in
    return 0 if out["pass_errors"] and out["pass_memory"] and (not b or b.get("pass", True)) and zerogpu_ok else 1


if __name__ == "__main__":
    sys.exit(main())
