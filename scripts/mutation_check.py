"""Mutation check of cdir's core modules with mutmut: each module against its own tests.

    python scripts/mutation_check.py              # every module below
    python scripts/mutation_check.py metrics finder
    python scripts/mutation_check.py --list       # the modules and their tests

For each module a scratch copy of the repository (``cdir/``, ``tests/``, ``scripts/``,
``assets/``, ``pyproject.toml``) is made under ``--work`` (default ``build/mutation/<module>``,
ignored by git), its ``[tool.mutmut]`` section is narrowed to that one module and its tests, and
``mutmut run`` mutates it there: the working tree is never touched. mutmut runs each mutant only
against the tests that executed the mutated function, so a module finishes in minutes on 2 cores.

The script prints one line per module (killed / total, the score) and every surviving mutant
(``mutmut show`` diff), and writes them to ``<work>/summary.json`` and ``<work>/survivors.txt``.
Exit status 1 when a module could not be checked (its tests failed before mutating). Needs
``mutmut`` (pinned in requirements-dev.txt); run it with ``nice`` on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COPIED = ("cdir", "tests", "scripts", "assets", "pyproject.toml")
SINGLE_THREADED = {
    name: "1"
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
}


@dataclass(frozen=True)
class Target:
    """One module and the tests that are its own (pytest arguments, run from the repo root)."""

    source: str
    tests: tuple[str, ...]


MODULES: dict[str, Target] = {
    "scoring": Target("cdir/retrieval/scoring.py", ("tests/retrieval/test_scoring.py",)),
    "ranking": Target("cdir/retrieval/ranking.py", ("tests/retrieval/test_ranking.py",)),
    "metrics": Target("cdir/evaluation/metrics.py", ("tests/evaluation/test_metrics.py",)),
    "protocol": Target(
        "cdir/evaluation/protocol.py",
        ("tests/evaluation/test_evaluation.py", "tests/evaluation/test_eval_report_golden.py"),
    ),
    "style_words": Target("cdir/models/style_words.py", ("tests/models/test_textnorm.py",)),
    "finder": Target(
        "cdir/duplicates/finder.py",
        ("tests/duplicates/test_dup_thresholds.py", "tests/duplicates/test_dup_grouping.py"),
    ),
    "archives": Target(
        "cdir/ingest/archives.py",
        ("tests/ingest/test_zip_extraction.py", "tests/ingest/test_collection.py"),
    ),
    # the generation-metadata parsers, each against the metadata tests that read it
    "a1111": Target(
        "cdir/ingest/metadata/a1111.py",
        ("tests/ingest/test_metadata_a1111.py", "tests/ingest/test_metadata_generators.py"),
    ),
    "comfyui": Target(
        "cdir/ingest/metadata/comfyui.py",
        ("tests/ingest/test_metadata_switches.py", "tests/ingest/test_metadata_generators.py"),
    ),
    "novelai": Target(
        "cdir/ingest/metadata/novelai.py",
        ("tests/ingest/test_metadata_novelai.py", "tests/ingest/test_metadata_generators.py"),
    ),
    "stealth": Target(
        "cdir/ingest/metadata/stealth.py", ("tests/ingest/test_metadata_stealth.py",)
    ),
    "c2pa": Target("cdir/ingest/metadata/c2pa.py", ("tests/ingest/test_metadata_c2pa.py",)),
    "prompt_words": Target("cdir/models/prompt_words.py", ("tests/ingest/test_metadata_a1111.py",)),
    "invokeai": Target(
        "cdir/ingest/metadata/invokeai.py", ("tests/ingest/test_metadata_generators.py",)
    ),
    "fooocus": Target(
        "cdir/ingest/metadata/fooocus.py", ("tests/ingest/test_metadata_generators.py",)
    ),
    "swarmui": Target(
        "cdir/ingest/metadata/swarmui.py", ("tests/ingest/test_metadata_generators.py",)
    ),
    "midjourney": Target(
        "cdir/ingest/metadata/midjourney.py", ("tests/ingest/test_metadata_generators.py",)
    ),
    "easydiffusion": Target(
        "cdir/ingest/metadata/easydiffusion.py", ("tests/ingest/test_metadata_generators.py",)
    ),
}


# The diff of every surviving mutant, in one process (``mutmut show`` takes one per mutant).
SHOW_SURVIVORS = """
import json, sys
from mutmut.__main__ import SourceFileMutationData, walk_mutatable_files
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code
out = {}
for path in walk_mutatable_files():
    data = SourceFileMutationData(path=path)
    data.load()
    for key, code in data.exit_code_by_key.items():
        if status_by_exit_code[code] == "survived":
            out[key] = f"# {key}: survived\\n" + get_diff_for_mutant(key, path=data.path)
