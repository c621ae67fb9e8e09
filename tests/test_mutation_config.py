"""The mutation check's configuration stays runnable: every module and test file it names exists,
the scratch copy's [tool.mutmut] names one module and its tests, and pyproject's section lists
the same modules and tests as scripts/mutation_check.py."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from mutation_check import MODULES, mutmut_section  # noqa: E402


def test_every_named_file_exists() -> None:
    for target in MODULES.values():
        assert (REPO / target.source).is_file(), target.source
        for test in target.tests:
            assert (REPO / test.split("::")[0]).is_file(), test


def test_the_scratch_section_checks_one_module_against_its_own_tests() -> None:
    target = MODULES["finder"]
    section = tomllib.loads(mutmut_section(target))["tool"]["mutmut"]
    assert section["only_mutate"] == [target.source]
    assert section["pytest_add_cli_args_test_selection"] == list(target.tests)
    assert section["source_paths"] == ["cdir"]


def test_pyproject_lists_the_same_modules_and_tests() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["mutmut"]
    assert config["only_mutate"] == [t.source for t in MODULES.values()]
    tests = list(dict.fromkeys(test for t in MODULES.values() for test in t.tests))
    assert config["pytest_add_cli_args_test_selection"] == tests
