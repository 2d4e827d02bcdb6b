"""Verdicts you can trust: nothing checked is no pass, one verdict in every format and the exit code,
every checklist line tells the truth, a report people can read."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from conftest import CORPUS, ROOT, check_text, gate_cli, ids, needs_corpus, write

from gate.probes import fake
from gate.progress import Progress
from gate.report import junit, text
from gate.run import RunConfig, run

SERVICE = """apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{port: 80}]
"""
SERVED = """apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: shop}
spec:
  gatewayClassName: x
  listeners:
  - {name: shop, protocol: HTTPS, port: 443, hostname: shop.example.com,
     tls: {certificateRefs: [{name: shop-tls}]}}
---
apiVersion: v1
kind: Secret
metadata: {name: shop-tls, namespace: shop}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
  namespace: shop
  annotations: {annotations}
spec:
  parentRefs: [{name: gw}]
  hostnames: [shop.example.com]
  rules:
  - backendRefs: [{name: web, port: 80}]
"""


# -- nothing checked is not a pass ---------------------------------------------------------------

@pytest.mark.parametrize("stdin", [b"", b"# only a comment\n", b"replicaCount: 2\nimage: {tag: x}\n"])
def test_empty_or_non_kubernetes_stdin_fails_with_input_empty(stdin):
    """`false | gate check -`, a comment, a values file: input-empty, exit 1, and the count of resources."""
    proc = gate_cli("check", "--offline", "--format", "json", "-", input=stdin)
    assert proc.returncode == 1, proc.stdout
    report = json.loads(proc.stdout)
    assert [f["check"] for f in report["findings"]] == ["input-empty"]
    assert report["verdict"] == "failed" and report["passed"] is False and report["counts"]["resources"] == 0
    assert "no Kubernetes object to check: read 1 file" in report["findings"][0]["message"]
    text_out = gate_cli("check", "--offline", "-", input=stdin).stdout.decode()
    assert text_out.startswith("FAILED: 1 error; 0 services, 1 outside any service; 0 resources checked")


def test_empty_folder_and_folder_of_non_manifests_fail(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = gate_cli("check", "--offline", str(tmp_path / "empty"))
    assert proc.returncode == 1 and b"input-empty" in proc.stdout and b"read 0 files, 0 documents" in proc.stdout
    write(tmp_path, "values/values.yaml", "replicaCount: 2\n")
    write(tmp_path, "values/kustomization.yaml", "resources: [a.yaml]\n")
    proc = gate_cli("check", "--offline", "--format", "json", str(tmp_path / "values"))
    finding, = json.loads(proc.stdout)["findings"]
    assert proc.returncode == 1 and finding["check"] == "input-empty"
    assert "2 not a Kubernetes object (no apiVersion/kind: not a Kubernetes object)" in finding["message"]


def test_input_empty_can_be_lowered_by_the_policy(tmp_path):
    policy = write(tmp_path, "policy.yaml", "checks:\n  input-empty: warning\n")
    proc = gate_cli("check", "--offline", "--policy", str(policy), "-", input=b"")
    assert proc.returncode == 0 and b"1 warning" in proc.stdout


def test_include_keeps_input_empty_and_include_exclude_leaving_nothing_is_a_usage_error(tmp_path):
    """--include cannot make an empty input pass; --include X --exclude X leaves nothing: exit 2."""
    proc = gate_cli("check", "--offline", "--include", "sync-wave-order", "-", input=b"")
    assert proc.returncode == 1 and b"input-empty" in proc.stdout
    proc = gate_cli("check", "--offline", "--include", "sync-wave-order", "--exclude", "sync-wave-order",
                    "examples/healthy")
    assert proc.returncode == 2 and b"leave no check to run" in proc.stderr
    policy = write(tmp_path, "policy.yaml", "checks:\n  sync-wave-order: off\n")
    proc = gate_cli("check", "--offline", "--policy", str(policy), "--include", "sync-wave-order", "examples/healthy")
    assert proc.returncode == 2 and b"the policy turns off sync-wave-order" in proc.stderr


# -- one verdict -----------------------------------------------------------------------------------

def test_json_passed_is_false_whenever_the_exit_code_is_not_0(tmp_path):
    """An unreadable path is exit 2: JSON says verdict error and passed false, SARIF agrees."""
    out, sarif = tmp_path / "r.json", tmp_path / "r.sarif"
    proc = gate_cli("check", "--offline", "--format", f"json={out}", "--format", f"sarif={sarif}",
                    "examples/healthy", str(tmp_path / "missing.yaml"))
    assert proc.returncode == 2
    report = json.loads(out.read_text())
    assert report["verdict"] == "error" and report["passed"] is False and report["findings"] == []
    assert json.loads(sarif.read_text())["runs"][0]["properties"]["verdict"] == "error"
    healthy = json.loads(gate_cli("check", "--offline", "--format", "json", "examples/healthy").stdout)
    assert healthy["verdict"] == "passed" and healthy["passed"] is True


def test_broken_pipe_exits_with_the_verdict():
    """`gate check ... | head -1`: exit 1 for the failing incident, no "internal error"."""
    paths = " ".join(["examples/incident"] * 8)  # more than a pipe buffer of output
    proc = subprocess.run(f"{sys.executable} -m gate check --offline --verbose {paths} "
                          f"| head -c 8; exit ${{PIPESTATUS[0]}}", shell=True, executable="/bin/bash", cwd=ROOT,
                          capture_output=True, timeout=120)
    assert proc.returncode == 1 and proc.stderr == b"" and proc.stdout == b"FAILED: "


def test_unwritable_output_is_an_error_and_the_other_formats_are_written(tmp_path):
    good = tmp_path / "ok.json"
    proc = gate_cli("check", "--offline", "--format", f"sarif={tmp_path / 'no' / 'such' / 'r.sarif'}",
                    "--format", f"json={good}", "examples/healthy")
    assert proc.returncode == 2
    assert f"gate: cannot write {tmp_path / 'no' / 'such' / 'r.sarif'}: No such file or directory".encode() \
        in proc.stderr
    assert json.loads(good.read_text())["verdict"] == "passed" and b"PASSED" in proc.stdout


# -- every checklist line tells the truth ------------------------------------------------------------

def test_suppressed_finding_is_a_dash_line_counted_and_skipped_in_junit(tmp_path):
    annotations = '{gate.ingress-gate.dev/ignore-route-backend-missing: "created by the operator"}'
    report = check_text(tmp_path, SERVED.replace("{annotations}", annotations))
    assert ids(report) == [] and len(report.suppressed) == 1
    service, = report.services
    line = next(i for i in service.items if i.label == "Backend Service exists")
    assert line.status == "suppressed" and line.note == "suppressed: created by the operator"
    out = text.render(report, verbose=True)
    assert "  [-] Backend Service exists  suppressed: created by the operator" in out
    assert "[x] Backend Service exists" not in out and ", 1 suppressed;" in out
    assert report.counts["suppressed"] == 1
    root = ET.fromstring(junit.render(report))
    case = next(c for c in root.iter("testcase") if c.get("classname") == "route-backend-missing")
    assert "suppressed by annotation: created by the operator" in case.find("skipped").get("message")


def test_not_verified_lines_are_counted_in_text_and_json(tmp_path):
    render = write(tmp_path, "r.yaml", SERVED.replace("{annotations}", "{}") + "---\n" + SERVICE)
    report = json.loads(gate_cli("check", "--offline", "--format", "json", str(render)).stdout)
    assert report["counts"]["notVerifiedOffline"] == 1 and report["counts"]["couldNotVerify"] == 0
    out = gate_cli("check", "--offline", str(render)).stdout.decode()
    assert "[?] https://shop.example.com  5 checks passed, 1 not verified (offline)" in out
    assert "1 not verified (offline), 0 could not be verified" in out and "0 unverified" not in out


def test_last_copy_of_a_duplicate_wins_and_both_are_named(tmp_path):
    """kubectl applies both copies in order: the checks judge the second; manifest-duplicate names both."""
    first = SERVICE.replace("ports: [{port: 80}]", "ports: [{port: 8080}]")
    report = check_text(tmp_path, SERVED.replace("{annotations}", "{}") + "---\n" + first + "---\n" + SERVICE)
    assert "route-backend-port-missing" not in ids(report)  # port 80 is in the copy that is applied
    duplicate, = [f for f in report.findings if f.check == "manifest-duplicate"]
    assert duplicate.line == 32 and "render.yaml:26 and here" in duplicate.message
    flipped = check_text(tmp_path, SERVED.replace("{annotations}", "{}") + "---\n" + SERVICE + "---\n" + first)
    assert "route-backend-port-missing" in ids(flipped)


def test_names_that_are_not_public_dns_names_are_no_services_and_not_asked(tmp_path):
    hosts = ["localhost", "app.localhost", "web", "web.shop.svc", "web.shop.svc.cluster.local", "10.0.0.1"]
    listeners = "\n".join(f"  - {{name: l{i}, protocol: HTTPS, port: 443, hostname: '{h}', "
                          f"tls: {{certificateRefs: [{{name: shop-tls}}]}}}}" for i, h in enumerate(hosts))
    gateway = SERVED.split("---")[0].replace(SERVED.split("listeners:\n")[1].split("---")[0], listeners + "\n")
    render = write(tmp_path, "r.yaml", gateway + "---\napiVersion: v1\nkind: Secret\n"
                                        "metadata: {name: shop-tls, namespace: shop}\n")
    proc = gate_cli("check", "--offline", "--format", "json", str(render))
    report = json.loads(proc.stdout)
    assert report["services"] == [] and report["notPublicNames"] == sorted(hosts)
    out = gate_cli("check", "--offline", str(render)).stdout.decode()
    assert out.count("Not public DNS names") == 1
    asked = []

    def answer(question):
        asked.append(question)
        return fake.dns({})(question)

    run(RunConfig(paths=[str(render)], include=("dns-not-pointing-to-lb",)), probe_answers={"dns": answer})
    assert asked == []  # not one question for public DNS
    render.write_text(render.read_text().replace("hostname: 'web'", "hostname: 'shop.example.com'"))
    run(RunConfig(paths=[str(render)], include=("dns-not-pointing-to-lb",)), probe_answers={"dns": answer})
    assert [q.name for q in asked] == ["shop.example.com"]


# -- a report for people ---------------------------------------------------------------------------

def test_text_report_reads_top_down():
    """Verdict with counts first; failing services in full; others one line; tally with each
    remediation once; --verbose expands; --quiet keeps only failing lines and the verdict."""
    out = gate_cli("check", "--offline", "examples/incident").stdout.decode()
    lines = out.splitlines()
    assert lines[0] == ("FAILED: 12 errors, 19 could not be verified in 23 of 23 services; 23 not verified "
                        "(offline); 40 resources checked (fail on error)")
    assert lines[2] == "https://pay.example.com"  # the most broken first, though every service fails on the issuer
    assert out.count("fix: Deploy the backend Service") == 1
    assert any(line.startswith("  route-backend-missing ") and line.endswith(" 4 errors") for line in lines)
    # with the checks that reach every service left out, a passing service is one line
    calm = gate_cli("check", "--offline", "--exclude", "certmanager-gateway-api-disabled", "--exclude",
                    "certificate-wait-deadlock", "examples/incident").stdout.decode().splitlines()
    assert calm[0].startswith("FAILED: 11 errors in 4 of 23 services")
    assert "[?] https://admin.example.com  4 checks passed, 1 not verified (offline)" in calm
    assert "https://admin.example.com" not in calm
    verbose = gate_cli("check", "--offline", "--verbose", "examples/incident").stdout.decode()
    assert "https://admin.example.com\n  [?] DNS A record points to the load balancer (offline)" in verbose
    quiet = gate_cli("check", "--offline", "--quiet", "examples/incident").stdout.decode()
    assert "[x]" not in quiet and "[?]" not in quiet and "fix:" not in quiet and quiet.count("[ ]") == 34
    assert quiet.splitlines()[0].startswith("FAILED: 12 errors") and quiet.splitlines()[-1].startswith("FAILED:")
    assert gate_cli("check", "--verbose", "--quiet", "examples/incident").returncode == 2


def test_long_messages_wrap_to_the_terminal_width():
    report = run(RunConfig(paths=[str(ROOT / "examples" / "incident")], offline=True))
    wrapped = text.render(report, width=100)
    assert max(len(line) for line in wrapped.splitlines()) <= 100
    assert max(len(line) for line in text.render(report).splitlines()) > 100


@needs_corpus
def test_big_corpus_text_report_is_short():
    """13.8 MB of manifests with 2,000 findings: hundreds of lines, not thousands (was 5,557)."""
    proc = gate_cli("check", "--offline", str(CORPUS / "big" / "shared-corpus-all.yaml"), timeout=300)
    assert proc.returncode == 1 and len(proc.stdout.splitlines()) < 1000
    assert b"more manifest-duplicate findings (--verbose shows all)" in proc.stdout


def test_progress_only_on_a_terminal_or_when_asked(tmp_path):
    """No progress on a pipe by default; --progress prints it to stderr, never to stdout; a terminal
    gets one line rewritten in place."""
    plain = gate_cli("check", "--offline", "examples/incident")
    assert plain.stderr == b""
    asked = gate_cli("check", "--offline", "--progress", "--format", "json", "examples/incident")
    assert b"gate: read 7 files, 40 resources" in asked.stderr
    assert json.loads(asked.stdout)["verdict"] == "failed"

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    with Progress(screen, enabled=True, delay=0) as meter:
        tick = meter.counter("DNS names answered", 2)
        tick()
        tick()
    assert "\r\x1b[KDNS names answered 2/2" in screen.getvalue() and screen.getvalue().endswith("\r\x1b[K")
    quick = Terminal()
    with Progress(quick, enabled=True) as meter:  # a terminal sees nothing in a run under a second
        meter.stage("reading inputs")
    assert quick.getvalue() == ""


# -- hostile names in reports ------------------------------------------------------------------------

HOSTILE = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
           "metadata": {"name": "a\u001b]0;x\u0007\u001b[2J\nforged line \ud800", "namespace": "shop"},
           "spec": {"rules": [{"backendRefs": [{"name": "web", "port": 80}]}]}}
ROUTE = """apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: shop}
spec:
  rules:
  - backendRefs: [{name: web, port: 80}]
