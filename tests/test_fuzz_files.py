"""File fuzzing: whatever bytes `initgen stats` and `initgen verify` are given, they
answer correctly or fail with one clear line (exit 1), never a traceback, a hang,
or memory proportional to what a header claims.

Mutations start from small valid files made by initgen (safetensors and HDF5):
flipped bytes (biased to the header), truncation, appended junk, and for
safetensors edits of the parsed JSON header (shapes, offsets, dtypes, names,
metadata, the recorded plans that `verify` regenerates from). Where a mutated
safetensors file is still readable by the reference library, the statistics are
compared with a float64 computation over its arrays; `verify` must reject any change
to tensor bytes.

``INITGEN_FUZZ_EXAMPLES`` sets the examples per property (``make fuzz`` uses many).
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from initgen.cli import main

EXAMPLES = int(os.environ.get("INITGEN_FUZZ_EXAMPLES", "30"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="INITGEN_FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SPEC = """\
initgen: 1
name: fuzz
seed: 7
layers:
  - {name: fc1, type: dense, in: 16, out: 8, activation: relu}
  - {name: ln, type: layernorm, dim: 8}
  - {name: emb, type: embedding, num: 12, dim: 8, dtype: bfloat16}
  - {name: rot, type: tensor, shape: [8, 8], init: orthogonal}
  - {name: h, type: dense, in: 8, out: 4, dtype: float16, init: {scheme: truncated_normal, std: 0.5}}
