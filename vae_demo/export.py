"""Decoders exported for the browser: a model's ``decode(z)`` as a small JSON graph of plain ops.

The graph is read off the model itself (``torch.fx`` traces ``decode``), so a new model family needs no
code here as long as its decoder uses the ops below; one that does not is refused with the op named
(and the app keeps decoding it on the server). Everything that does not depend on z (weights, a PCA
basis sliced to the latent size, shapes) is folded into constants. The format, tensors in PyTorch's
NCHW layout, float32 little-endian, base64:

    {"format": "vae_demo.decoder/1", "name", "latent_dim", "image_shape",
     "ops": [{"op": "linear", "in": "z", "out": "t1", "w": "fc3.weight", "b": "fc3.bias"}, ...],
     "output": "t7", "weights": {"fc3.weight": {"shape": [400, 2], "data": "<base64>"}, ...}}

A graph whose decoder snaps to a codebook also says where its index grid enters (``"codes": {"at", "grid"}``),
so a code-grid editor can decode indices of its own from there.

Ops: linear, relu, sigmoid, reshape (batch dim -1), permute, conv2d, conv_transpose2d (stride, padding,
output_padding), matmul, add, sub and mul with a constant, clamp, and for a discrete code (a VQ-VAE snaps
each cell to its nearest codebook vector) argmin over one axis and gather (rows of a constant table by
index). Casts (``float()``, ``long()``, ``to(dtype)``) are no ops: the graph is float32, indices int32.
``run_graph`` is the reference interpreter (torch, from the JSON alone): the browser's runtime
(``vae_demo/web/decoder.js``) implements the same ops.

    python -m vae_demo.export [--checkpoints DIR] [--out DIR]   # every latent-code checkpoint, checked
"""

from __future__ import annotations

import argparse
import base64
import json
import operator
import sys
from pathlib import Path

import numpy as np
import torch
import torch.fx
import torch.nn as nn
import torch.nn.functional as F

FORMAT = "vae_demo.decoder/1"


class ExportError(ValueError):
    """The decoder uses something the browser runtime does not implement."""


class _Decode(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, z):
        return self.model.decode(z)


def _tensor(t: torch.Tensor) -> dict:
    a = np.ascontiguousarray(t.detach().to(torch.float32).cpu().numpy()).astype("<f4")
    return {"shape": list(a.shape), "data": base64.b64encode(a.tobytes()).decode("ascii")}


def _array(w: dict) -> torch.Tensor:
    a = np.frombuffer(base64.b64decode(w["data"]), dtype="<f4").reshape(w["shape"])
    return torch.from_numpy(a.copy())


def _pair(v, what: str) -> list[int]:
    v = list(v) if isinstance(v, (tuple, list)) else [v, v]
    if len(v) != 2 or v[0] != v[1]:
        raise ExportError(f"{what} {v}: only square values are exported")
    return [int(v[0]), int(v[1])]


def code_length(model) -> int:
    """The length of the flat code ``decode`` takes: what ``embed`` gives for one image (latent_dim, or a
    VQ-VAE's whole grid of vectors h·w·D)."""
    with torch.no_grad():
        return int(model.embed(torch.zeros(1, *model.image_shape)).reshape(1, -1).shape[1])


