"""What a hostile API caller finds: the real app (``python app.py``) on loopback, driven through its
public API with raw JSON (NaN and ±inf included), the way the page and gradio_client call it:
``/gradio_api/queue/join`` plus the event stream, and the queue-less ``/gradio_api/run/predict``.

One server for the module (a subprocess, so its memory can be read from /proc), on the tiny
synthetic world of tests/helpers/world.py. One test per finding of issue 14, then a property
test over every public endpoint. Each test also checks that the app still answers a normal request.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import struct
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from vae_demo.app.tabs.train import model_controls
from vae_demo.services.errors import UserInputError

pytestmark = pytest.mark.slow

TIMEOUT_S = 30.0  # no request of these tests may take longer (each read is bounded too)
ANSWER_S = 10.0  # "an answer within a few seconds" (a busy 2-core machine: generous)
IDLE_MARGIN_MB = 200.0
MESSAGE_CHARS = 300  # the longest message a caller may be given (vae_demo.services.inputs.MESSAGE_CHARS)


# --- the server and a raw client ---------------------------------------------------------------

@dataclass
class Answer:
    success: bool
    output: dict
    logs: list = field(default_factory=list)  # (level, message) of gr.Warning / gr.Info
    seconds: float = 0.0

    @property
    def data(self):
        return self.output.get("data") if self.success else None

    @property
    def message(self) -> str:
        """What the caller is told: the error, else the warnings."""
        if not self.success:
            return self.output.get("error") or ""
        return " | ".join(m for level, m in self.logs if level == "warning" and m)

    @property
    def texts(self) -> list[str]:
        """The text outputs (notes, summaries) of a successful call."""
        return [d for d in self.data or [] if isinstance(d, str)]

    @property
    def changed(self) -> bool:
        """Did the call produce outputs (not only 'leave everything as it is')?"""
        return self.success and any(d is not None and not _unchanged(d)  # (a session state comes back as null)
                                    for d in self.data or [])


def _unchanged(d) -> bool:
    """Is ``d`` an output update that changes nothing (gr.skip())? Some components wrap it in props."""
    return isinstance(d, dict) and d.get("__type__") == "update" and set(d) <= {"__type__", "props"} and (
        "props" not in d or _unchanged(d["props"]))


class App:
    def __init__(self, url: str, pid: int):
        self.url, self.pid = url.rstrip("/"), pid
        self.http = httpx.Client(timeout=TIMEOUT_S)
        config = self.http.get(self.url + "/config").json()
        types = {c["id"]: c["type"] for c in config["components"]}
        self.components = config["components"]
        self.deps = {d["api_name"]: d for d in config["dependencies"] if d.get("api_name")}
        self.states = {name: [types[i] == "state" for i in d["inputs"]] for name, d in self.deps.items()}
        self.info = self.http.get(self.url + "/gradio_api/info").json()["named_endpoints"]

    def fill(self, api: str, values: list) -> list:
        """The values for every input of ``api``: null in each session-state slot (as gradio_client does)."""
        out, it = [], iter(values)
        for is_state in self.states[api]:
            if is_state:
                out.append(None)
                continue
            try:
                out.append(next(it))
            except StopIteration:
                break
        return out + list(it)

    def call(self, api: str, values: list, session: str | None = None, fill: bool = True) -> Answer:
        """One call through the queue, as the page makes it; the answer or the error, and the warnings."""
        session = session or uuid.uuid4().hex[:12]
        body = json.dumps({"data": self.fill(api, values) if fill else values, "fn_index": self.deps[api]["id"],
                           "session_hash": session, "event_data": None, "trigger_id": None})  # NaN → NaN
        t0 = time.perf_counter()
        r = self.http.post(self.url + "/gradio_api/queue/join", content=body,
                           headers={"Content-Type": "application/json"})
        assert r.status_code == 200, r.text[:300]
        logs = []
        with self.http.stream("GET", self.url + f"/gradio_api/queue/data?session_hash={session}") as stream:
            for line in stream.iter_lines():
                if time.perf_counter() - t0 > TIMEOUT_S:
                    raise AssertionError(f"{api}: no answer within {TIMEOUT_S:.0f} s")
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("msg") == "log":
                    logs.append((msg.get("level"), msg.get("log")))
                elif msg.get("msg") == "process_completed":
                    return Answer(bool(msg.get("success")), msg.get("output") or {}, logs,
                                  time.perf_counter() - t0)
        raise AssertionError(f"{api}: the event stream ended without an answer")

    def direct(self, api: str, values: list, session: str | None = None) -> tuple[int, dict]:
        """One queue-less call (``/gradio_api/run/predict``), the route the page uses for queue=False events."""
        body = json.dumps({"data": self.fill(api, values), "fn_index": self.deps[api]["id"],
                           "session_hash": session or uuid.uuid4().hex[:12]})
        r = self.http.post(self.url + "/gradio_api/run/predict", content=body,
                           headers={"Content-Type": "application/json"})
        return r.status_code, r.json()

    def upload(self, name: str, data: bytes) -> dict:
        r = self.http.post(self.url + "/gradio_api/upload", files={"files": (name, data, "application/octet-stream")})
        assert r.status_code == 200, r.text[:300]
        return {"path": r.json()[0], "orig_name": name, "meta": {"_type": "gradio.FileData"}}

    def send_blob(self, session: str, elem_id: str, blob_id: str, data: bytes) -> None:
        """What the page's drawing canvas does before its event: the image goes to the component first."""
        comp = next(c["id"] for c in self.components if c.get("props", {}).get("elem_id") == elem_id)
        r = self.http.post(self.url + "/gradio_api/component_server",
                           data={"session_hash": session, "component_id": str(comp), "fn_name": "accept_blobs",
                                 "type": "composite", "index": "null", "id": blob_id},
                           files={"file": ("blob", data, "image/png")})
        assert r.status_code == 200, r.text[:300]

    def proc_kb(self, key: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise KeyError(key)

    # a normal request: the app still serves
    def picks_an_image(self, session: str) -> Answer:
        a = self.call("pick_random", ["mnist", 0], session)
        assert a.success and any("test image #" in t for t in a.texts), a.output
        return a

    def still_serves(self) -> None:
        session = uuid.uuid4().hex[:12]
        self.picks_an_image(session)
        a = self.call("restore", ["mnist", "gaussian", 0.3, 0, False, 8, None], session)
        assert a.changed and any("restored in" in t for t in a.texts), (a.output, a.logs)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from tests.helpers.world import make_tiny_world
    from vae_demo.bench.loadtest import Server

    data, ck = make_tiny_world(tmp_path_factory.mktemp("hostile"))
    old = os.environ.get("VAE_DEMO_MAX_TRAIN_IMAGES")
    os.environ["VAE_DEMO_MAX_TRAIN_IMAGES"] = "64"  # a job started by the property test ends in seconds
    try:
        server = Server(ck, str(data), max_epochs=1)
    finally:
        if old is None:
            os.environ.pop("VAE_DEMO_MAX_TRAIN_IMAGES", None)
        else:
            os.environ["VAE_DEMO_MAX_TRAIN_IMAGES"] = old
    try:
        server.wait_ready()
        yield App(server.url, server.proc.pid)
        assert server.proc.poll() is None, "the app died"
        log = server.log_tail(10**7)
        assert "Traceback" not in log, log[-3000:]  # nothing these tests sent crashed a handler
    finally:
        server.stop()
        shutil.rmtree(ck, ignore_errors=True)


def one_line(message: str) -> str:
    assert message, "an error without a message"
    assert "\n" not in message and "Traceback" not in message, message[:500]
    assert len(message) <= MESSAGE_CHARS, message[:500]
    return message


def png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def huge_png() -> bytes:
    """A valid 10000×10000 PNG: 12 kB on disk, 100 million pixels (400 MB as RGBA once decoded)."""
    return png(Image.new("1", (10000, 10000), 0))


def bomb_header_png() -> bytes:
    """A PNG whose header claims 100000×100000 pixels."""
    tiny = png(Image.new("L", (1, 1)))
    chunk = b"IHDR" + struct.pack(">II", 100000, 100000) + tiny[24:29]
    return tiny[:12] + chunk + struct.pack(">I", zlib.crc32(chunk)) + tiny[33:]


def sketch(file: dict | None) -> dict:
    return {"background": None, "layers": [], "composite": file, "id": None}


# --- (2) the Draw path decodes a huge image before any check ------------------------------------
# (first: the memory test wants an idle server, before other tests have raised its high-water mark)

class PeakRSS:
    """The server's peak resident memory while a block runs: VmHWM reset before (clear_refs), else
    VmRSS sampled every millisecond or so."""

    def __init__(self, app: App):
        self.app = app

    def __enter__(self):
        self.idle_mb = self.app.proc_kb("VmRSS") / 1024
        try:
            Path(f"/proc/{self.app.pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
            self.hwm = True
        except OSError:
            self.hwm = False
        self.samples = [self.idle_mb]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while not self.stop.is_set():
            try:
                self.samples.append(self.app.proc_kb("VmRSS") / 1024)
            except (OSError, KeyError):
                return
            time.sleep(0.001)

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)
        peak = max(self.samples)
        if self.hwm:
            peak = max(peak, self.app.proc_kb("VmHWM") / 1024)
        self.rise_mb = peak - self.idle_mb


def test_2_a_huge_drawing_is_refused_before_it_is_decoded(app, huge_png):
    app.still_serves()  # warm: the first restore row loads models and libraries
    time.sleep(1.0)
    file = app.upload("huge.png", huge_png)
    with PeakRSS(app) as mem:
        a = app.call("from_sketch", ["mnist", sketch(file)])
    assert mem.rise_mb < IDLE_MARGIN_MB, f"the server's memory rose {mem.rise_mb:.0f} MB over idle"
    assert "too large" in one_line(a.message) and "4 million pixels" in a.message, a.output
    # the page's own way: the canvas image goes to the component first (accept_blobs), then the event
    session = uuid.uuid4().hex[:12]
    app.send_blob(session, "restore-sketch", "blob-1", huge_png)
    with PeakRSS(app) as mem:
        a = app.call("from_sketch", ["mnist", {"id": "blob-1", "background": None, "layers": [], "composite": None}],
                     session)
    assert mem.rise_mb < IDLE_MARGIN_MB, f"the server's memory rose {mem.rise_mb:.0f} MB over idle"
    assert "too large" in one_line(a.message), a.output
    # a real drawing still works: black strokes on a transparent 280×280 canvas, like the page's
    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    canvas.paste((0, 0, 0, 255), (120, 40, 160, 240))
    a = app.call("from_sketch", ["mnist", sketch(app.upload("drawing.png", png(canvas)))])
    assert a.changed and any("your drawing" in t for t in a.texts), (a.output, a.logs)
    app.still_serves()


# --- (1) a valid 10000×10000 PNG upload is called "damaged or truncated" --------------------------

def test_1_a_huge_upload_is_called_too_large_once(app, huge_png):
    a = app.call("from_upload", ["mnist", app.upload("huge.png", huge_png)])
    message = one_line(a.message)
    assert message.count("too large") == 1 and "damaged" not in message and "truncated" not in message, message
    assert "10000×10000" in message and "40 million pixels" in message
    a = app.call("from_upload", ["mnist", app.upload("small.png", png(Image.new("L", (50, 40), 255)))])
    assert a.changed and any("your upload" in t for t in a.texts), (a.output, a.logs)
    app.still_serves()


# --- (3) /restore: every kind at any of its own severities, in one call ----------------------------

@pytest.mark.parametrize("kind,severity,shown", [
    ("blur", 5, "blur σ=5"), ("block", 12, "block mask 12px"), ("lowres", 3, "low resolution ×3"),
    ("erasure", 0.9, "0.9"), ("saltpepper", 1.0, "1")])
def test_3_restore_any_kind_at_its_own_severity_in_one_call(app, kind, severity, shown):
    session = uuid.uuid4().hex[:12]
    app.picks_an_image(session)  # no /choose_corruption before: the slider still has Gaussian noise's range
    a = app.call("restore", ["mnist", kind, severity, 1, False, 8, None], session)
    assert a.changed, (a.output, a.logs)
    summary = next(t for t in a.texts if "restored in" in t)
    assert shown in summary, summary
    assert a.data[0].count("<img") >= 3  # the row (HTML): original, corrupted and the restorations


@pytest.mark.parametrize("kind,severity,message", [
    ("blur", 50, "blur: severity must be from 0 to 10 (blur σ (pixels)), got 50"),
    ("block", 29, "block mask: severity must be from 0 to 28 (square side s (pixels)), got 29"),
    ("lowres", 0.5, "low resolution: severity must be from 1 to 8 (downscale factor f), got 0.5"),
    ("gaussian", -1, "Gaussian noise: severity must be from 0 to 2 (noise σ), got -1"),
    ("erasure", math.inf, "pixel erasure: severity must be from 0 to 1 (erased fraction p), got inf")])
def test_3_a_severity_out_of_its_kinds_range_names_that_range(app, kind, severity, message):
    session = uuid.uuid4().hex[:12]
    app.picks_an_image(session)
    a = app.call("restore", ["mnist", kind, severity, 1, False, 8, None], session)
    assert one_line(a.message) == message and not a.changed
    app.still_serves()


# --- (4) the queue-less slider route swallowed errors ----------------------------------------------

def test_4_the_direct_slider_route_explains_its_errors(app):
    status, body = app.direct("slide", ["mnist", "no_such_model"] + [0.0] * 16)
    assert status == 500 and one_line(body.get("error") or "").startswith("unknown model 'no_such_model'"), body
    status, body = app.direct("slide", ["mnist", "t_conv_vae_z3", "lots"] + [0.0] * 15)
    assert status == 500 and one_line(body.get("error") or "") == "z[0] must be a number, got 'lots'", body
    status, body = app.direct("slide", ["mnist", "t_conv_vae_z3", 1.5, -1.0] + [0.0] * 14)
    assert status == 200 and body["data"][0]["url"].endswith(".png"), body  # a valid move: a new image
    a = app.call("slide", ["mnist", "no_such_model"] + [0.0] * 16)  # the queue said so already, as a warning
    assert one_line(a.message).startswith("unknown model 'no_such_model'")
    app.still_serves()


# --- (5) errors with no message at all --------------------------------------------------------------

# the Train tab's API: dataset, model, latent size, corruption, epochs, batch, lr, training images, then the
# model settings' controls (as many as the model kinds declare, in the tab's order)
TRAIN = ["mnist", "pca", 4, "none", 1, 32, 1e-3, 64, *(s.default for s in model_controls().values())]
BETA = 8 + list(model_controls()).index("beta")

NUMBERS = [  # (endpoint, values, index of the numeric value to spoil, its name in the message)
    ("restore", ["mnist", "gaussian", 0.3, 0, False, 8, None], 2, "severity"),
    ("restore", ["mnist", "gaussian", 0.3, 0, False, 8, None], 3, "seed"),
    ("restore", ["mnist", "gaussian", 0.3, 0, False, 8, None], 5, "PCA components"),
    ("pick_random", ["mnist", 0], 1, "Image #"),
    ("pick_index", ["mnist", 0], 1, "Image #"),
    ("slide", ["mnist", "t_conv_vae_z3"] + [0.0] * 16, 2, "z[0]"),
    ("map_decode", ["mnist", "t_conv_vae_z3", "auto", 0.0, 0.0], 3, "x"),
    ("interpolate", ["mnist", "t_conv_vae_z3", 0, 1, 8], 4, "Steps N"),
    ("train", TRAIN, 2, "Latent size"),
    ("train", TRAIN, BETA, "β"),
    ("train", TRAIN, 4, "Epochs"),
    ("train", TRAIN, 5, "Batch size"),
    ("train", TRAIN, 6, "Learning rate"),
    ("train", TRAIN, 7, "Training images"),
]


@pytest.mark.parametrize("api,values,i,name", NUMBERS, ids=[f"{a}-{n}" for a, _, _, n in NUMBERS])
def test_5_a_string_for_a_number_is_named(app, api, values, i, name):
    values = list(values)
    values[i] = "lots"
    a = app.call(api, values)
    assert one_line(a.message) == f"{name} must be a number, got 'lots'" and not a.changed, a.output
    app.still_serves()


WHOLE = [("restore", ["mnist", "gaussian", 0.3, 0, False, 8, None], 3, "seed"),
         ("pick_random", ["mnist", 0], 1, "Image #"),
         ("pick_index", ["mnist", 0], 1, "Image #"),
         ("train", TRAIN, 4, "Epochs"),
         ("train", TRAIN, 5, "Batch size"),
         ("train", TRAIN, 7, "Training images")]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("api,values,i,name", WHOLE, ids=[f"{a}-{n}" for a, _, _, n in WHOLE])
def test_5_nan_or_inf_for_a_whole_number_is_named(app, api, values, i, name, bad):
    values = list(values)
    values[i] = bad
    session = uuid.uuid4().hex[:12]
    if api == "restore":
        app.picks_an_image(session)
    a = app.call(api, values, session)
    assert one_line(a.message) == f"{name} must be a whole number, got {bad!r}" and not a.changed, a.output
    app.still_serves()


@pytest.mark.parametrize("api,given", [("restore", ["mnist", None, "gaussian"]), ("restore", []),
                                       ("slide", ["mnist", "t_conv_vae_z3", None, 0.5])])
def test_5_too_few_values_are_counted(app, api, given):
    a = app.call(api, given, fill=False)
    needed = len(app.states[api])
    assert one_line(a.message).startswith(f"this call takes {needed} input values (Dataset, ")
    assert a.message.endswith(f", got {len(given)}")
    app.still_serves()


DRAWINGS = [  # (name, bytes, the message's class)
    ("empty.png", b"", "is empty (0 bytes)"),
    ("text.png", b"hello, this is text\n" * 10, "not an image PIL can read"),
    ("page.png", b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>", "not an image PIL can read"),
    ("drawing.svg", b"<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'></svg>", "SVG drawings are not"),
    ("cut.png", png(Image.new("L", (64, 64), 128))[:60], "damaged or truncated"),
    ("bomb.png", bomb_header_png(), "too large"),
]


@pytest.mark.parametrize("name,data,message", DRAWINGS, ids=[d[0] for d in DRAWINGS])
def test_5_a_drawing_that_is_no_image_is_named(app, name, data, message):
    a = app.call("from_sketch", ["mnist", sketch(app.upload(name, data))])
    assert message in one_line(a.message) and not a.changed, a.output
    app.still_serves()


@pytest.mark.parametrize("value,message", [
    ("hello", "the drawing: not a value this input accepts"),
    ({"composite": "<svg/>"}, "the drawing: not a value this input accepts"),
    (sketch(None), "the canvas is empty: draw something on it first"),
    (sketch({"path": "/etc/hostname", "meta": {"_type": "gradio.FileData"}}), "the drawing: that file was not uploaded"),
])
def test_5_a_drawing_value_of_the_wrong_kind_is_named(app, value, message):
    a = app.call("from_sketch", ["mnist", value])
    assert one_line(a.message).startswith(message) and not a.changed, a.output
    app.still_serves()


def test_5_a_path_that_was_never_uploaded_is_refused_with_a_message(app):
    for path in ("/etc/passwd", "../../etc/passwd", str(Path(__file__).resolve())):
        a = app.call("from_upload", ["mnist", {"path": path, "meta": {"_type": "gradio.FileData"}}])
        assert one_line(a.message) == ("the upload: that file was not uploaded to this app (upload it first and "
                                       "pass the path you get back)"), a.output
    app.still_serves()


# --- (6) a megabyte of input is not echoed ---------------------------------------------------------

MEGA = "x" * 2**20


@pytest.mark.parametrize("api,values,message", [
    ("restore", [MEGA, "gaussian", 0.3, 0, False, 8, None], "unknown dataset 'xxxx"),
    ("restore", ["mnist", MEGA, 0.3, 0, False, 8, None], "unknown corruption 'xxxx"),
    ("choose_corruption", [MEGA, "mnist"], "unknown corruption 'xxxx"),
    ("choose_corruption", ["blur", MEGA], "unknown dataset 'xxxx"),
    ("pick_random", [MEGA, 0], "unknown dataset 'xxxx"),
    ("slide", ["mnist", MEGA] + [0.0] * 16, "unknown model 'xxxx"),
    ("train", [*TRAIN[:3], MEGA, *TRAIN[4:]], "unknown corruption 'xxxx"),
    ("train", [TRAIN[0], MEGA, *TRAIN[2:]], "unknown model 'xxxx"),
    ("by_class", ["mnist", MEGA], "class must be a number"),
], ids=lambda v: v if isinstance(v, str) and len(v) < 40 else None)
def test_6_a_megabyte_of_input_is_quoted_by_a_short_prefix(app, api, values, message):
    session = uuid.uuid4().hex[:12]
    if api == "restore":
        app.picks_an_image(session)
    a = app.call(api, values, session)
    text = one_line(a.message)
    assert text.startswith(message) and "x" * 41 not in text and len(text) < 200, text[:300]
    app.still_serves()


# --- every public endpoint, generated values of the wrong type, range and length -------------------

def hostile_values(example):
    """Anything JSON can carry, biased to values near a valid one."""
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                        st.sampled_from(["x" * 5000, "mnist", "cifar10", "t_conv_vae_z3", "blur", "<b>x</b>"]))
    files = st.fixed_dictionaries({"path": st.sampled_from(["/etc/passwd", "../x.png", "", "http://127.0.0.1:9/x.png"]),
                                   "meta": st.just({"_type": "gradio.FileData"})})
    nested = st.one_of(scalars, files, st.lists(scalars, max_size=3),
                       st.dictionaries(st.sampled_from(["path", "composite", "id", "index", "value"]), scalars,
                                       max_size=3))
    return st.one_of(st.just(example), nested) if example is not None else nested


def answers_hostile_values(app: App, endpoint: str, examples: int = 4) -> int:
    """Call ``endpoint`` with ``examples`` generated argument lists; returns how many were checked."""
    api = endpoint.strip("/")
    params = app.info[endpoint]["parameters"]
    valid = [p.get("example_input") if not isinstance(p.get("example_input"), dict) else None for p in params]
    lengths = [len(params)] * 4 + [0, max(0, len(params) - 1), len(params) + 1]
    checked = []

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def check(data):
        n = data.draw(st.sampled_from(lengths))
        values = [data.draw(hostile_values(valid[i] if i < len(valid) else None)) for i in range(n)]
        a = app.call(api, values, fill=True)
        assert a.seconds < ANSWER_S, f"{api}: {a.seconds:.1f} s"
        text = json.dumps(a.output) + json.dumps(a.logs)
        assert "Traceback" not in text, text[:500]
        if not a.success:
            one_line(a.message)
        for level, m in a.logs:
            if level == "warning":
                one_line(m)
        if app.deps[api].get("queue") is False:  # the page calls it queue-less: that route must explain too
            status, body = app.direct(api, values)
            assert "Traceback" not in json.dumps(body)
            assert status == 200 or (status == 500 and one_line(body.get("error") or "")), (status, body)
        checked.append(values)

    check()
    return len(checked)


def test_every_endpoint_answers_hostile_values_with_a_message(app):
    endpoints = sorted(app.info)
    assert {"/restore", "/slide", "/train", "/from_sketch", "/from_upload", "/pick_random"} <= set(endpoints)
    counts = {e: answers_hostile_values(app, e) for e in endpoints}
    assert all(counts.values()), counts
    app.still_serves()


# --- the checks themselves (plain functions) -------------------------------------------------------

def test_input_checks_quote_a_short_prefix():
    from vae_demo.services import inputs

    assert inputs.MESSAGE_CHARS == MESSAGE_CHARS
    assert inputs.quote("abc") == "'abc'" and inputs.quote("y" * 100) == "'" + "y" * 40 + "…'"
    assert inputs.quote(list(range(100))).endswith("…") and len(inputs.quote(list(range(100)))) == 41
    assert inputs.one_line("a\nb\tc") == "a b c" and len(inputs.one_line("z" * 10**6)) == inputs.MESSAGE_CHARS
    assert inputs.number(3, "n", whole=True) == 3 and inputs.number(2.6, "n", whole=True) == 3
    assert math.isnan(inputs.number(math.nan, "x"))  # a real number: NaN has a meaning downstream
    assert inputs.number(None, "n", optional=True) is None
    for bad, message in [("3", "n must be a number, got '3'"), (True, "n must be a number, got True"),
                         ([1], "n must be a number, got [1]"), (None, "n must be a number, got None")]:
        with pytest.raises(UserInputError, match=f"^{message.replace('[', '.').replace(']', '.')}$"):
            inputs.number(bad, "n")
    with pytest.raises(UserInputError, match="^n must be a whole number, got -inf$"):
        inputs.number(-math.inf, "n", whole=True)
    with pytest.raises(UserInputError, match="^n must be at most 2, got 5$"):
        inputs.number(5, "n", lo=0, hi=2)
    assert inputs.choice("b", "letter", ["a", "b"]) == "b"
    with pytest.raises(UserInputError, match="^unknown letter 'c'; choose one of a, b$"):
        inputs.choice("c", "letter", ["a", "b"])
    with pytest.raises(UserInputError, match="nothing to choose from"):
        inputs.choice("c", "letter", [])
    assert inputs.flag(None, "f") is False and inputs.flag(1, "f") is True
    with pytest.raises(UserInputError, match="^f must be true or false, got 'yes'$"):
        inputs.flag("yes", "f")
    assert inputs.arity(1, 3, ["a", "b", "c"]) == "this call takes 3 input values (a, b, c), got 1"
