"""Checks files written by @mnv3/io's saveTorchCheckpoint against torch 1.13 (the oracle).

Usage: python3 check_torch_save.py JOB.json  → prints one JSON line of results.

JOB: {"cases": [{"name", "file", "expected": SPEC, "compare_bytes": bool, "archive_name": str|null}]}
SPEC is a type-tagged JSON value, so that int and float, list and tuple, dict and OrderedDict stay
apart: {"none": null}, {"bool": b}, {"int": "123"}, {"float": 1.5 | "nan" | "inf" | "-inf" | "-0"},
{"str": s}, {"list": [SPEC]}, {"tuple": [SPEC]}, {"dict": [[SPEC, SPEC]]}, {"odict": [[SPEC, SPEC]]},
{"namespace": [[name, SPEC]]}, {"tensor": {"dtype": "float32", "shape": [..], "hex": "<little-endian bytes>"}}.

For each case: torch.load (full unpickler, as train.py's --resume) reads our file and the loaded
object is compared with SPEC exactly (Python types, tensor dtype / shape / bytes, contiguity,
requires_grad=False); torch.load(weights_only=True) is tried and its outcome reported; and when
compare_bytes is set, torch.save(SPEC's object) — to a buffer, or to a file named archive_name.pth —
is compared with our bytes byte for byte. Nothing here is a golden of ours: the expected object is
built by torch from the spec, and torch reads our bytes.
"""
import argparse
import collections
import io
import json
import math
import os
import struct
import sys
import tempfile

import torch

DTYPES = {
    "float32": torch.float32, "float64": torch.float64, "float16": torch.float16, "bfloat16": torch.bfloat16,
    "int64": torch.int64, "int32": torch.int32, "int16": torch.int16, "int8": torch.int8, "uint8": torch.uint8,
    "bool": torch.bool,
}


def build(spec):
    (kind, v), = spec.items()
    if kind == "none":
        return None
    if kind == "bool":
        return bool(v)
    if kind == "int":
        return int(v)
    if kind == "float":
        return {"nan": math.nan, "inf": math.inf, "-inf": -math.inf, "-0": -0.0}.get(v, v) if isinstance(v, str) else float(v)
    if kind == "str":
        return v
    if kind == "list":
        return [build(x) for x in v]
    if kind == "tuple":
        return tuple(build(x) for x in v)
    if kind == "dict":
        return {build(k): build(x) for k, x in v}
    if kind == "odict":
        return collections.OrderedDict((build(k), build(x)) for k, x in v)
    if kind == "namespace":
        return argparse.Namespace(**{k: build(x) for k, x in v})
    if kind == "tensor":
        dtype = DTYPES[v["dtype"]]
        raw = bytearray(bytes.fromhex(v["hex"]))
        n = math.prod(v["shape"])
        if n == 0:
            return torch.zeros(v["shape"], dtype=dtype)
        return torch.frombuffer(raw, dtype=dtype).reshape(v["shape"]).clone()
    raise ValueError(f"unknown spec kind {kind}")


def tensor_bytes(t):
    return t.reshape(-1).contiguous().view(torch.uint8).numpy().tobytes()


def compare(a, e, path="root"):
    """None when `a` (loaded) equals `e` (expected) exactly, else a description of the first difference."""
    if type(a) is not type(e):
        return f"{path}: {type(a).__name__} ≠ expected {type(e).__name__}"
    if isinstance(e, torch.Tensor):
        if a.dtype != e.dtype or tuple(a.shape) != tuple(e.shape):
            return f"{path}: tensor {a.dtype} {tuple(a.shape)} ≠ expected {e.dtype} {tuple(e.shape)}"
        if not a.is_contiguous() or a.requires_grad:
            return f"{path}: tensor not contiguous or requires_grad"
        if e.numel() and tensor_bytes(a) != tensor_bytes(e):
            return f"{path}: tensor values differ"
        return None
    if isinstance(e, float):
        return None if struct.pack("<d", a) == struct.pack("<d", e) else f"{path}: {a!r} ≠ {e!r}"
    if isinstance(e, (list, tuple)):
        if len(a) != len(e):
            return f"{path}: length {len(a)} ≠ {len(e)}"
        for i, (x, y) in enumerate(zip(a, e)):
            d = compare(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    if isinstance(e, dict):
        if list(a.keys()) != list(e.keys()) or [type(k) for k in a] != [type(k) for k in e]:
            return f"{path}: keys {list(a.keys())[:10]} ≠ expected {list(e.keys())[:10]}"
        for k in e:
            d = compare(a[k], e[k], f"{path}[{k!r}]")
            if d:
                return d
        return None
    if isinstance(e, argparse.Namespace):
        return compare(collections.OrderedDict(vars(a)), collections.OrderedDict(vars(e)), f"{path}.__dict__")
    return None if a == e else f"{path}: {a!r} ≠ {e!r}"


def torch_bytes(obj, archive_name):
    if not archive_name:
        buf = io.BytesIO()
        torch.save(obj, buf)
        return buf.getvalue()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, archive_name + ".pth")
        torch.save(obj, path)
        with open(path, "rb") as f:
            return f.read()


def check(case):
    with open(case["file"], "rb") as f:
        ours = f.read()
    expected = build(case["expected"])
    out = {"name": case["name"]}
    try:
        loaded = torch.load(io.BytesIO(ours), map_location="cpu")
        out["diff"] = compare(loaded, expected)
        out["loaded"] = True
    except Exception as e:  # noqa: BLE001 - reported to the test
        out["loaded"] = False
        out["diff"] = f"torch.load failed: {type(e).__name__}: {e}"
    try:
        torch.load(io.BytesIO(ours), map_location="cpu", weights_only=True)
        out["weights_only"] = "ok"
    except Exception as e:  # noqa: BLE001
        out["weights_only"] = str(e).split("WeightsUnpickler error: ")[-1][:200]
    if case.get("compare_bytes"):
        theirs = torch_bytes(expected, case.get("archive_name"))
        out["bytes_equal"] = theirs == ours
        if theirs != ours:
            out["first_difference"] = next((i for i, (x, y) in enumerate(zip(theirs, ours)) if x != y), min(len(theirs), len(ours)))
            out["torch_length"] = len(theirs)
            out["our_length"] = len(ours)
    return out


def main():
    with open(sys.argv[1]) as f:
        job = json.load(f)
    print(json.dumps({"torch": torch.__version__, "results": [check(c) for c in job["cases"]]}))


if __name__ == "__main__":
    main()
