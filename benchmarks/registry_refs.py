"""Registry probe throughput: 200 distinct image references checked against a local registry.

Starts Debian's `docker-registry` on 127.0.0.1 (as the tests do), pushes 10 repositories x 20 tags,
then checks all 200 references through the gate's RegistryClient (pooled connections, bounded
concurrency) and, as baselines measured in the same run, with sequential HEAD requests that each
open a new connection (what a shell loop of `curl -I` does) or share one kept-alive connection.
Best of N runs each. A second scenario repeats this against a stand-in registry that answers after
a delay (default 20 ms, a registry across a network), where concurrency is what counts.

    python benchmarks/registry_refs.py [--repeat N] [--refs N]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
from registry_server import LocalServer, push_image, push_manifest, start_registry

from gate.domain.imageref import parse
from gate.probes import registry as reg
from gate.probes.credentials import CredentialStore

REPOS = 10


def populate(base: str, refs: int) -> list[str]:
    """Push one image per repository and tag it refs/REPOS times; returns the references."""
    names = []
    with httpx.Client(timeout=10) as client:
        for r in range(REPOS):
            repo = f"bench/app{r}"
            digest, _ = push_image(client, base, repo, "v0")
            manifest = client.get(f"{base}/v2/{repo}/manifests/{digest}",
                                  headers={"Accept": reg.OCI_MANIFEST}).json()
            for t in range(refs // REPOS):
                if t:
                    push_manifest(client, base, repo, f"v{t}", manifest, reg.OCI_MANIFEST)
                names.append(f"{base.split('://')[1]}/{repo}:v{t}")
    return names


def gate_client(refs: list[str], host: str) -> float:
    parsed = [parse(r) for r in refs]

    async def go() -> float:
        start = time.perf_counter()
        settings = reg.RegistrySettings(insecure=frozenset({host}))
        async with reg.RegistryClient(CredentialStore("/nonexistent", env={}), settings) as client:
            answers = await client.check_all(parsed)
        elapsed = time.perf_counter() - start
        assert all(a.found for a in answers.values()), [a for a in answers.values() if not a.found][:3]
        return elapsed
    return asyncio.run(go())


def slow_registry(delay: float) -> LocalServer:
    """A stand-in for a registry across a network: every manifest HEAD answers 200 after `delay` s."""
    def answer(request):
        time.sleep(delay)
        return 200, {"Content-Type": reg.OCI_MANIFEST, "Docker-Content-Digest": "sha256:" + "0" * 64}, b""
    return LocalServer(answer)


def baseline(refs: list[str], *, keep_alive: bool) -> float:
    """Sequential HEADs: a new TCP connection each (`Connection: close`, as a `curl -I` loop), or one
    kept-alive connection for all."""
    headers = {"Accept": reg.ACCEPT, **({} if keep_alive else {"Connection": "close"})}
    start = time.perf_counter()
    with httpx.Client() as client:
        for text in refs:
            ref = parse(text)
            answer = client.head(f"http://{ref.api_host}/v2/{ref.repository}/manifests/{ref.reference}",
                                 headers=headers)
            assert answer.status_code == 200, answer.status_code
    return time.perf_counter() - start


def report(title: str, n: int, ours: float, fresh: float, kept: float) -> None:
    print(title)
    print(f"  gate RegistryClient (pooled, concurrent):   {ours:.3f} s  {n / ours:8.1f} references/s")
    print(f"  baseline, sequential, new connection each:  {fresh:.3f} s  {n / fresh:8.1f} references/s "
          f"(gate: {fresh / ours:.2f}x)")
    print(f"  baseline, sequential, one kept-alive conn.: {kept:.3f} s  {n / kept:8.1f} references/s "
          f"(gate: {kept / ours:.2f}x)")


def measure(refs: list[str], host: str, repeat: int) -> tuple[float, float, float]:
    ours = min(gate_client(refs, host) for _ in range(repeat))
    fresh = min(baseline(refs, keep_alive=False) for _ in range(repeat))
    kept = min(baseline(refs, keep_alive=True) for _ in range(repeat))
    return ours, fresh, kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--refs", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=20.0,
                        help="delay of the stand-in remote registry (second scenario)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        registry = start_registry(Path(folder))
        try:
            refs = populate(registry.url, args.refs)
            assert len(set(refs)) == args.refs
            local = measure(refs, registry.host, args.repeat)
        finally:
            registry.stop()
    n = len(refs)
    report(f"{n} distinct references, local docker-registry on 127.0.0.1, best of {args.repeat}", n, *local)
    server = slow_registry(args.latency_ms / 1000)
    try:
        host = f"127.0.0.1:{server.port}"
        remote = [f"{host}/{r.split('/', 1)[1]}" for r in refs]
        slow = measure(remote, host, 1)
    finally:
        server.stop()
    report(f"{n} distinct references, stand-in registry answering after {args.latency_ms:g} ms, one run", n, *slow)
    print(f"target >= 200 references/s against the local registry: {'met' if n / local[0] >= 200 else 'NOT met'}")


if __name__ == "__main__":
    main()
