"""Fixtures of the report tests (the workspace itself is built in report_workspace.py)."""

from __future__ import annotations

import pytest
from report_workspace import Workspace, build_workspace


@pytest.fixture
def workspace(tmp_path) -> Workspace:
    return build_workspace(tmp_path)


@pytest.fixture
def bundle(workspace: Workspace):
    from harness.report import load_bundle

    return load_bundle(workspace.results, workspace.claims)