json.dump(out, sys.stdout)
"""


def _toml_list(values: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def mutmut_section(target: Target) -> str:
    """The ``[tool.mutmut]`` section of the scratch copy: one module, its own tests."""
    return "\n".join(
        [
            "[tool.mutmut]",
            'source_paths = ["cdir"]',
            f"only_mutate = {_toml_list([target.source])}",
            'also_copy = ["scripts", "assets"]',
            f"pytest_add_cli_args_test_selection = {_toml_list(target.tests)}",
            'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", '
            '"-m", "not slow and not browser"]',
            "",
        ]
    )


def prepare(target: Target, work: Path) -> None:
    """A fresh scratch copy of the repository whose mutmut config checks ``target`` only."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "mutants")
    for name in COPIED:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, work / name, ignore=ignore, symlinks=True)
        elif src.is_file():
            shutil.copy2(src, work / name)
    pyproject = work / "pyproject.toml"
    text = re.sub(r"(?ms)^\[tool\.mutmut\].*?(?=^\[|\Z)", "", pyproject.read_text())
    pyproject.write_text(text.rstrip() + "\n\n" + mutmut_section(target))


def _mutmut(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # mutmut forks a worker per mutant from a process that already ran the tests: an OpenMP
    # thread pool (faiss's) does not survive a fork, and a worker would hang until its timeout.
    env = {**os.environ, **SINGLE_THREADED}
    return subprocess.run(
        [sys.executable, "-m", "mutmut", *args],
        cwd=work,
        text=True,
        capture_output=True,
        check=False,
        env=env,
    )


def check(name: str, target: Target, work: Path, children: int) -> dict[str, object]:
    """Run mutmut on one module; its counts, score and surviving mutants."""
    prepare(target, work)
    started = time.monotonic()
    run = _mutmut(work, "run", "--max-children", str(children))
    seconds = round(time.monotonic() - started, 1)
    stats_path = work / "mutants" / "mutmut-cicd-stats.json"
    if run.returncode != 0 or not stats_path.is_file():
        _mutmut(work, "export-cicd-stats")
    if not stats_path.is_file():
        tail = (run.stdout + run.stderr)[-3000:]
        return {"module": name, "error": f"mutmut run failed (exit {run.returncode}):\n{tail}"}
    stats = json.loads(stats_path.read_text())
    shown = subprocess.run(
        [sys.executable, "-c", SHOW_SURVIVORS],
        cwd=work,
        text=True,
        capture_output=True,
        check=False,
    )
    diffs = (
        json.loads(shown.stdout)
        if shown.returncode == 0
        else {"(could not list the survivors)": shown.stderr[-2000:]}
    )
    checked = stats["killed"] + stats["survived"] + stats["timeout"] + stats["suspicious"]
    caught = stats["killed"] + stats["timeout"]
    return {
        "module": name,
        "source": target.source,
        "tests": list(target.tests),
        "seconds": seconds,
        **stats,
        "score": round(100.0 * caught / max(checked, 1), 1),
        "survivors": diffs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "modules",
        nargs="*",
        metavar="MODULE",
        help=f"modules to check (default all): {', '.join(MODULES)}",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=REPO / "build" / "mutation",
        help="scratch folder for the copies (default build/mutation)",
    )
    parser.add_argument("--children", type=int, default=2, help="parallel mutants (default 2)")
    parser.add_argument("--list", action="store_true", help="list the modules and their tests")
    args = parser.parse_args(argv)
    if args.list:
        for name, target in MODULES.items():
            print(f"{name:12} {target.source:32} {' '.join(target.tests)}")
        return 0
    unknown = sorted(set(args.modules) - set(MODULES))
    if unknown:
        parser.error(f"unknown module(s) {unknown}; choose from {', '.join(MODULES)}")
    results, failed = [], False
    for name in args.modules or list(MODULES):
        result = check(name, MODULES[name], args.work / name, args.children)
        results.append(result)
        if "error" in result:
            failed = True
            print(f"{name}: {result['error']}", flush=True)
            continue
        print(
            f"{name:12} {result['killed']:4d} killed, {result['timeout']:3d} timed out of "
            f"{result['total']:4d}  survived {result['survived']:3d}  no tests "
            f"{result['no_tests']:3d}  score {result['score']:5.1f} %  "
            f"({result['seconds']:.0f} s)",
            flush=True,
        )
        for diff in result["survivors"].values():
            print(diff.rstrip(), flush=True)
    write_summary(args.work, results)
    return 1 if failed else 0


def write_summary(work: Path, results: list[dict[str, object]]) -> None:
    """Merge ``results`` into ``work/summary.json`` (by module) and list every survivor of the
    modules checked so far in ``work/survivors.txt``."""
    work.mkdir(parents=True, exist_ok=True)
    path = work / "summary.json"
    merged = {r["module"]: r for r in json.loads(path.read_text())} if path.is_file() else {}
    merged.update({r["module"]: r for r in results})
    ordered = [merged[name] for name in MODULES if name in merged]
    path.write_text(json.dumps(ordered, indent=1, ensure_ascii=False))
    with open(work / "survivors.txt", "w", encoding="utf-8") as out:
        for result in ordered:
            for diff in result.get("survivors", {}).values():
                out.write(diff.rstrip() + "\n\n")


if __name__ == "__main__":
    sys.exit(main())
