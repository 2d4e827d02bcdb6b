"""DNS budget: 1,000 distinct names through the gate's resolver against a local knot server.

Measured in one run, best of N each:
  gate      the gate's resolver (gate/probes/dns.py): A, AAAA and the CAA walk of every name, concurrently
  baseline  plain sequential dnspython asking exactly the same questions (parents' CAA once), one by one
Both on loopback (no network latency: the ratio is the resolver's own overhead), and again through a
UDP relay that delays each answer by --delay ms, as a nameserver across a network would (the baseline
there on a sample of names, its rate extrapolated).
Targets: >= 1,000 names/s on loopback and through the relay, and never slower than the baseline
(ratio gate/baseline time <= 1) in either; --strict exits 1 when one is missed.
Then against a nameserver that never answers: the run must end within about one lifetime, not one
per name.

Needs knot (knotd) and the gate's own dependencies only, not the test extra (no pytest).

    python benchmarks/dns_names.py [--names 1000] [--repeat 3] [--delay 20] [--strict]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import sys
import tempfile
import time
from pathlib import Path

import dns.resolver

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tests")]

from dns_server import KnotServer, SilentServer, free_port

from gate.probes.dns import Question, Resolver

LB = "lb.elb.example.net"
TARGET = 1000  # names/s, on loopback and through the relay


def zone(count: int) -> str:
    lines = [f"{LB}. A 192.0.2.10", f"{LB}. AAAA 2001:db8::10", 'example.com. CAA 0 issue "letsencrypt.org"']
    for i in range(count):  # half CNAMEs to the LB, half plain A records
        lines.append(f"n{i}.bench.example.com. CNAME {LB}." if i % 2 else f"n{i}.bench.example.com. A 192.0.2.10")
    return "\n".join(lines)


def gate_resolve(address: str, names: list[str]) -> float:
    start = time.perf_counter()
    answers = asyncio.run(Resolver([address], timeout=2, lifetime=10).resolve_all(
        [Question(n, caa=True) for n in names]))
    elapsed = time.perf_counter() - start
    bad = [q.name for q, by in answers.items() if by[address].a.status != "resolved"]
    assert not bad, f"unexpected answers for {bad[:3]}"
    return elapsed


def baseline_resolve(address: str, names: list[str]) -> float:
    host, port = address.rsplit(":", 1)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port, resolver.cache = [host], int(port), None
    resolver.timeout, resolver.lifetime = 2, 10
    questions = {(n, t) for n in names for t in ("A", "AAAA", "CAA")}
    questions |= {(".".join(n.split(".")[i:]), "CAA") for n in names for i in range(1, len(n.split(".")))}
    start = time.perf_counter()
    for name, rdtype in sorted(questions):
        resolver.resolve(name, rdtype, raise_on_no_answer=False, search=False)
    return time.perf_counter() - start


def relay(listen_port: int, upstream_port: int, delay: float, ready) -> None:
    """Forward UDP queries to the upstream and each answer back `delay` seconds later."""
    async def main() -> None:
        loop = asyncio.get_running_loop()
        clients: dict[int, tuple] = {}

        class Front(asyncio.DatagramProtocol):
            def connection_made(self, transport):
                self.transport = transport

            def datagram_received(self, data, addr):
                clients[int.from_bytes(data[:2], "big")] = addr
                back.sendto(data)

        class Back(asyncio.DatagramProtocol):
            def datagram_received(self, data, addr):
                client = clients.pop(int.from_bytes(data[:2], "big"), None)
                if client is not None:
                    loop.call_later(delay, front.sendto, data, client)

        front, _ = await loop.create_datagram_endpoint(Front, local_addr=("127.0.0.1", listen_port))
        back, _ = await loop.create_datagram_endpoint(Back, remote_addr=("127.0.0.1", upstream_port))
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


def best(repeat: int, fn, *args) -> float:
    return min(fn(*args) for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--names", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--delay", type=float, default=20, help="relay delay in ms (0: skip)")
    parser.add_argument("--lifetime", type=float, default=1.0)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    missed: list[str] = []

    def verdict(label: str, gate: float, base: float) -> str:
        rate, ratio = args.names / gate, gate / base
        ok = rate >= TARGET and ratio <= 1
        if not ok:
            missed.append(label)
        return (f"  ratio gate/baseline time: {ratio:.3f}  (targets >= {TARGET} names/s and ratio <= 1: "
                f"{'met' if ok else 'NOT met'})")

    names = [f"n{i}.bench.example.com" for i in range(args.names)]

    with tempfile.TemporaryDirectory() as folder:
        server = KnotServer(Path(folder) / "knot", zone(args.names)).start()
        try:
            gate = best(args.repeat, gate_resolve, server.address, names)
            base = best(args.repeat, baseline_resolve, server.address, names)
            print(f"loopback, {args.names} names (A, AAAA, CAA walk each):")
            print(f"  gate resolver   {gate:6.3f} s  {args.names / gate:7.0f} names/s")
            print(f"  baseline        {base:6.3f} s  {args.names / base:7.0f} names/s  (sequential dnspython)")
            print(verdict("loopback", gate, base))

            if args.delay > 0:
                port = free_port()
                ready = multiprocessing.Event()
                proxy = multiprocessing.Process(target=relay, args=(port, server.port, args.delay / 1000, ready),
                                                daemon=True)
                proxy.start()
                ready.wait(10)
                address = f"127.0.0.1:{port}"
                try:
                    sample = names[: max(20, args.names // 50)]
                    gate = best(args.repeat, gate_resolve, address, names)
                    base = baseline_resolve(address, sample) * len(names) / len(sample)
                    print(f"{args.delay:g} ms per answer (UDP relay), {args.names} names:")
                    print(f"  gate resolver   {gate:6.3f} s  {args.names / gate:7.0f} names/s")
                    print(f"  baseline        {base:6.3f} s  {args.names / base:7.0f} names/s  "
                          f"(measured on {len(sample)} names, extrapolated)")
                    print(verdict(f"{args.delay:g} ms", gate, base))
                finally:
                    proxy.terminate()
                    proxy.join()
        finally:
            server.stop()

    silent = SilentServer()
    try:
        start = time.perf_counter()
        answers = asyncio.run(Resolver([silent.address], timeout=args.lifetime / 4, lifetime=args.lifetime)
                              .resolve_all([Question(n, caa=True) for n in names]))
        elapsed = time.perf_counter() - start
        assert all(by[silent.address].a.status == "timeout" for by in answers.values())
        print(f"unreachable nameserver, {args.names} names, lifetime {args.lifetime:g} s:")
        print(f"  run ended after {elapsed:.2f} s = {elapsed / args.lifetime:.2f} lifetimes "
              f"(one per name would be {args.names * args.lifetime:g} s)")
    finally:
        silent.close()
    socket.setdefaulttimeout(None)
    if missed:
        print(f"targets missed: {', '.join(missed)}")
        if args.strict:
            sys.exit(1)


if __name__ == "__main__":
    main()