"""


@pytest.mark.parametrize("fmt", ["text", "sarif", "markdown", "github", "json", "junit"])
def test_escape_sequences_surrogates_and_newlines_in_names_stay_inert(tmp_path, fmt):
    """A lone surrogate (JSON "\\ud800") and terminal escapes in a name: no crash, nothing raw."""
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(HOSTILE), encoding="ascii")  # json.dumps writes the surrogate as \\ud800
    proc = gate_cli("check", "--offline", "--format", fmt, str(path))
    assert proc.returncode == 1 and b"internal error" not in proc.stderr, proc.stderr
    assert b"\x1b" not in proc.stdout and b"\x07" not in proc.stdout
    proc.stdout.decode("utf-8")  # valid UTF-8
    if fmt == "text":
        assert b"\nforged line" not in proc.stdout and b"\\x1b]0;x\\x07\\x1b[2J\\nforged line \\ud800" in proc.stdout


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS refuses file names that are not UTF-8")
@pytest.mark.parametrize("fmt", ["text", "sarif", "markdown", "github"])
def test_non_utf8_file_name_does_not_crash_reports(tmp_path, fmt):
    folder = tmp_path / "render"
    folder.mkdir()
    name = b"caf\xe9.yaml"
    with open(bytes(folder) + b"/" + name, "w") as handle:
        handle.write(ROUTE)
    proc = gate_cli("check", "--offline", "--format", fmt, str(folder))
    assert proc.returncode == 1 and b"internal error" not in proc.stderr, proc.stderr
    proc.stdout.decode("utf-8")
    if fmt == "text":
        assert b"caf\\xe9.yaml" in proc.stdout
    if fmt == "sarif":
        assert b"caf%E9.yaml" in proc.stdout
