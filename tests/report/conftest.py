"""Fixtures for the `policy report` tests (fixture facts: see report_helpers.py)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from govsup.engine.bundle import load_bundle, policy_roots
from govsup.engine.evaluate import load_program, prepare
from report_helpers import FORK_ROOT, load_facts


@pytest.fixture(scope="session")
def henan():
    return load_program("henan")


@pytest.fixture(scope="session")
def fork():
    return prepare(load_bundle("henan_fork", policy_roots((FORK_ROOT,))))


@pytest.fixture()
def facts():
    return load_facts()


@pytest.fixture()
def cli():
    from govsup.cli.main import app

    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(app, ["report", *map(str, args)])

    return invoke