@torch.no_grad()
def export_decoder(model, name: str = "") -> dict:
    """The graph of ``model.decode`` for a (1, code_length) code. Raises ExportError for what it cannot map."""
    if not getattr(model, "has_latent_code", True):
        raise ExportError(f"{model.kind} has no latent code to decode")
    model = model.eval().to("cpu")
    wrapper = _Decode(model)
    try:
        gm = torch.fx.symbolic_trace(wrapper)
    except Exception as err:  # data-dependent control flow and the like
        raise ExportError(f"{model.kind}: its decode cannot be traced ({err})") from err
    modules = dict(gm.named_modules())
    z0 = torch.zeros(1, code_length(model))
    values: dict[str, object] = {}  # node → its value on z0 (constants keep theirs)
    dynamic: set[str] = set()  # nodes that depend on z
    same: dict[str, str] = {}  # a cast's node → the node it casts (the graph has no casts)
    ops, weights = [], {}

    def const(v, hint: str) -> str:
        key = hint
        i = 1
        while key in weights:
            key, i = f"{hint}.{i}", i + 1
        weights[key] = _tensor(v)
        return key

    def arg(a):
        if isinstance(a, torch.fx.Node):
            return values[a.name]
        if isinstance(a, (tuple, list)):
            return type(a)(arg(b) for b in a)
        if isinstance(a, slice):
            return slice(arg(a.start), arg(a.stop), arg(a.step))
        return a

    for node in gm.graph.nodes:
        if node.op == "placeholder":
            values[node.name], out = z0, node.name
            dynamic.add(node.name)
            continue
        if node.op == "output":
            src = node.args[0]
            if not isinstance(src, torch.fx.Node) or src.name not in dynamic:
                raise ExportError("the decoder's output does not depend on z")
            out = same.get(src.name, src.name)
            break
        # evaluate on z0 (shapes, constants)
        a, kw = arg(node.args), {k: arg(v) for k, v in node.kwargs.items()}
        if node.op == "get_attr":
            obj = gm
            for part in node.target.split("."):
                obj = getattr(obj, part)
            values[node.name] = obj
            continue
        if node.op == "call_module":
            v = modules[node.target](*a, **kw)
        elif node.op == "call_function":
            v = node.target(*a, **kw)
        else:  # call_method
            v = getattr(a[0], node.target)(*a[1:], **kw)
        values[node.name] = v
        deps = [n.name for n in node.all_input_nodes if n.name in dynamic]
        if not deps:
            continue  # folded: depends on weights and shapes only
        if node.op == "call_method" and node.target == "size" or (
                node.op == "call_function" and node.target is getattr and node.args[1] in ("shape", "dtype")):
            continue  # shapes are fixed: (1, code_length) in, so every shape is known here
        dynamic.add(node.name)
        x = same.get(deps[0], deps[0])
        if node.op == "call_method" and node.target in ("float", "long", "int", "to", "contiguous"):
            same[node.name] = x
            continue
        op = _map(node, modules, x, values, const)
        if op is None:
            what = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", node.target)
            raise ExportError(f"{model.kind}: the browser runtime has no op for {node.op} {what}")
        op["out"] = node.name
        ops.append(op)
    graph = {"format": FORMAT, "name": name, "model": model.kind, "latent_dim": int(z0.shape[1]),
             "image_shape": [int(s) for s in model.image_shape], "ops": ops, "output": out, "weights": weights}
    codes = _codes_entry(ops, values)
    if codes:
        graph["codes"] = codes
    return graph


def _codes_entry(ops: list[dict], values: dict) -> dict | None:
    """A discrete code's second way in: the indices a gather reads (a VQ-VAE's code grid). The page's code
    editor starts the graph there with indices of its own; only when nothing after it reads what came
    before (so ``decode_codes`` is exactly the rest of ``decode``)."""
    first = next((i for i, o in enumerate(ops) if o["op"] == "gather"), None)
    if first is None:
        return None
    at = ops[first]["in"]
    start = next((i + 1 for i, o in enumerate(ops) if o["out"] == at), None)
    if start is None:
        return None
    known = {at}
    for o in ops[start:]:
        if o["in"] not in known:
            return None
        known.add(o["out"])
    return {"at": at, "grid": [int(s) for s in values[at].shape[1:]]}