"""


def _make(kind: str) -> bytes:
    from initgen import build_plan, load_spec, write

    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / f"w.{kind}"
        write(build_plan(load_spec("fuzz.yaml", text=SPEC)), out)
        return out.read_bytes()


FILES = {"safetensors": _make("safetensors"), "h5": _make("h5")}
HEADER_END = {"safetensors": 8 + struct.unpack("<Q", FILES["safetensors"][:8])[0], "h5": 2048}


def run_cli(args: list[str]) -> tuple[int, str]:
    """Run initgen in-process; the property every file must keep."""
    r = CliRunner().invoke(main, args)
    assert r.exception is None or isinstance(r.exception, SystemExit), (
        f"{args[0]} raised {r.exception!r}\n{r.output}"
    )
    assert "Traceback" not in r.output, r.output
    assert r.exit_code in (0, 1), (r.exit_code, r.output)
    if r.exit_code == 1:
        errors = [line for line in r.output.splitlines() if line.startswith("error: ")]
        assert errors, f"exit 1 without an error line:\n{r.output}"
    return r.exit_code, r.output


@contextmanager
def probe_limit(seconds: float) -> Iterator[None]:
    """A shorter wait for the HDF5 probe, so a looping file costs the fuzzer 2 s, not 10."""
    from initgen.readers import probe as limits

    saved, limits.HDF5_PROBE_SECONDS = limits.HDF5_PROBE_SECONDS, seconds
    try:
        yield
    finally:
        limits.HDF5_PROBE_SECONDS = saved


def check_file(raw: bytes, kind: str) -> tuple[int, str, int, str]:
    with tempfile.TemporaryDirectory() as d, probe_limit(2):
        path = Path(d) / f"w.{kind}"
        path.write_bytes(raw)
        s_code, s_out = run_cli(["stats", str(path), "--format", "json", "--all"])
        v_code, v_out = run_cli(["verify", str(path), "-q"])
        if s_code == 0 and kind == "safetensors":
            _agrees_with_reference(path, json.loads(s_out))
    return s_code, s_out, v_code, v_out


def _agrees_with_reference(path: Path, stats: dict) -> None:
    """Stats of a file the safetensors library also reads: float64 mean/min/max match."""
    from safetensors.numpy import load_file

    try:
        arrays = load_file(str(path))
    except Exception:  # the reference refuses what initgen accepted: nothing to compare
        return
    for t in stats["tensors"]:
        ref = arrays[t["name"]]
        if ref.dtype.kind == "V" or ref.size == 0:
            continue
        x = ref.astype(np.float64).reshape(-1)
        assert t["count"] == x.size
        finite = x[np.isfinite(x)]
        if finite.size == x.size and t.get("mean") is not None:
            # float64 sums of ≤ 128 values: differences are a few ulps of the sum of |x|
            tol = 8 * np.finfo(np.float64).eps * float(np.abs(x).sum() / x.size) + 1e-300
            assert abs(t["mean"] - float(x.mean())) <= tol, (t["name"], t["mean"], x.mean())
            assert t["min"] == float(x.min()) and t["max"] == float(x.max())


@st.composite
def corrupted(draw: st.DrawFn, kind: str) -> bytes:
    raw = bytearray(FILES[kind])
    for _ in range(draw(st.integers(1, 6))):
        edit = draw(st.sampled_from(["flip", "flip_header", "truncate", "append", "zero_run"]))
        if not raw:
            break
        if edit == "flip":
            at = draw(st.integers(0, len(raw) - 1))
            raw[at] ^= draw(st.integers(1, 255))
        elif edit == "flip_header":
            at = draw(st.integers(0, min(HEADER_END[kind], len(raw)) - 1))
            raw[at] ^= draw(st.integers(1, 255))
        elif edit == "truncate":
            del raw[draw(st.integers(0, len(raw) - 1)) :]
        elif edit == "append":
            raw += draw(st.binary(min_size=1, max_size=64))
        else:
            at = draw(st.integers(0, len(raw) - 1))
            raw[at : at + draw(st.integers(1, 64))] = b"\0" * len(raw[at : at + 64])
    return bytes(raw)


@FUZZ
@given(corrupted("safetensors"))
def test_corrupt_safetensors(raw: bytes) -> None:
    check_file(raw, "safetensors")


@FUZZ
@given(corrupted("h5"))
def test_corrupt_hdf5(raw: bytes) -> None:
    check_file(raw, "h5")


def _split(raw: bytes) -> tuple[dict, bytes]:
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def _join(header: object, data: bytes) -> bytes:
    text = json.dumps(header, allow_nan=True).encode()
    return struct.pack("<Q", len(text)) + text + data


JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.sampled_from([0, -1, 1, 7, 2**31, 2**63, 10**18, 10**30, 1.5, float("inf"), float("nan"), 1e400]),
        st.integers(-3, 300),
        st.text(max_size=6),
        st.sampled_from(["F32", "F16", "BF16", "F8_E4M3", "I64", "BOOL", "C64", "f32"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


def _json_or_none(text: object) -> object:
    """``text`` parsed, or None where an earlier edit left it no JSON text."""
    try:
        return json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None


@st.composite
def header_edits(draw: st.DrawFn) -> bytes:
    """The data of the valid file under a header with one to three edits."""
    header, data = _split(FILES["safetensors"])
    for _ in range(draw(st.integers(1, 3))):
        names = [k for k in header if k != "__metadata__"]
        if not names:
            break
        name = draw(st.sampled_from(names))
        entry = header.get(name)
        what = draw(
            st.sampled_from(
                ["shape", "offsets", "dtype", "entry", "rename", "meta", "plans", "huge", "extra"]
            )
        )
        if what == "shape" and isinstance(entry, dict):
            entry["shape"] = draw(st.one_of(JSON_VALUES, st.lists(st.integers(-2, 10**18), max_size=4)))
        elif what == "offsets" and isinstance(entry, dict):
            entry["data_offsets"] = draw(
                st.one_of(JSON_VALUES, st.lists(st.integers(-2, 10**18), max_size=3))
            )
        elif what == "dtype" and isinstance(entry, dict):
            entry["dtype"] = draw(JSON_VALUES)
        elif what == "entry":
            header[name] = draw(JSON_VALUES)
        elif what == "rename":
            header[draw(st.sampled_from(["", "a/b", "__metadata__", "\0", "x" * 300, "é.名"]))] = header.pop(
                name
            )
        elif what == "meta":
            header["__metadata__"] = draw(
                st.one_of(
                    JSON_VALUES,
                    st.dictionaries(
                        st.sampled_from(["initgen.seed", "initgen.stream", "initgen.tensors", "format"]),
                        JSON_VALUES,
                    ),
                )
            )
        elif what == "plans":
            meta = header.setdefault("__metadata__", {})
            if isinstance(meta, dict):
                plans = _json_or_none(meta.get("initgen.tensors"))
                if isinstance(plans, dict) and plans:
                    key = draw(st.sampled_from(sorted(plans)))
                    plan = plans[key]
                    field = draw(
                        st.sampled_from(
                            [
                                "scheme",
                                "args",
                                "dist",
                                "fan_in",
                                "fan_out",
                                "kind",
                                "params",
                                "std",
                                "mean",
                                "whole",
                            ]
                        )
                    )
                    if (
                        isinstance(plan, dict)
                        and field in ("kind", "params")
                        and isinstance(plan.get("dist"), dict)
                    ):
                        plan["dist"][field] = draw(JSON_VALUES)
                    elif (
                        isinstance(plan, dict)
                        and field in ("std", "mean")
                        and isinstance(plan.get("dist"), dict)
                        and isinstance(plan["dist"].get("params"), dict)
                    ):
                        plan["dist"]["params"][field] = draw(JSON_VALUES)
                    elif isinstance(plan, dict) and field == "whole" and isinstance(plan.get("dist"), dict):
                        plan["dist"]["kind"] = "orthogonal"
                    elif isinstance(plan, dict):
                        plan[field] = draw(JSON_VALUES)
                    meta["initgen.tensors"] = json.dumps(plans)
        elif what == "huge" and isinstance(entry, dict):
            entry["shape"] = [10**9, 10**9]
            entry["data_offsets"] = [0, 4 * 10**18]
        elif what == "extra":
            header[draw(st.text(max_size=5))] = draw(JSON_VALUES)
    return _join(header, data)


@FUZZ
@given(header_edits())
def test_edited_safetensors_headers(raw: bytes) -> None:
    check_file(raw, "safetensors")


def test_valid_files_pass_and_data_changes_fail_verify() -> None:
    """The oracle the fuzzers rely on: intact files pass; any tensor byte changed fails."""
    for kind in FILES:
        s_code, _, v_code, v_out = check_file(FILES[kind], kind)
        assert (s_code, v_code) == (0, 0), v_out
    raw = bytearray(FILES["safetensors"])
    for at in (HEADER_END["safetensors"], len(raw) - 1, (HEADER_END["safetensors"] + len(raw)) // 2):
        changed = bytearray(raw)
        changed[at] ^= 0x01
        _, _, v_code, v_out = check_file(bytes(changed), "safetensors")
        assert v_code == 1 and "error: " in v_out, v_out


def test_header_claiming_1e18_bytes_is_refused() -> None:
    header, data = _split(FILES["safetensors"])
    name = next(k for k in header if k != "__metadata__")
    header[name]["shape"] = [10**9, 10**9]
    header[name]["data_offsets"] = [0, 4 * 10**18]
    _, out, _, _ = check_file(_join(header, data), "safetensors")
    assert "outside the data" in out


def test_header_length_claiming_1e18_bytes_is_refused() -> None:
    raw = struct.pack("<Q", 10**18) + FILES["safetensors"][8:]
    code, out, _, _ = check_file(raw, "safetensors")
    assert code == 1 and "over the 104857600-byte limit" in out


HUGE_H5 = textwrap.dedent("""\
    import sys, h5py, numpy as np
    with h5py.File(sys.argv[1], "w") as f:
        f.create_dataset("big", shape=(10**9, 10**9), dtype="f4", chunks=(1, 1024))
        f.create_dataset("row", shape=(1, 10**12), dtype="f8", chunks=(1, 4096))
        f.create_dataset("small", data=np.arange(4, dtype="f4"))
