"""The package's shape: imports point down the pipeline, no cycles, small modules, and
tests that stand alone. See docs/architecture.md."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from helpers import ROOT

PACKAGE = ROOT / "initgen"
# Each stage may import its own package and those of a lower rank, never a higher one.
# Top-level modules (errors, dtypes, units, ...) are the base every stage may use.
RANKS = {
    "": 0,
    "schemes": 1,
    "layers": 2,
    "spec": 3,
    "configs": 4,
    "plan": 4,
    "generate": 5,
    "writers": 6,
    "readers": 6,
    "analyze": 7,
    "cli": 8,
}
APART = [("writers", "readers"), ("readers", "writers"), ("configs", "plan"), ("plan", "configs")]
TOP = {"initgen", "initgen.__main__"}  # the public API imports lazily from every stage
MAX_LINES = 300


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every initgen module ``path`` imports, at the top or inside functions."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "initgen" or target.startswith("initgen."):
                subs = {f"{target}.{a.name}" for a in node.names} & set(MODULE_NAMES)
                found.update(subs)
                # names that are not submodules come from the module itself (__version__ is
                # initgen's one constant, not the API)
                if any(f"{target}.{a.name}" not in subs and a.name != "__version__" for a in node.names):
                    found.add(target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("initgen"))
    return {m for m in found if m in MODULES and m != name}


MODULE_NAMES = [module_name(p) for p in sorted(PACKAGE.rglob("*.py"))]
MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()) else ""


GRAPH = {m: imports(p) for m, p in MODULES.items()}


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m not in TOP))
def test_imports_point_down_the_pipeline(module):
    mine = stage(module)
    for target in GRAPH[module]:
        theirs = stage(target)
        if theirs == mine and target != "initgen":
            continue
        assert target != "initgen", f"{module} imports the public API module; import the stage instead"
        assert RANKS[theirs] <= RANKS[mine], f"{module} ({mine or 'base'}) imports {target} ({theirs})"
        assert (mine, theirs) not in APART, f"{module} imports {target}: {mine} and {theirs} stay apart"


def test_no_import_cycles_even_through_deferred_imports():
    state: dict[str, int] = {}

    def visit(m: str, trail: list[str]) -> None:
        state[m] = 1
        for t in GRAPH[m]:
            if state.get(t) == 1:
                cycle = [*trail[trail.index(t) :], t] if t in trail else [m, t]
                pytest.fail("import cycle: " + " → ".join(cycle))
            if not state.get(t):
                visit(t, [*trail, t])
        state[m] = 2

    for m in GRAPH:
        if m not in TOP and not state.get(m):
            visit(m, [m])


def test_every_stage_has_a_rank():
    stages = {stage(m) for m in MODULES if m not in TOP}
    assert stages <= set(RANKS), stages - set(RANKS)


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_are_small(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines (at most {MAX_LINES})"


def test_tests_do_not_import_each_other():
    for path in sorted((ROOT / "tests").glob("*.py")):
        text = path.read_text()
        found = re.findall(r"^\s*(?:from|import) (test_\w+|conftest)\b", text, flags=re.M)
        assert not found, f"{path.name} imports {found}; shared helpers belong in tests/helpers.py"


def test_the_project_cites_only_its_own_files():
    """Documents the code and tests point to are in the repository."""
    cited = set()
    for path in [*PACKAGE.rglob("*.py"), *(ROOT / "tests").glob("*.py"), *(ROOT / "docs").glob("*.md")]:
        cited.update(re.findall(r"\b((?:docs/)?[A-Z][A-Za-z_-]+\.md)\b", path.read_text()))
    missing = [c for c in sorted(cited) if not any((ROOT / d / c).exists() for d in ("", "docs"))]
    assert not missing, f"cited but not in the repository: {missing}"


def test_the_limits_table_states_the_limits_the_code_uses():
    from initgen.plan import DEFAULT_MAX_BYTES, MAX_WHOLE_VALUES
    from initgen.readers import hdf5, probe, safetensors
    from initgen.spec import MAX_SPEC_BYTES
    from initgen.units import format_bytes
    from initgen.writers.targets import DISK_MARGIN

    rows = {
        line.split("|")[1].strip(): line.split("|")[2].strip()
        for line in (ROOT / "docs" / "errors.md").read_text().splitlines()
        if line.startswith("| ") and line.count("|") >= 4
    }

    def row(start: str) -> str:
        return next(v for k, v in rows.items() if k.startswith(start))

    assert row("bytes of tensors a spec may make") == format_bytes(DEFAULT_MAX_BYTES)
    assert row("values of one tensor made whole") == f"{MAX_WHOLE_VALUES:,}"
    assert row("spec file size") == f"{MAX_SPEC_BYTES // 2**20} MiB"
    assert row("free space") == f"the file's size + {DISK_MARGIN // 2**20} MiB"
    assert row("safetensors header (reading)") == f"{safetensors.MAX_HEADER // 2**20} MiB"
    assert row("HDF5 dataset declared size") == f"{hdf5.MAX_RATIO} : 1"
    assert f"over {hdf5.MAX_RATIO_FROM // 2**30} GiB" in next(k for k in rows if k.startswith("HDF5 dataset"))
    assert row("time for the HDF5 library") == f"{probe.HDF5_PROBE_SECONDS:g} s"
