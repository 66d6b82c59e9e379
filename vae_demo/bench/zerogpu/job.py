"""A training job (the app's JobManager) under the REAL ``spaces`` package in ZeroGPU mode, driven over
stdin/stdout: ``python -m vae_demo.bench.zerogpu.job`` (tests only; vae_demo/bench/zerogpu/standin.py starts it with the
environment of a ZeroGPU Space pointed at a loopback stand-in for the device API).

Commands, one JSON object a line (answers: one line each, ``@@`` then JSON): ``ping``; ``set`` (the
gpu module's durations); ``train`` (a TrainConfig's fields, started as from a Gradio request carrying
the visitor's X-IP-Token); ``wait`` (until the job ends, sampling what the Train tab would show);
``stop``; ``estimate`` / ``defaults`` (the Train tab's service functions); ``tensor_call`` (the old way
of carrying state: tensors as the call's argument and result, to show where that breaks); ``exit``.

Every byte that torch puts into shared memory (what the package's queues do with CPU tensors) is counted,
in this process and its workers (``shm_bytes``).
"""

from __future__ import annotations

import vae_demo.bench.zerogpu.cuda as _cuda  # noqa: I001  (CPU stand-ins: finished importing before `spaces`)

_cuda.import_spaces()

import contextvars  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from dataclasses import asdict  # noqa: E402

import torch  # noqa: E402

# --- what crosses into shared memory ------------------------------------------------------------------

SHM_BYTES = multiprocessing.get_context("fork").Value("q", 0)  # made before any worker is forked


def _count_shared(name: str) -> None:
    real = getattr(torch.UntypedStorage, name)

    def counted(self, *args, **kwargs):
        with SHM_BYTES.get_lock():
            SHM_BYTES.value += self.nbytes()
        return real(self, *args, **kwargs)

    setattr(torch.UntypedStorage, name, counted)


for _name in ("_share_fd_cpu_", "_share_filename_cpu_"):
    _count_shared(_name)


# --- the old way: tensors as a call's argument and result ------------------------------------------------

import spaces  # noqa: E402


@spaces.GPU(duration=20)
def tensor_roundtrip(state: dict) -> dict:
    """What train_piece did before: a state of CPU tensors in, a new one out."""
    return {k: v + 1 for k, v in state.items()}


def tensor_call(mib: int, calls: int) -> dict:
    state = {f"t{i}": torch.zeros(256 * 1024) for i in range(mib)}  # 1 MiB each
    done = 0
    try:
        for _ in range(calls):
            state = tensor_roundtrip(state)
            done += 1
        return {"ok": True, "calls": done}
    except Exception as err:  # noqa: BLE001
        return {"ok": False, "calls": done, "message": f"{type(err).__name__}: {getattr(err, 'message', err)}"}


# --- the job ----------------------------------------------------------------------------------------

def _request(token: str | None):
    """A Gradio request as the Train button's handler gets it (headers, the client's address)."""
    import gradio as gr
    from starlette.requests import Request

    headers = [(b"x-ip-token", token.encode())] if token else []
    scope = {"type": "http", "method": "POST", "path": "/gradio_api/queue/join", "headers": headers,
             "client": ("127.0.0.1", 50000), "query_string": b""}
    return gr.Request(request=Request(scope))


def _snap(s) -> dict:
    d = {k: v for k, v in asdict(s).items() if k not in ("config", "grid")}
    d["history"] = [{k: v for k, v in h.items() if isinstance(v, (int, float, str))} for h in s.history]
    return d


def main() -> None:
    _cuda.apply_gpu_env()
    from gradio.context import LocalContext

    from vae_demo.services import gpu, jobs
    from vae_demo.services.registry import ModelRegistry
    from vae_demo.training import TrainConfig

    registry = ModelRegistry(os.environ.get("VAE_DEMO_CHECKPOINTS"))
    job = jobs.JobManager(registry, os.environ.get("VAE_DEMO_DATA"))
    sizes: list[int] = []  # the packed states that crossed into and out of calls
    real_piece = gpu.train_piece

    def recording(blob, *args, **kwargs):
        sizes.append(len(blob or b""))
        out = real_piece(blob, *args, **kwargs)
        if out[0] == "ok":
            sizes.append(len(out[1]))
        return out

    gpu.train_piece = recording

    def answer(obj) -> None:
        sys.stdout.write("@@" + json.dumps(obj, default=str) + "\n")
        sys.stdout.flush()

    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd["op"]
        try:
            if op == "ping":
                answer({"pid": os.getpid(), "factor": gpu.duration_factor(), "hardware": gpu.hardware_name(),
                        "shm_total": shutil.disk_usage("/dev/shm").total, "cuda_emulated": torch.cuda.is_available()})
            elif op == "set":
                for k, v in cmd["values"].items():
                    setattr(gpu, k, v)
                answer({})
            elif op == "train":
                cfg = TrainConfig(**cmd["cfg"])
                ctx = contextvars.copy_context()

                def start(cfg=cfg, cmd=cmd):
                    LocalContext.request.set(_request(cmd.get("token")))
                    return job.start(cfg, name=cmd.get("name"))

                answer({"state": _snap(ctx.run(start))})
            elif op == "wait":
                samples, t_end = [], time.time() + float(cmd.get("timeout", 120))
                while job.snapshot().running and time.time() < t_end:
                    s = job.snapshot()
                    samples.append({"t": time.time(), "phase": s.phase, "calls": s.gpu_calls,
                                    "done": s.done_batches, "line": jobs.gpu_status(s),
                                    "fraction": jobs.call_fraction(s), "message": s.message})
                    time.sleep(0.05)
                answer({"final": _snap(job.snapshot()), "samples": samples, "sizes": sizes[-6:],
                        "shm_bytes": SHM_BYTES.value})
            elif op == "stop":
                answer({"stopped": job.stop()})
            elif op == "estimate":
                cfg = TrainConfig(**cmd["cfg"])
                e = jobs.quota_estimate(cfg, jobs.visitor_key(_request(cmd.get("token"))))
                answer({"text": e.text, "needed_s": e.needed_s, "tiers": e.tiers, "left_s": e.left_s})
            elif op == "defaults":
                answer({"defaults": jobs.train_defaults(cmd.get("dataset", "mnist"))})
            elif op == "tensor_call":
                answer({**tensor_call(int(cmd["mib"]), int(cmd.get("calls", 2))), "shm_bytes": SHM_BYTES.value})
            elif op == "shm_bytes":
                answer({"shm_bytes": SHM_BYTES.value})
            elif op == "exit":
                answer({})
                break
            else:
                answer({"error": f"unknown op {op}"})
        except Exception as err:  # noqa: BLE001
            answer({"error": f"{type(err).__name__}: {err}\n{traceback.format_exc()[-1500:]}"})


if __name__ == "__main__":
    main()
