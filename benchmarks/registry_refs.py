"""Registry probe throughput: 200 distinct image references checked against a local registry.

Starts Debian's `docker-registry` on 127.0.0.1 (as the tests do), pushes 10 repositories x 20 tags,
then checks all 200 references through the gate's RegistryClient (pooled connections, bounded
concurrency) and, as baselines measured in the same run, with sequential HEAD requests that each
open a new connection (what a shell loop of `curl -I` does) or share one kept-alive connection.
Best of N runs each. A second scenario repeats this against a stand-in registry that answers after
a delay (default 20 ms, a registry across a network), where concurrency is what counts; the stand-in
runs in a child process (`--in-process`: in this one) and counts how many requests it had in flight. A third puts Bearer token auth in front (a token
service with the same delay, one scope per repository), where token fetches must not serialise.

Targets: at least 500 references/s against the 20 ms stand-in, and never slower than the sequential
baselines of the same run (ratios >= 1). Needs only the runtime dependencies (no pytest, no trustme).

    python3 benchmarks/registry_refs.py [--repeat N] [--refs N] [--latency-ms MS]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import threading
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


def gate_client(refs: list[str], host: str, **settings) -> float:
    parsed = [parse(r) for r in refs]

    async def go() -> float:
        start = time.perf_counter()
        settings_ = reg.RegistrySettings(insecure=frozenset({host}), **settings)
        async with reg.RegistryClient(CredentialStore("/nonexistent", env={}), settings_) as client:
            answers = await client.check_all(parsed)
        elapsed = time.perf_counter() - start
        assert all(a.found for a in answers.values()), [a for a in answers.values() if not a.found][:3]
        return elapsed
    return asyncio.run(go())


class InFlight:
    """Requests a server is handling at once: the peak, and the mean over the requests' arrivals."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = self.peak = self.total = self.count = 0

    def __enter__(self) -> None:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
            self.total += self.now
            self.count += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.now -= 1

    def reset(self) -> None:
        with self._lock:
            self.peak = self.total = self.count = 0

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0


def slow_registry(delay: float, *, token: bool = False) -> tuple[LocalServer, InFlight]:
    """A stand-in for a registry across a network: every manifest HEAD answers 200 after `delay` s.
    With `token`, it first asks for a Bearer token from its own /token (which also takes `delay`)."""
    in_flight = InFlight()
    server: LocalServer

    def answer(request):
        with in_flight:
            time.sleep(delay)
            if token and request.path.startswith("/token"):
                return 200, {"Content-Type": "application/json"}, b'{"token": "bench-token"}'
            if token and request.headers.get("Authorization") != "Bearer bench-token":
                realm = f"{server.url()}/token"
                return 401, {"WWW-Authenticate": f'Bearer realm="{realm}",service="bench"'}, b""
            return 200, {"Content-Type": reg.OCI_MANIFEST, "Docker-Content-Digest": "sha256:" + "0" * 64}, b""
    server = LocalServer(answer)
    return server, in_flight


def baseline(refs: list[str], *, keep_alive: bool, token: bool = False) -> float:
    """Sequential HEADs: a new TCP connection each (`Connection: close`, as a `curl -I` loop), or one
    kept-alive connection for all. With `token`, one token per repository, fetched when first needed."""
    headers = {"Accept": reg.ACCEPT, **({} if keep_alive else {"Connection": "close"})}
    tokens: dict[str, str] = {}
    start = time.perf_counter()
    with httpx.Client() as client:
        for text in refs:
            ref = parse(text)
            url = f"http://{ref.api_host}/v2/{ref.repository}/manifests/{ref.reference}"
            extra = {}
            if token:
                if ref.repository not in tokens:
                    got = client.get(f"http://{ref.api_host}/token",
                                     params={"scope": f"repository:{ref.repository}:pull"}, headers=headers)
                    tokens[ref.repository] = got.json()["token"]
                extra = {"Authorization": f"Bearer {tokens[ref.repository]}"}
            answer = client.head(url, headers={**headers, **extra})
            assert answer.status_code == 200, answer.status_code
    return time.perf_counter() - start


def report(title: str, n: int, ours: float, fresh: float, kept: float) -> None:
    print(title)
    print(f"  gate RegistryClient (pooled, concurrent):   {ours:.3f} s  {n / ours:8.1f} references/s")
    print(f"  baseline, sequential, new connection each:  {fresh:.3f} s  {n / fresh:8.1f} references/s "
          f"(gate: {fresh / ours:.2f}x)")
    print(f"  baseline, sequential, one kept-alive conn.: {kept:.3f} s  {n / kept:8.1f} references/s "
          f"(gate: {kept / ours:.2f}x)")