def _map(node, modules, x, values, const) -> dict | None:
    """One dynamic node → one op of the format, or None if there is none."""
    t, args = node.target, node.args
    other = [a for a in args if not (isinstance(a, torch.fx.Node) and a.name == x)]
    if node.op == "call_module":
        m = modules[t]
        if isinstance(m, nn.Linear):
            return {"op": "linear", "in": x, "w": const(m.weight, f"{t}.weight"),
                    "b": const(m.bias, f"{t}.bias") if m.bias is not None else None}
        if isinstance(m, nn.ReLU):
            return {"op": "relu", "in": x}
        if isinstance(m, nn.Sigmoid):
            return {"op": "sigmoid", "in": x}
        if isinstance(m, nn.Embedding):
            return {"op": "gather", "in": x, "table": const(m.weight, f"{t}.weight")}
        if isinstance(m, nn.Flatten):
            return {"op": "reshape", "in": x, "shape": [-1, *values[node.name].shape[1:]]}
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            if m.groups != 1 or _pair(m.dilation, "dilation") != [1, 1] or m.padding_mode != "zeros":
                raise ExportError(f"{t}: only plain convolutions (groups 1, dilation 1, zero padding) are exported")
            op = {"op": "conv2d" if isinstance(m, nn.Conv2d) else "conv_transpose2d", "in": x,
                  "w": const(m.weight, f"{t}.weight"), "b": const(m.bias, f"{t}.bias") if m.bias is not None else None,
                  "stride": _pair(m.stride, "stride"), "padding": _pair(m.padding, "padding")}
            if isinstance(m, nn.ConvTranspose2d):
                op["output_padding"] = [int(p) for p in m.output_padding]
            return op
        return None
    name = t if isinstance(t, str) else getattr(t, "__name__", "")
    if name in ("relu",) or t in (F.relu, torch.relu):
        return {"op": "relu", "in": x}
    if name in ("sigmoid",) or t in (torch.sigmoid, F.sigmoid):
        return {"op": "sigmoid", "in": x}
    if name in ("view", "reshape", "flatten") or t in (torch.reshape, torch.flatten):
        return {"op": "reshape", "in": x, "shape": [-1, *values[node.name].shape[1:]]}
    if name == "permute":
        dims = args[1:] if not isinstance(args[1], (tuple, list)) else args[1]
        return {"op": "permute", "in": x, "dims": [int(d) for d in dims]}
    if name == "argmin":
        dim = node.kwargs.get("dim", args[1] if len(args) > 1 else None)
        if dim is None or node.kwargs.get("keepdim", args[2] if len(args) > 2 else False):
            return None
        return {"op": "argmin", "in": x, "axis": int(dim) % values[x].dim()}
    if name in ("clamp", "clip") or t in (torch.clamp, torch.clip):
        lo = node.kwargs.get("min", args[1] if len(args) > 1 else None)
        hi = node.kwargs.get("max", args[2] if len(args) > 2 else None)
        if isinstance(lo, torch.fx.Node) or isinstance(hi, torch.fx.Node):
            return None
        return {"op": "clamp", "in": x, "min": lo, "max": hi}
    if t in (operator.matmul, torch.matmul) and len(other) == 1 and args[0] is not other[0]:
        return {"op": "matmul", "in": x, "w": const(_value(other[0], values), "matmul")}
    if t in (operator.add, torch.add, operator.mul, torch.mul, operator.sub, torch.sub) and len(other) == 1 \
            and not node.kwargs:
        kind = {operator.add: "add", torch.add: "add", operator.mul: "mul", torch.mul: "mul"}.get(t, "sub")
        op = {"op": kind, "in": x, "c": const(torch.as_tensor(_value(other[0], values)), kind)}
        if kind == "sub" and args[0] is other[0]:
            op["reverse"] = True  # c − x
        return op
    return None


def _value(a, values):
    return values[a.name] if isinstance(a, torch.fx.Node) else a


# --- the reference interpreter ------------------------------------------------------------------------

