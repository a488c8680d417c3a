"""Make each recorded Transformers config with initgen and load it into Transformers.

    .venv-interop/bin/python scripts/interop_configs.py                # every record
    .venv-interop/bin/python scripts/interop_configs.py llama-f32-untied bert-mlm-f32
    .venv-interop/bin/python scripts/interop_configs.py --initgen-cmd 'initgen'
    .venv-interop/bin/python scripts/interop_configs.py --transformers  # check the checks

For every record in tests/data/reference/configs/ (written by record_configs.py): write
its ``config.json`` to a temporary directory, run ``initgen make <dir> -o <out>``, then

- compare the safetensors file(s) in <out> with the record: the same tensor names,
  shapes and dtypes ("F32", "BF16"), nothing more and nothing less;
- load <out> with the record's architecture class,
  ``from_pretrained(out, output_loading_info=True)``: no missing, unexpected or
  mismatched keys and no error messages;
- run a forward pass on a few token ids: every floating output is finite;
- compare each tensor's values with the record: a tensor the record holds constant must
  be that constant everywhere; a tensor of >= 2048 values must have its std within 20%
  of the record's and its mean within 0.2 record stds of the record's mean; the rows
  the record has all zero (an embedding's padding row) must be zero.

``--initgen-cmd`` replaces the command: its words are run with ``make <dir> -o <out>``
appended, or, when it contains ``{config}`` or ``{out}``, with those filled in
(``{config}`` is the directory holding config.json). The default is this Python's
``-m initgen``. ``--transformers`` makes each directory with Transformers itself
(``save_pretrained`` of a model seeded differently from the record), which must pass:
a check of the checks, needing no initgen.

Prints one line per case; exits 1 if any case fails.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import struct
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORDS = ROOT / "tests" / "data" / "reference" / "configs"

MIN_VALUES = 2048  # below this, a sample std says too little
STD_TOL = 0.20  # relative
MEAN_TOL = 0.20  # in record stds
TOKEN_IDS = [[1, 5, 9, 3, 7, 2]]
MAKE_TIMEOUT_S = 600


class CaseFailure(Exception):
    pass


def load_records(names: list[str]) -> list[dict]:
    paths = sorted(RECORDS.glob("*.json"))
    records = {p.stem: p for p in paths}
    if names:
        unknown = [n for n in names if n not in records]
        if unknown:
            raise SystemExit(f"no record for: {', '.join(unknown)} (in {RECORDS})")
        paths = [records[n] for n in names]
    return [json.loads(p.read_text()) for p in paths]


def make_command(template: str | None, config_dir: Path, out: Path) -> list[str]:
    if template is None:
        return [sys.executable, "-m", "initgen", "make", str(config_dir), "-o", str(out)]
    if "{config}" in template or "{out}" in template:
        filled = template.replace("{config}", shlex.quote(str(config_dir)))
        filled = filled.replace("{out}", shlex.quote(str(out)))
        return shlex.split(filled)
    return [*shlex.split(template), "make", str(config_dir), "-o", str(out)]


def make_with_transformers(rec: dict, config_dir: Path, out: Path) -> None:
    """The stand-in for initgen: Transformers' own model, seeded apart from the record."""
    import torch
    import transformers

    config = transformers.AutoConfig.from_pretrained(config_dir)
    dtype = getattr(torch, rec["config"].get("dtype") or "float32")
    torch.manual_seed(1)
    model = getattr(transformers, rec["architecture"])._from_config(config, dtype=dtype)
    model.save_pretrained(out)


