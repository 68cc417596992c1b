"""The package list in pyproject.toml names every folder that a non-editable install must ship."""

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]


def test_every_python_package_is_listed_in_pyproject():
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    source_of = {"mmrl": "mmrl", **setup["package-dir"]}  # top-level package name -> folder
    found = set()
    for package, folder in source_of.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((package, *parts)))
    assert found == set(setup["packages"]), f"unlisted: {found - set(setup['packages'])}"
