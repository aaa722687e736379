"""Packaging: one import namespace, and every shipped policy file is package data."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import govsup
from govsup.engine.bundle import shipped_root

REPO = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))


def test_single_namespace():
    cfg = _pyproject()["tool"]["setuptools"]
    assert all(p == "govsup" or p.startswith("govsup.") for p in cfg["packages"])
    assert cfg["package-dir"]["govsup.cli"] == "cli"
    assert cfg["package-dir"]["govsup.policies"] == "policies"


def test_every_policy_file_is_package_data():
    globs = _pyproject()["tool"]["setuptools"]["package-data"]["govsup.policies"]
    root = REPO / "policies"
    missing = []
    for p in root.rglob("*"):
        if p.is_dir() or "__pycache__" in p.parts or p.name == "__init__.py":
            continue
        rel = p.relative_to(root).as_posix()
        # setuptools' `**/*.ext` also matches files at the top level
        if not any(fnmatch.fnmatch(rel, g) or fnmatch.fnmatch(rel, g.replace("**/", "")) for g in globs):
            missing.append(rel)
    assert not missing, f"not shipped in the wheel: {missing}"


def test_shipped_root_is_inside_the_package():
    assert (shipped_root() / "calendar").is_dir()
    assert govsup.__version__
