"""The Dockerfile, built and run with a real docker daemon (Debian's docker.io) when one can run here.

The python base image cannot be pulled here (no registry but the package indexes), so the build
uses a local base with the same interface, made from Debian packages with debootstrap and
`docker import`: `python` with venv, groupadd/useradd. It is made once and kept in docker's
storage. The machine's CA bundle goes into that base (and pip's config), so pip inside the build
trusts what the host's pip trusts. The build talks to the package index over the host's network
(`--network host`); the containers run without any network.

Skipped, with the reason, when docker or debootstrap is missing or no daemon comes up;
GATE_TEST_DOCKER=0 skips it on purpose. A first run takes about 2 minutes (debootstrap), later ones
about 20 seconds (the build).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import EXAMPLES, ROOT

from gate import __version__

BASE = "ingress-gate-test-base:bookworm"
IMAGE = "ingress-gate-test:dev"
EXEC_ROOT = "/run/ingress-gate-test-dockerd"

pytestmark = pytest.mark.skipif(os.environ.get("GATE_TEST_DOCKER") == "0", reason="GATE_TEST_DOCKER=0")


def docker(*args: str, env: dict, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], env=env, capture_output=True, text=True, timeout=timeout, check=check)


@pytest.fixture(scope="module")
def docker_env(tmp_path_factory):
    """A docker client environment: the running daemon, else one started here (stopped afterwards)."""
    if shutil.which("docker") is None:
        pytest.skip("docker is not installed (apt-get install docker.io)")
    env = dict(os.environ)
    if docker("info", env=env, timeout=30, check=False).returncode == 0:
        yield env
        return
    if shutil.which("dockerd") is None:
        pytest.skip("no docker daemon runs and dockerd is not installed (apt-get install docker.io)")
    folder = tmp_path_factory.mktemp("dockerd")
    socket = folder / "docker.sock"
    log = (folder / "dockerd.log").open("w")
    # No bridge, no iptables: the build uses the host's network and the containers none.
    daemon = subprocess.Popen(["dockerd", "--bridge=none", "--iptables=false", "--ip-masq=false",
                               f"--host=unix://{socket}", f"--pidfile={folder / 'dockerd.pid'}",
                               f"--exec-root={EXEC_ROOT}"], stdout=log, stderr=subprocess.STDOUT)
    env["DOCKER_HOST"] = f"unix://{socket}"
    try:
        deadline = time.monotonic() + 60
        while docker("info", env=env, timeout=30, check=False).returncode != 0:
            if daemon.poll() is not None or time.monotonic() > deadline:
                tail = (folder / "dockerd.log").read_text(errors="replace")[-800:]
                pytest.skip(f"dockerd did not start here: {tail}")
            time.sleep(0.5)
        yield env
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
        log.close()
        # dockerd leaves its network namespace mounted under --exec-root (outside pytest's folders,
        # which pytest could not remove then); unmount what it left.
        with open("/proc/mounts", encoding="utf-8") as mounts:
            left = [line.split()[1] for line in mounts if line.split()[1].startswith(EXEC_ROOT)]
        for mount_point in sorted(left, reverse=True):
            subprocess.run(["umount", "-l", mount_point], check=False, capture_output=True)


def ca_bundle() -> Path | None:
    for candidate in (os.environ.get("PIP_CERT"), os.environ.get("SSL_CERT_FILE"), "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


@pytest.fixture(scope="module")
def base_image(docker_env, tmp_path_factory):
    if docker("image", "inspect", BASE, env=docker_env, check=False).returncode == 0:
        return BASE
    if shutil.which("debootstrap") is None:
        pytest.skip("the python base image cannot be pulled here and debootstrap is not installed to make one "
                    "(apt-get install debootstrap)")
    rootfs = tmp_path_factory.mktemp("base") / "rootfs"
    made = subprocess.run(["debootstrap", "--variant=minbase", "--include=python3,python3-venv,python-is-python3,passwd",
                           "bookworm", str(rootfs)], capture_output=True, text=True, timeout=900, check=False)
    if made.returncode != 0:
        pytest.skip(f"debootstrap could not make a base: {made.stdout[-400:]}{made.stderr[-400:]}")
    bundle = ca_bundle()
    if bundle is not None:
        (rootfs / "etc/ssl/certs").mkdir(parents=True, exist_ok=True)
        shutil.copy(bundle, rootfs / "etc/ssl/certs/ca-certificates.crt")
        (rootfs / "etc/pip.conf").write_text("[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n")
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    subprocess.run(["docker", "import", "-", BASE], stdin=tar.stdout, env=docker_env, check=True,
                   capture_output=True, timeout=600)
    tar.wait()
    shutil.rmtree(rootfs, ignore_errors=True)
    return BASE


@pytest.fixture(scope="module")
def image(docker_env, base_image):
    build = subprocess.run(["docker", "build", "--network", "host", "--build-arg", f"PYTHON_IMAGE={base_image}",
                            "-t", IMAGE, str(ROOT)], env={**docker_env, "DOCKER_BUILDKIT": "0"},
                           capture_output=True, text=True, timeout=900, check=False)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    yield IMAGE
    docker("rmi", "-f", IMAGE, env=docker_env, check=False)


def test_image_runs_gate_as_the_non_root_user(docker_env, image):
    """`gate --version` is the entrypoint's answer, as UID 10001 (what the Job's runAsUser expects)."""
    version = docker("run", "--rm", "--network", "none", image, "--version", env=docker_env)
    assert version.stdout.strip() == f"gate, version {__version__}"
    who = docker("run", "--rm", "--network", "none", "--entrypoint", "id", image, "-u", env=docker_env)
    assert who.stdout.strip() == "10001"


def test_image_fails_the_incident_and_says_why_first(docker_env, image):
    """The incident in the image fails with exit 1; the first lines are the verdict and its findings."""
    proc = docker("run", "--rm", "--network", "none", "--read-only", "--tmpfs", "/tmp",
                  "-v", f"{EXAMPLES}:/work/examples:ro", image,
                  "check", "--offline", "--format", "summary", "--format", "text", "examples/incident",
                  env=docker_env, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    first, second = proc.stdout.splitlines()[:2]
    assert first == "ingress-gate: FAILED: 12 errors, 0 warnings, 0 info, 19 unverified (fail on error)"
    assert second.startswith("  error ") and " at examples/incident/" in second
    assert "FAILED: 12 errors" in proc.stdout.splitlines()[-1]  # the text checklist follows