def safetensors_headers(out: Path) -> dict[str, dict]:
    """name -> header entry (dtype, shape) over every .safetensors file in out."""
    entries: dict[str, dict] = {}
    files = sorted(out.glob("*.safetensors"))
    if not files:
        raise CaseFailure(f"no .safetensors file in {out}")
    for f in files:
        with open(f, "rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(n))
        header.pop("__metadata__", None)
        for name, entry in header.items():
            if name in entries:
                raise CaseFailure(f"{name} is in more than one file")
            entries[name] = entry
    return entries


def check_layout(rec: dict, out: Path) -> None:
    if not (out / "config.json").is_file():
        raise CaseFailure("no config.json in the output directory")
    got = safetensors_headers(out)
    want = {t["name"]: t for t in rec["tensors"]}
    problems = []
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    if missing:
        problems.append(f"missing {len(missing)}: {', '.join(missing[:5])}")
    if extra:
        problems.append(f"unexpected {len(extra)}: {', '.join(extra[:5])}")
    for name in sorted(set(want) & set(got)):
        w, g = want[name], got[name]
        if list(g["shape"]) != w["shape"] or g["dtype"] != w["dtype"]:
            problems.append(f"{name}: {g['dtype']}{g['shape']}, want {w['dtype']}{w['shape']}")
    if problems:
        raise CaseFailure("; ".join(problems[:8]))


def load_and_run(rec: dict, out: Path):
    import torch
    import transformers

    cls = getattr(transformers, rec["architecture"])
    model, info = cls.from_pretrained(out, output_loading_info=True)
    bad = {k: v for k, v in info.items() if v}
    if bad:
        raise CaseFailure(f"loading: {bad}")
    model.eval()
    ids = torch.tensor(TOKEN_IDS)
    if int(ids.max()) >= rec["config"].get("vocab_size", 1 << 30):
        ids = ids % rec["config"]["vocab_size"]
    with torch.no_grad():
        output = model(input_ids=ids)
    tensors = [v for v in output.values() if torch.is_tensor(v) and v.is_floating_point()]
    if not tensors:
        raise CaseFailure("the forward pass gave no floating output")
    for t in tensors:
        if not torch.isfinite(t.float()).all():
            raise CaseFailure("the forward pass gave non-finite values")
    return model


def check_values(rec: dict, out: Path) -> int:
    """Compare every stored tensor with the record; returns how many had a std check."""
    import torch
    from safetensors import safe_open

    want = {t["name"]: t for t in rec["tensors"]}
    problems, checked = [], 0
    for f in sorted(out.glob("*.safetensors")):
        with safe_open(str(f), framework="pt") as sf:
            for name in sf.keys():
                w = want[name]
                x = sf.get_tensor(name).to(torch.float64)
                if w["const"] is not None:
                    if not bool((x == w["const"]).all()):
                        problems.append(f"{name}: not constant {w['const']}")
                    continue
                if w["zero_rows"] and x.dim() == 2:
                    rows = [r for r in w["zero_rows"] if bool((x[r] != 0).any())]
                    if rows:
                        problems.append(f"{name}: rows {rows[:4]} are not zero")
                if w["numel"] < MIN_VALUES or not w["std"]:
                    continue
                checked += 1
                std, mean = x.std(unbiased=False).item(), x.mean().item()
                if not math.isfinite(std) or abs(std - w["std"]) > STD_TOL * w["std"]:
                    problems.append(f"{name}: std {std:.6g}, record {w['std']:.6g}")
                if not math.isfinite(mean) or abs(mean - w["mean"]) > MEAN_TOL * w["std"]:
                    problems.append(f"{name}: mean {mean:.6g}, record {w['mean']:.6g}")
    if problems:
        raise CaseFailure("; ".join(problems[:8]))
    return checked


def run_case(rec: dict, args: argparse.Namespace) -> str:
    with tempfile.TemporaryDirectory(prefix="interop-configs-") as tmp:
        config_dir = Path(tmp) / "config"
        out = Path(tmp) / "out"
        config_dir.mkdir()
        (config_dir / "config.json").write_text(json.dumps(rec["config"], indent=2) + "\n")
        if args.transformers:
            make_with_transformers(rec, config_dir, out)
        else:
            cmd = make_command(args.initgen_cmd, config_dir, out)
            try:
                proc = subprocess.run(
                    cmd, check=False, capture_output=True, text=True, timeout=MAKE_TIMEOUT_S
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise CaseFailure(f"{shlex.join(cmd)}: {exc}") from exc
            if proc.returncode != 0:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
                raise CaseFailure(f"make exited {proc.returncode}: {' | '.join(tail)}")
        check_layout(rec, out)
        load_and_run(rec, out)
        checked = check_values(rec, out)
    return f"{len(rec['tensors'])} tensors, {checked} std-checked"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="*", help="record names (default: all)")
    parser.add_argument("--initgen-cmd", help="the command to run instead of `python -m initgen`")
    parser.add_argument(
        "--transformers", action="store_true", help="make each model with Transformers itself"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="tracebacks of failures")
    args = parser.parse_args(argv)

    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    records = load_records(args.cases)
    failed = 0
    for rec in records:
        try:
            summary = run_case(rec, args)
            print(f"ok   {rec['case']}: {summary}", flush=True)
        except Exception as exc:
            failed += 1
            kind = "" if isinstance(exc, CaseFailure) else f"{type(exc).__name__}: "
            print(f"FAIL {rec['case']}: {kind}{exc}", flush=True)
            if args.verbose:
                traceback.print_exc()
    print(f"{len(records) - failed} of {len(records)} cases passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