""")


@pytest.mark.slow
def test_hdf5_claiming_1e18_values_does_not_run_away(tmp_path: Path) -> None:
    """A 4 KB HDF5 file can declare 10**18 unwritten values: reading them must stay
    bounded in memory and time (here: refused or cut off cleanly, never OOM/hang)."""
    path = tmp_path / "huge.h5"
    subprocess.run([sys.executable, "-c", HUGE_H5, str(path)], check=True)
    assert path.stat().st_size < 1 << 20
    limit = textwrap.dedent(f"""\
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
        from initgen.cli import main
        sys.argv = ["initgen", "{{cmd}}", {str(path)!r}]
        main()
    """)
    for cmd in ("stats", "verify"):
        try:
            p = subprocess.run(
                [sys.executable, "-c", limit.replace("{cmd}", cmd)],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"initgen {cmd} ran for 30 s on a file that declares 10**18 values")
        assert p.returncode == 1, (cmd, p.returncode, p.stderr[-2000:])
        assert "Traceback" not in p.stderr and p.stderr.startswith("error: "), p.stderr[-2000:]


def test_hdf5_file_that_makes_the_library_loop() -> None:
    """A corrupt heap under a file attribute sends the HDF5 library into an endless loop
    (found by the fuzzer); the child-process probe turns it into a one-line error."""
    raw = (Path(__file__).parent / "data" / "hdf5-attribute-loop.h5").read_bytes()
    s_code, s_out, v_code, v_out = check_file(raw, "h5")
    for code, out in ((s_code, s_out), (v_code, v_out)):
        assert code == 1 and "the HDF5 library did not finish reading its structure in 2 s" in out, out


def test_hdf5_attribute_name_that_is_not_utf8() -> None:
    """A corrupt file attribute name reads back as bytes (found by the fuzzer)."""
    raw = (Path(__file__).parent / "data" / "hdf5-bytes-attribute-name.h5").read_bytes()
    s_code, _, v_code, v_out = check_file(raw, "h5")
    assert (s_code, v_code) == (0, 0), v_out


@pytest.mark.parametrize(
    "fault, message",
    [
        ("crash", "the HDF5 library crashed reading it (signal 11)"),
        ("loop", "the HDF5 library did not finish reading its structure in 0.5 s"),
        ("error", None),  # a Python-level error in the child: the reader reports it itself
    ],
)
def test_hdf5_probe(fault: str, message: str | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import signal
    import time

    from initgen.errors import FileFormatError
    from initgen.readers import probe as limits

    path = tmp_path / "w.h5"
    path.write_bytes(FILES["h5"])
    act = {
        "crash": lambda p: os.kill(os.getpid(), signal.SIGSEGV),
        "loop": lambda p: time.sleep(60),
        "error": lambda p: 1 / 0,
    }[fault]
    monkeypatch.setattr(limits, "_walk_hdf5", act)
    start = time.monotonic()
    if message is None:
        limits.probe_hdf5(path, 0.5)
    else:
        with pytest.raises(FileFormatError, match=re.escape(message)):
            limits.probe_hdf5(path, 0.5)
    assert time.monotonic() - start < 5