@torch.no_grad()
def run_graph(graph: dict, z=None, codes=None) -> torch.Tensor:
    """Run an exported graph on codes ``z`` (N, latent_dim), or on a discrete code's index grids ``codes``
    (N, h, w) where the graph has that way in: what the browser computes, from the JSON alone."""
    if graph.get("format") != FORMAT:
        raise ExportError(f"not an exported decoder (format {graph.get('format')!r})")
    w = {k: _array(v) for k, v in graph["weights"].items()}
    ops = graph["ops"]
    if codes is not None:
        if "codes" not in graph:
            raise ExportError(f"{graph.get('name')}: this graph takes no index grid")
        at = graph["codes"]["at"]
        env = {at: torch.as_tensor(np.asarray(codes, dtype=np.int64))}
        ops = ops[next(i + 1 for i, o in enumerate(ops) if o["out"] == at):]
    else:
        env = {"z": torch.as_tensor(np.asarray(z, dtype=np.float32))}
    for op in ops:
        x = env[op["in"]]
        kind = op["op"]
        if kind == "linear":
            y = F.linear(x, w[op["w"]], w[op["b"]] if op.get("b") else None)
        elif kind == "relu":
            y = torch.relu(x)
        elif kind == "sigmoid":
            y = torch.sigmoid(x)
        elif kind == "reshape":
            y = x.reshape(op["shape"])
        elif kind == "permute":
            y = x.permute(op["dims"])
        elif kind == "argmin":
            y = x.argmin(op["axis"])
        elif kind == "gather":
            y = F.embedding(x.long(), w[op["table"]])
        elif kind == "conv2d":
            y = F.conv2d(x, w[op["w"]], w[op["b"]] if op.get("b") else None, op["stride"], op["padding"])
        elif kind == "conv_transpose2d":
            y = F.conv_transpose2d(x, w[op["w"]], w[op["b"]] if op.get("b") else None, op["stride"], op["padding"],
                                   op["output_padding"])
        elif kind == "matmul":
            y = x @ w[op["w"]]
        elif kind == "add":
            y = x + w[op["c"]]
        elif kind == "mul":
            y = x * w[op["c"]]
        elif kind == "sub":
            y = w[op["c"]] - x if op.get("reverse") else x - w[op["c"]]
        elif kind == "clamp":
            y = x.clamp(op["min"], op["max"])
        else:
            raise ExportError(f"unknown op {kind!r}")
        env[op["out"]] = y
    return env[graph["output"]]


def graph_bytes(graph: dict) -> int:
    return len(json.dumps(graph, separators=(",", ":")).encode())


@torch.no_grad()
def check(graph: dict, model, n: int = 64, seed: int = 0) -> float:
    """Max abs pixel difference, exported graph vs ``model.decode``, on ``n`` random codes z ~ N(0, 2²)."""
    z = torch.randn(n, code_length(model), generator=torch.Generator().manual_seed(seed)) * 2
    return float((run_graph(graph, z) - model.decode(z)).abs().max())


def main(argv=None) -> int:
    from tqdm import tqdm

    from vae_demo.checkpoints import CheckpointError, checkpoint_dir, list_checkpoints, load_checkpoint

    p = argparse.ArgumentParser(prog="python -m vae_demo.export", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoints", default=None, help="checkpoint directory (default: checkpoints/)")
    p.add_argument("--out", default=None, help="write NAME.decoder.json files here (default: only check and report)")
    a = p.parse_args(argv)
    directory = checkpoint_dir(a.checkpoints)
    out = Path(a.out) if a.out else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    total, rows = 0, []
    for info in tqdm(list_checkpoints(directory), desc="export", unit="model"):
        name = info["name"]
        try:
            ck = load_checkpoint(name, directory)
            g = export_decoder(ck.model, name)
        except (ExportError, CheckpointError) as err:
            rows.append(f"{name}: not exported ({err})")
            continue
        diff, size = check(g, ck.model), graph_bytes(g)
        total += size
        rows.append(f"{name}: {len(g['ops'])} ops, {size / 1e6:.2f} MB, max |Δ pixel| {diff:.1e}")
        if out:
            (out / f"{name}.decoder.json").write_text(json.dumps(g, separators=(",", ":")))
    print("\n".join(rows))
    print(f"total {total / 1e6:.2f} MB of exported decoders")
    return 0


if __name__ == "__main__":
    sys.exit(main())
