"""A stand-in for Hugging Face's ``spaces`` package on a ZeroGPU Space, for tests (nothing here can reach
the Hub). It enforces what ``spaces-zerogpu.md`` and the package document about ``@spaces.GPU``:

- a decorated call runs in a forked worker process: its arguments and its result cross by pickle (an
  object that does not pickle fails, and the caller never shares memory with the call);
- each call declares a duration, a number or a callable of the call's own arguments (default 60 s);
  one above :attr:`FakeSpaces.max_duration` is refused ("illegal duration"), and a call that runs
  past its declared duration is cut off: here it raises afterwards (a real worker is killed);
- outside decorated calls CUDA is *emulated* (``torch.cuda.is_available()`` is True although no GPU
  is there), so CPU code that picked "the GPU" on its own would break: :meth:`emulate_cuda` does the
  same to torch here, and inside a call the real answer (no GPU on this machine) comes back;
- calls do not nest.

Every call is recorded (:attr:`FakeSpaces.calls`) with its function, declared and actual duration.
"""

from __future__ import annotations

import pickle
import threading
import time
import types
from dataclasses import dataclass, field


class ZeroGPUError(RuntimeError):
    """What the platform raises for a refused or aborted call (gr.Error there)."""


@dataclass
class Call:
    name: str
    declared_s: float
    took_s: float = 0.0
    args: tuple = ()
    result: object = None


@dataclass
class FakeSpaces:
    max_duration: float = 120.0
    default_duration: float = 60.0
    calls: list[Call] = field(default_factory=list)
    before_call: object = None  # optional hook(call) run in the caller before the work (tests use it)

    def __post_init__(self):
        self._inside = threading.local()
        self._real_is_available = None

    def inside(self) -> bool:
        return getattr(self._inside, "on", False)

    def module(self) -> types.ModuleType:
        m = types.ModuleType("spaces")
        m.GPU = self.GPU
        m.__fake__ = self
        return m

    def emulate_cuda(self, monkeypatch) -> None:
        import torch

        real = torch.cuda.is_available
        monkeypatch.setattr(torch.cuda, "is_available", lambda: real() if self.inside() else True)

    def GPU(self, task=None, *, duration=None, size=None):  # noqa: N802  (the package's name)
        if task is None:
            return lambda fn: self._wrap(fn, duration)
        return self._wrap(task, duration)

    def _wrap(self, fn, duration):
        def call(*args, **kwargs):
            if self.inside():
                raise ZeroGPUError("a @spaces.GPU call inside another one")
            declared = duration(*args, **kwargs) if callable(duration) else duration
            declared = float(self.default_duration if declared is None else declared)
            if declared > self.max_duration:
                raise ZeroGPUError(f"The requested GPU duration ({declared:g}s) is larger than the maximum allowed")
            record = Call(fn.__name__, declared, args=args)
            self.calls.append(record)
            if self.before_call is not None:
                self.before_call(record)
            args, kwargs = pickle.loads(pickle.dumps((args, kwargs)))  # into the worker process
            t0 = time.monotonic()
            self._inside.on = True
            try:
                result = fn(*args, **kwargs)
            finally:
                self._inside.on = False
                record.took_s = time.monotonic() - t0
            if record.took_s > declared:
                raise ZeroGPUError(f"GPU task aborted: ran {record.took_s:.2f} s, past its {declared:g} s")
            record.result = pickle.loads(pickle.dumps(result))  # back from the worker
            return record.result

        call.__name__ = fn.__name__
        call.zerogpu = None
        return call