def measure(refs: list[str], host: str, repeat: int, *, token: bool = False) -> tuple[float, float, float]:
    """Best of `repeat` each, the three interleaved so that a change in the machine's load while the
    benchmark runs weighs on all of them alike."""
    runs = [(gate_client(refs, host), baseline(refs, keep_alive=False, token=token),
             baseline(refs, keep_alive=True, token=token)) for _ in range(repeat)]
    ours, fresh, kept = (min(column) for column in zip(*runs))
    return ours, fresh, kept


def _serve_stand_in(latency: float, token: bool, pipe) -> None:
    """In a child process: a stand-in registry; answers 'stats' (peak, mean in flight) and 'stop'."""
    server, in_flight = slow_registry(latency, token=token)
    pipe.send(server.port)
    while (command := pipe.recv()) != "stop":
        if command == "stats":
            pipe.send((in_flight.peak, in_flight.mean))
    server.stop()


class StandIn:
    """The stand-in registry in this process (as the tests run servers) or, by default, in a child
    process: a registry across a network does not share the client's interpreter lock, and a Python
    server thread per connection competing with the client for it measures the server as much."""

    def __init__(self, latency: float, *, token: bool, in_process: bool):
        self._server = self._child = self._pipe = None
        if in_process:
            self._server, self._flight = slow_registry(latency, token=token)
            self.port = self._server.port
        else:
            self._pipe, child_end = multiprocessing.Pipe()
            self._child = multiprocessing.get_context("fork").Process(
                target=_serve_stand_in, args=(latency, token, child_end), daemon=True)
            self._child.start()
            self.port = self._pipe.recv()

    def stats(self) -> tuple[int, float]:
        if self._server is not None:
            return self._flight.peak, self._flight.mean
        self._pipe.send("stats")
        return self._pipe.recv()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        else:
            self._pipe.send("stop")
            self._child.join(10)


def remote(refs: list[str], latency: float, *, token: bool, in_process: bool,
           repeat: int) -> tuple[tuple[float, float, float], tuple[int, float]]:
    """The gate (best of `repeat`: one run is a few tenths of a second, which one hiccup of a busy
    machine spoils; its requests in flight counted over the first) and the baselines (one run each,
    several seconds) against a fresh stand-in."""
    server = StandIn(latency, token=token, in_process=in_process)
    try:
        host = f"127.0.0.1:{server.port}"
        names = [f"{host}/{r.split('/', 1)[1]}" for r in refs]
        ours = gate_client(names, host)
        flight = server.stats()
        ours = min([ours, *(gate_client(names, host) for _ in range(repeat - 1))])
        fresh = baseline(names, keep_alive=False, token=token)
        kept = baseline(names, keep_alive=True, token=token)
    finally:
        server.stop()
    return (ours, fresh, kept), flight


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--refs", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=20.0,
                        help="delay of the stand-in remote registry (second and third scenarios)")
    parser.add_argument("--in-process", action="store_true",
                        help="run the stand-in registry in the benchmark's own process (it then shares the "
                             "interpreter lock with the client, as the benchmark did at first)")
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
    latency = args.latency_ms / 1000
    where = "in this process" if args.in_process else "in a child process"
    slow, (peak, mean) = remote(refs, latency, token=False, in_process=args.in_process, repeat=args.repeat)
    report(f"{n} distinct references, stand-in registry ({where}) answering after {args.latency_ms:g} ms, "
           f"gate best of {args.repeat}, baselines one run", n, *slow)
    print(f"  requests in flight at the stand-in during the gate's run: mean {mean:.1f}, peak {peak}")
    auth, (peak, mean) = remote(refs, latency, token=True, in_process=args.in_process, repeat=args.repeat)
    report(f"{n} distinct references, the same behind Bearer tokens ({REPOS} scopes, token service "
           f"{args.latency_ms:g} ms)", n, *auth)
    print(f"  requests in flight at the stand-in during the gate's run: mean {mean:.1f}, peak {peak}")
    targets = [
        (f">= 500 references/s against the {args.latency_ms:g} ms stand-in", n / slow[0] >= 500),
        (f">= 500 references/s against the {args.latency_ms:g} ms stand-in with tokens", n / auth[0] >= 500),
        ("never slower than a sequential baseline (every ratio >= 1)",
         all(min(fresh, kept) / ours >= 1 for ours, fresh, kept in (local, slow, auth))),
    ]
    for text, met in targets:
        print(f"target {text}: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
