"""`gate audit --runbook`: a bash script that passes `bash -n` and `shellcheck -S warning`, in the
incident's order, naming only the objects the audit found."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess

import live_state
import pytest
from audit_fixtures import incident_snapshot  # noqa: F401 - fixture
from conftest import gate_cli

NOW = "2026-03-23T09:20:00Z"
needs_shellcheck = pytest.mark.skipif(shutil.which("shellcheck") is None,
                                      reason="shellcheck is not installed (.ci/run installs it)")


def commands(script: str) -> list[list[str]]:
    """The script's command lines, continuation lines joined, split as bash would."""
    joined = script.replace("\\\n", " ")
    out = []
    for line in joined.split("\n"):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            out.append(shlex.split(stripped, comments=True))
    return out


@pytest.fixture(scope="module")
def incident_runbook(tmp_path_factory, incident_snapshot):  # noqa: F811
    path = tmp_path_factory.mktemp("runbook") / "recover.sh"
    proc = gate_cli("audit", "--cluster-state", str(incident_snapshot), "--now", NOW, "--runbook", str(path),
                    "--format", "json=/dev/null", timeout=180)
    assert proc.returncode == 1, proc.stderr.decode()
    return path


def test_runbook_passes_bash_and_shellcheck(incident_runbook):
    """bash -n (syntax) and shellcheck -S warning accept the script."""
    subprocess.run(["bash", "-n", str(incident_runbook)], check=True)
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (.ci/run installs it)")
    proc = subprocess.run(["shellcheck", "-S", "warning", str(incident_runbook)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_runbook_names_only_found_objects_in_the_incidents_order(incident_runbook):
    """Pause apps, delete leaked routes, then stuck Challenges/Orders, placeholders, re-enable; nothing else."""
    script = incident_runbook.read_text()
    assert script.startswith("#!/usr/bin/env bash\n")
    assert "--all" not in script and " -l " not in script and "--selector" not in script
    state = live_state.incident()
    existing = {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in state}
    kinds = {"httproute": "HTTPRoute", "challenge": "Challenge", "order": "Order", "application": "Application",
             "gateway": "Gateway"}
    steps = []
    deleted: dict[str, set[tuple[str, str]]] = {}
    for words in commands(script):
        if words[0] not in ("kubectl", "placeholder") or (words[0] == "kubectl" and words[2] == "secret"):
            continue  # the placeholder function's body works on its arguments
        if words[0] == "placeholder":
            namespace, secret, host = words[1:]
            assert ("Secret", namespace, secret) not in existing  # only where the Secret is missing
            assert (namespace, secret, host) in {(ns, s, h) for ns, (h, s, _, _) in live_state.NEW.items()}
            steps.append("placeholder")
            continue
        verb, kind = words[1], words[2]
        namespace = words[words.index("-n") + 1]
        names = [w for w in words[3:] if not w.startswith("-") and w != namespace]
        if verb in ("patch", "annotate"):
            names = names[:1]
        for name in names:
            assert (kinds[kind], namespace, name) in existing, (verb, kind, namespace, name)
        if verb == "delete":
            deleted.setdefault(kind, set()).update((namespace, n) for n in names)
        steps.append(f"{verb} {kind}")
    order = list(dict.fromkeys(steps))
    assert order == ["patch application", "delete httproute", "delete challenge", "delete order", "placeholder",
                     "annotate gateway"]
    assert steps[-5:] == ["patch application"] * 5  # the re-enables, each behind its `gate check`
    # Every leaked route but the newest of each Challenge (cert-manager serves the token with it).
    assert len(deleted["httproute"]) == 22_514 - 4
    solver = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in state
              if o["kind"] == "HTTPRoute" and o["metadata"]["name"].startswith("cm-acme-http-solver")}
    assert deleted["httproute"] <= solver
    assert {ns for ns, _ in deleted["challenge"]} == set(live_state.NEW)
    assert len(deleted["order"]) == 4
    for namespace in live_state.NEW:
        assert f"if gate check --kube --argocd-app {namespace}; then" in script
    assert "openssl req -x509 -nodes -newkey rsa:2048" in script and "PRIVATE KEY" not in script
    # Batches of at most 100 names, one namespace per command.
    for words in commands(script):
        if words[:3] == ["kubectl", "delete", "httproute"]:
            assert len([w for w in words[3:] if w.startswith("cm-acme")]) <= 100


def test_runbook_never_carries_a_hostile_name(tmp_path):
    """A name that is no Kubernetes name (shell syntax in a snapshot) never reaches a command."""
    objects = live_state.incident({ns: 2 for ns in live_state.NEW})
    route = next(o for o in objects if o["kind"] == "HTTPRoute" and o["metadata"]["name"].startswith("cm-acme"))
    route["metadata"]["name"] = "x$(touch /tmp/pwned)`id`"
    path = tmp_path / "state.yaml"
    path.write_text(live_state.kubectl_yaml(objects))
    runbook = tmp_path / "recover.sh"
    proc = gate_cli("audit", "--cluster-state", str(path), "--now", NOW, "--runbook", str(runbook))
    assert proc.returncode == 1
    script = runbook.read_text()
    for words in commands(script):
        assert not any("touch" in w for w in words)
    assert re.search(r"^# skipped: HTTPRoute .*touch", script, re.MULTILINE)
    subprocess.run(["bash", "-n", str(runbook)], check=True)


def test_runbook_for_a_healthy_cluster_does_nothing(tmp_path):
    """Nothing found: the script says so and runs no command."""
    path = tmp_path / "state.yaml"
    path.write_text(live_state.kubectl_yaml(live_state.healthy()))
    runbook = tmp_path / "recover.sh"
    assert gate_cli("audit", "--cluster-state", str(path), "--now", NOW, "--runbook", str(runbook)).returncode == 0
    assert [w[0] for w in commands(runbook.read_text())] == ["set", "confirm()", "local", "read", "[", "}", "echo"]
    proc = subprocess.run(["bash", str(runbook)], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == "gate audit found nothing to repair.\n"
