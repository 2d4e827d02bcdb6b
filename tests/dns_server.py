"""A real authoritative DNS server for the tests: knot on 127.0.0.1, serving the root zone.

Serving `.` makes every name answerable with authority (CAA walks up to the TLD, CNAMEs into other
"providers"), as a recursive resolver would see it. Records change live with `knotc` transactions.
Also a silent nameserver (a bound UDP/TCP port that never answers) for timeout tests.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import textwrap
import time
from pathlib import Path

import dns.message
import dns.query

try:
    import pytest
except ImportError:  # benchmarks/dns_names.py starts these servers without the test extra installed
    pytest = None

KNOTD = shutil.which("knotd") or "/usr/sbin/knotd"
KNOTC = shutil.which("knotc") or "/usr/sbin/knotc"
HAVE_KNOT = Path(KNOTD).exists()
NO_KNOT = "knot is not installed (.ci/run installs it)"
needs_knot = pytest.mark.skipif(not HAVE_KNOT, reason=NO_KNOT) if pytest is not None else None

APEX = """\
$TTL 60
@ SOA ns.root-servers.test. hostmaster.root-servers.test. 1 3600 600 86400 60
@ NS ns.root-servers.test.
"""


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port")


class KnotServer:
    """knotd in the foreground on a free port, serving `records` (zone file lines, absolute names) in `.`.

    `servfail.test.` is configured without a zone file, so knot answers SERVFAIL for every name in it.
    """

    def __init__(self, folder: Path, records: str = "", zones: dict[str, str] | None = None):
        """`zones` (apex -> records) replaces the root zone, for servers authoritative for some zones only."""
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.conf = folder / "knot.conf"
        self.log = folder / "knotd.log"
        zones = zones if zones is not None else {".": records}
        self.apex = next(iter(zones))  # asked for its SOA until the server answers
        entries = ""
        for i, (apex, zone_records) in enumerate(zones.items()):
            (folder / f"zone{i}.zone").write_text(
                f"$ORIGIN {apex}\n" + APEX + textwrap.dedent(zone_records).strip() + "\n")
            entries += f'  - domain: "{apex}"\n    file: "zone{i}.zone"\n'
        self.conf.write_text(textwrap.dedent(f"""\
            server:
                rundir: "{folder}/run"
                user: root:root
                listen: [ 127.0.0.1@{self.port} ]
            log:
              - target: stderr
                any: warning
            database:
                storage: "{folder}/db"
            mod-stats:
              - id: counts
                request-protocol: on
            template:
              - id: default
                storage: "{folder}"
                zonefile-sync: -1
                zonefile-load: whole
                journal-content: none
                global-module: mod-stats/counts
            zone:
              - domain: servfail.test.
                file: "missing.zone"
            """) + entries)
        (folder / "run").mkdir(exist_ok=True)
        (folder / "db").mkdir(exist_ok=True)
        self.process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> KnotServer:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([KNOTD, "-c", str(self.conf)], stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"knotd exited: {self.log.read_text()}")
            try:
                response = dns.query.udp(dns.message.make_query(self.apex, "SOA"), "127.0.0.1", port=self.port,
                                         timeout=0.2)
                if response.answer:
                    return self
            except (OSError, dns.exception.Timeout):
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"knotd did not answer on {self.address}: {self.log.read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def knotc(self, *args: str) -> None:
        subprocess.run([KNOTC, "-c", str(self.conf), *args], check=True, capture_output=True, timeout=10)

    def change(self, *, set: list[str] = (), unset: list[str] = ()) -> None:
        """Change records live in one transaction: set "name ttl TYPE data", unset "name [TYPE]"."""
        self.knotc("zone-begin", ".")
        try:
            for record in unset:
                self.knotc("zone-unset", ".", *record.split())
            for record in set:
                self.knotc("zone-set", ".", *record.split(maxsplit=3))
            self.knotc("zone-commit", ".")
        except subprocess.CalledProcessError:
            self.knotc("zone-abort", ".")
            raise

    def queries(self) -> int:
        """How many queries reached the server, over UDP and TCP (knot's mod-stats)."""
        result = subprocess.run([KNOTC, "-c", str(self.conf), "stats", "mod-stats.request-protocol"],
                                capture_output=True, text=True, timeout=10, check=True)
        return sum(int(line.rsplit("=", 1)[1]) for line in result.stdout.splitlines() if "=" in line)


class SilentServer:
    """A nameserver address that takes packets and connections but never answers (timeouts)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen(64)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def received(self) -> int:
        """Datagrams waiting (read and counted now)."""
        self.udp.setblocking(False)
        count = 0
        try:
            while True:
                self.udp.recv(4096)
                count += 1
        except BlockingIOError:
            return count

    def close(self) -> None:
        self.udp.close()
        self.tcp.close()


if pytest is not None:
    @pytest.fixture
    def knot(tmp_path):
        """A factory: knot(records) starts a server with those records in `.` (or knot(zones={apex: records}));
        every server is stopped afterwards. Skips the test when knot is not installed."""
        if not HAVE_KNOT:
            pytest.skip(NO_KNOT)
        servers: list[KnotServer] = []

        def start(records: str = "", name: str = "knot", zones: dict[str, str] | None = None) -> KnotServer:
            server = KnotServer(tmp_path / f"{name}{len(servers)}", records, zones).start()
            servers.append(server)
            return server

        yield start
        for server in servers:
            server.stop()

    @pytest.fixture
    def silent_server():
        server = SilentServer()
        yield server
        server.close()
