"""Snapshots of the incident's live state and of a healthy cluster, written once per test session."""

from __future__ import annotations

from pathlib import Path

import live_state
import pytest


@pytest.fixture(scope="session")
def incident_snapshot(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("audit") / "incident.yaml"
    path.write_text(live_state.kubectl_yaml(live_state.incident()), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def healthy_snapshot(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("audit") / "healthy.yaml"
    path.write_text(live_state.kubectl_yaml(live_state.healthy()), encoding="utf-8")
    return path
