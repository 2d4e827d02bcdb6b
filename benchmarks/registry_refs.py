"""Registry probe throughput: 200 distinct image references checked against a local registry.

Starts Debian's `docker-registry` on 127.0.0.1 (as the tests do), pushes 10 repositories x 20 tags,
then checks all 200 references through the gate's RegistryClient (kept-alive connections, bounded
concurrency) and, as baselines measured in the same run, with sequential HEAD requests that each
open a new connection (what a shell loop of `curl -I` does) or share one kept-alive connection. The
same again with the registry behind Bearer tokens (`auth.token`, anonymous pull, a token service on
127.0.0.1 in a child process, one scope per repository; the sequential baselines know the realm and
fetch one token per repository), and for a batch of 10 references. Best of 2N runs each (10N for the
small batch; N is --repeat), the sides alternating (forward, then backward) so that a change in the
machine's load or a warm-up weighs on all of them alike; the sequential clients are made before their
clocks start (an SSL context alone is ~20 ms).

A further scenario repeats this against a stand-in registry that answers after a delay (default 20
ms, a registry across a network), where concurrency is what counts; the stand-in runs in a child
process (`--in-process`: in this one) and counts how many requests it had in flight. A last one puts
Bearer token auth in front of it (a token service with the same delay, one scope per repository),
where token fetches must not serialise.

Targets: at least 500 references/s against the 20 ms stand-in (with and without tokens), and never
slower than the sequential baselines of the same run (every ratio >= 1). `--strict` exits 1 when a
target is missed. Needs only the runtime dependencies (no pytest, no trustme).

    python3 benchmarks/registry_refs.py [--repeat N] [--refs N] [--latency-ms MS] [--strict]
"""

from __future__ import annotations

import argparse
import asyncio
import math
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
from registry_server import LocalServer, TokenIssuer, push_image, push_manifest, signing_pair, start_registry

from gate.domain.imageref import parse
from gate.probes import registry as reg
from gate.probes.credentials import CredentialStore

REPOS = 10
SMALL = 10  # references in the small batch


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


def baseline(refs: list[str], *, keep_alive: bool, token: str | None = None) -> float:
    """Sequential HEADs: a new TCP connection each (`Connection: close`, as a `curl -I` loop), or one
    kept-alive connection for all. With `token` (the realm's URL, known up front: no 401 first), one
    token per repository, fetched when first needed. The client is made before the clock starts."""
    headers = {"Accept": reg.ACCEPT, **({} if keep_alive else {"Connection": "close"})}
    tokens: dict[str, str] = {}
    with httpx.Client() as client:
        start = time.perf_counter()
        for text in refs:
            ref = parse(text)
            url = f"http://{ref.api_host}/v2/{ref.repository}/manifests/{ref.reference}"
            extra = {}
            if token:
                if ref.repository not in tokens:
                    got = client.get(token, params={"service": "bench", "scope": f"repository:{ref.repository}:pull"},
                                     headers=headers)
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


def measure(refs: list[str], host: str, repeat: int, *, token: str | None = None) -> tuple[float, float, float]:
    """Best of `repeat` each of the gate and the two baselines, in alternating order (gate first, then
    baselines first, ...)."""
    sides = [lambda: gate_client(refs, host), lambda: baseline(refs, keep_alive=False, token=token),
             lambda: baseline(refs, keep_alive=True, token=token)]
    best = [math.inf] * len(sides)
    for round_ in range(repeat):
        order = range(len(sides)) if round_ % 2 == 0 else reversed(range(len(sides)))
        for i in order:
            best[i] = min(best[i], sides[i]())
    ours, fresh, kept = best
    return ours, fresh, kept


def _serve_tokens(key_pem: bytes, cert_pem: bytes, pipe) -> None:
    """In a child process: the token service of the token registry; 'stop' ends it."""
    issuer = TokenIssuer(key_pem=key_pem, cert_pem=cert_pem, service="bench", issuer="bench",
                         anonymous={f"bench/app{r}" for r in range(REPOS)})
    server = LocalServer(issuer)
    pipe.send(server.port)
    while pipe.recv() != "stop":
        pass
    server.stop()


