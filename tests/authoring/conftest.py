"""Fixtures for the authoring tests (`policy fmt/doc/diff/fork`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

FIXTURES = Path(__file__).parent / "fixtures" / "policies"


@pytest.fixture()
def roots(tmp_path) -> Path:
    """A writable copy of the fixture bundles (`mini` and its fork `minifork`)."""
    dst = tmp_path / "policies"
    shutil.copytree(FIXTURES, dst)
    return dst


@pytest.fixture()
def run():
    """Run `policy ARGS...` in-process; returns the click Result (exit_code, stdout, stderr)."""
    from govsup.cli.main import app

    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return invoke