class TokenService:
    """A token service in a child process (as a real one is on another host): signing a token is a few
    milliseconds of CPU that would otherwise hold the client's interpreter lock."""

    def __init__(self, key_pem: bytes, cert_pem: bytes):
        self._pipe, child_end = multiprocessing.Pipe()
        self._child = multiprocessing.get_context("fork").Process(
            target=_serve_tokens, args=(key_pem, cert_pem, child_end), daemon=True)
        self._child.start()
        self.realm = f"http://127.0.0.1:{self._pipe.recv()}/token"

    def stop(self) -> None:
        self._pipe.send("stop")
        self._child.join(10)


def token_registry(folder: Path, data: Path) -> tuple[object, TokenService]:
    """docker-registry with `auth.token` on the same storage, and its token service (anonymous pull of
    the benchmark's repositories) on 127.0.0.1."""
    ca_pem, key_pem, cert_pem = signing_pair()
    (folder / "bundle.pem").write_bytes(ca_pem)
    tokens = TokenService(key_pem, cert_pem)
    registry = start_registry(folder / "token", data=data,
                              auth={"token": {"realm": tokens.realm, "service": "bench", "issuer": "bench",
                                              "rootcertbundle": str(folder / "bundle.pem")}})
    return registry, tokens


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
        realm = f"http://{host}/token" if token else None
        fresh = baseline(names, keep_alive=False, token=realm)
        kept = baseline(names, keep_alive=True, token=realm)
    finally:
        server.stop()
    return (ours, fresh, kept), flight


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--refs", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=20.0,
                        help="delay of the stand-in remote registry (second and third scenarios)")
    parser.add_argument("--in-process", action="store_true",
                        help="run the stand-in registry in the benchmark's own process (it then shares the "
                             "interpreter lock with the client, as the benchmark did at first)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    # Against the local registry the sides compete with each other and with whatever else runs for two
    # cores; a run there is a fraction of a second, which one busy spell of the machine spoils for one
    # side only. Twice the rounds, alternated, give each side its quiet spells.
    rounds, small_rounds = 2 * args.repeat, 10 * args.repeat
    with tempfile.TemporaryDirectory() as folder:
        registry = start_registry(Path(folder))
        try:
            refs = populate(registry.url, args.refs)
            assert len(set(refs)) == args.refs
            local = measure(refs, registry.host, rounds)
            # A small batch: what fixed costs (event loop, client set-up, connections) weigh. Runs of a
            # few milliseconds, so many more of them.
            small = measure(refs[::max(1, len(refs) // SMALL)][:SMALL], registry.host, small_rounds)
        finally:
            registry.stop()
        secured, tokens = token_registry(Path(folder), Path(folder) / "data")
        try:
            names = [f"{secured.host}/{r.split('/', 1)[1]}" for r in refs]
            local_auth = measure(names, secured.host, rounds, token=tokens.realm)
        finally:
            secured.stop()
            tokens.stop()
    n = len(refs)
    report(f"{n} distinct references, local docker-registry on 127.0.0.1, best of {rounds}", n, *local)
    report(f"{SMALL} distinct references, the same registry, best of {small_rounds}", SMALL, *small)
    report(f"{n} distinct references, local docker-registry behind Bearer tokens ({REPOS} scopes, token service "
           f"on 127.0.0.1), best of {rounds}", n, *local_auth)
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
    scenarios = {"docker-registry": local, f"docker-registry, {SMALL} references": small,
                 "docker-registry, tokens": local_auth, "stand-in": slow, "stand-in, tokens": auth}
    ratios = {name: min(fresh, kept) / ours for name, (ours, fresh, kept) in scenarios.items()}
    print("ratios gate / fastest sequential baseline: "
          + ", ".join(f"{name} {ratio:.2f}x" for name, ratio in ratios.items()))
    targets = [
        (f">= 500 references/s against the {args.latency_ms:g} ms stand-in ({n / slow[0]:.0f})", n / slow[0] >= 500),
        (f">= 500 references/s against the {args.latency_ms:g} ms stand-in with tokens ({n / auth[0]:.0f})",
         n / auth[0] >= 500),
        (f"never slower than a sequential baseline (every ratio >= 1; lowest {min(ratios.values()):.2f}x)",
         all(ratio >= 1 for ratio in ratios.values())),
    ]
    for text, met in targets:
        print(f"target {text}: {'met' if met else 'NOT met'}")
    return 1 if args.strict and not all(met for _, met in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
