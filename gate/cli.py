"""The `gate` command: parse options, build a RunConfig, call run(), render, exit with meaning.

Exit codes: 0 the gate passed; 1 a finding at or above --fail-on; 2 usage error, unreadable input,
invalid policy, or an internal error.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gate import __version__
from gate.config import FAIL_ON, AuditOptions, ClusterOptions, DnsOptions, RegistryOptions, RunConfig, UsageError
from gate.progress import Progress
from gate.report import FORMATS, WRITERS
from gate.report.catalogue import CATALOGUE_FORMATS
from gate.report.safe import clean

if TYPE_CHECKING:
    from gate.model import Report

# What a command needs (the pipeline, the check catalogue, the policy loader, `gate alerts`) is
# imported inside it: `gate --version` and `gate --help` import none of it, and `gate check` not the
# audit pipeline nor the alert rules. A pre-commit hook pays start-up on every commit.

EXIT_PASSED, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
# A file is held in memory while its documents are parsed: past this, the memory bound README states is moot.
MAX_FILE_SIZE_MIB = 1024


def parse_format(value: str) -> tuple[str, str | None]:
    name, sep, path = value.partition("=")
    if name not in FORMATS:
        raise click.BadParameter(f"unknown format {name!r}; choose from {', '.join(FORMATS)}",
                                 param_hint="--format")
    if sep and not path:
        raise click.BadParameter(f"{value!r}: a path is required after '='", param_hint="--format")
    return name, path or None


def _each(parse):
    """A click callback applying `parse` (which raises ValueError) to every value of a repeatable option."""
    def callback(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
        try:
            return tuple(parse(v) for v in values)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    return callback


def _lb_address(value: str) -> str:
    from gate.probes.dns_answers import parse_address  # imported when the option is given

    return parse_address(value)


def _nameserver(value: str) -> str:
    from gate.probes.dns_answers import parse_nameserver

    return parse_nameserver(value)


def use_colour() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


class _Commands(click.Group):
    """Registers `gate alerts` without importing it: it is imported when run or listed (`gate --help`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), "alerts"})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name == "alerts":
            from gate.alerts.cli import alerts

            return alerts
        return super().get_command(ctx, name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="gate")
def main() -> None:
    """ingress-gate: check rendered Kubernetes manifests before an HTTPS service goes live."""


@main.command()
@click.argument("paths", nargs=-1)
@click.option("--policy", metavar="FILE", help="Policy file (default: ./.gate.yaml when present).")
@click.option("--format", "formats", metavar="FMT[=PATH]", multiple=True,
              help=f"Output format ({', '.join(FORMATS)}), to stdout or to PATH; repeatable.")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="error", show_default=True,
              help="Lowest severity that fails the gate.")
@click.option("--offline", is_flag=True, help="No network or cluster access at all.")
@click.option("--namespace", default="default", show_default=True,
              help="Namespace for namespaced objects that set none (as kubectl apply -n).")
@click.option("--include", multiple=True, metavar="ID", help="Run only these checks; repeatable.")
@click.option("--exclude", multiple=True, metavar="ID", help="Skip these checks; repeatable.")
@click.option("--kube-version", metavar="1.N",
              help="Kubernetes release whose API the render is validated against (default: policy kubernetesVersion).")
@click.option("--max-file-size", type=click.IntRange(min=1, max=MAX_FILE_SIZE_MIB), default=64, show_default=True,
              metavar="MIB", help=f"Larger input files are reported, not read (at most {MAX_FILE_SIZE_MIB}).")
@click.option("--cluster-state", "cluster_state", multiple=True, metavar="PATH",
              help="File or folder of objects known to exist (kubectl get ... -o yaml); repeatable.")
@click.option("--kube", is_flag=True, help="Read what exists from the live cluster (Secrets: metadata only).")
@click.option("--kubeconfig", metavar="FILE", help="Kubeconfig for --kube (default: in-cluster, $KUBECONFIG, "
                                                   "~/.kube/config).")
@click.option("--context", "kube_context", metavar="NAME", help="Kubeconfig context for --kube.")
@click.option("--argocd-app", metavar="NAME", help="Check this Argo CD application's target manifests "
                                                   "(ARGOCD_SERVER, ARGOCD_AUTH_TOKEN); PATHs become optional.")
@click.option("--argocd-insecure", is_flag=True, help="Do not verify the Argo CD server's TLS certificate.")
@click.option("--argocd-ca", metavar="FILE", help="CA file trusted for the Argo CD server besides the system store "
                                                  "(default: $ARGOCD_CA_FILE).")
@click.option("--registry-config", type=click.Path(exists=True, dir_okay=False), metavar="PATH",
              help="Docker config.json with registry credentials (default: $DOCKER_CONFIG/config.json, "
                   "~/.docker/config.json; DOCKER_AUTH_CONFIG is read too).")
@click.option("--insecure-registry", "insecure_registries", multiple=True, metavar="HOST[:PORT]",
              help="Reach this registry over plain HTTP; repeatable.")
@click.option("--lb-hostname", "lb_hostnames", multiple=True, metavar="NAME",
              help="Load balancer hostname names must CNAME to (or resolve within); repeatable.")
@click.option("--lb-address", "lb_addresses", multiple=True, metavar="IP", callback=_each(_lb_address),
              help="Load balancer address names must resolve within; repeatable.")
@click.option("--nameserver", "nameservers", multiple=True, metavar="HOST[:PORT]",
              callback=_each(_nameserver),
              help="Ask this nameserver (each separately) instead of the system resolver; repeatable.")
@click.option("-v", "--verbose", is_flag=True, help="Text: every line of every service and every finding.")
@click.option("-q", "--quiet", is_flag=True, help="Text: only failing lines and the verdict.")
@click.option("--progress", is_flag=True, help="Show progress on stderr even when it is not a terminal.")
@click.option("--changed", is_flag=True,
              help="PATHs are the files a change touches (pre-commit): the whole render set (policy `paths`, "
                   "else the working folder) is checked, and the findings in these files count.")
@click.option("--source-root", metavar="DIR",
              help="Where Helm charts live: SARIF, annotations and Markdown point at a finding's chart template "
                   "(from `# Source:`) under DIR when it exists.")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
def check(paths: tuple[str, ...], policy: str | None, formats: tuple[str, ...], fail_on: str, offline: bool,
          namespace: str, include: tuple[str, ...], exclude: tuple[str, ...], max_file_size: int,
          debug: bool, cluster_state: tuple[str, ...] = (), kube: bool = False, kubeconfig: str | None = None,
          kube_context: str | None = None, argocd_app: str | None = None, argocd_insecure: bool = False,
          registry_config: str | None = None, insecure_registries: tuple[str, ...] = (),
          lb_hostnames: tuple[str, ...] = (), lb_addresses: tuple[str, ...] = (),
          nameservers: tuple[str, ...] = (), kube_version: str | None = None, verbose: bool = False,
          quiet: bool = False, progress: bool = False, changed: bool = False, source_root: str | None = None,
          argocd_ca: str | None = None) -> None:
    """Check rendered manifests: files, folders (recursive) or - for stdin."""
    run = _import_pipeline()
    outputs = [parse_format(f) for f in formats]
    if verbose and quiet:
        raise click.UsageError("--verbose and --quiet contradict each other; give one")
    if not any(path is None for _, path in outputs):
        outputs.insert(0, ("text", None))
    config = RunConfig(
        paths=paths, policy=policy, namespace=namespace, offline=offline, fail_on=fail_on, include=include,
        exclude=exclude, max_file_bytes=max_file_size * 1024 * 1024, kube_version=kube_version,
        dns=DnsOptions(lb_hostnames=lb_hostnames, lb_addresses=lb_addresses, nameservers=nameservers),
        registry=RegistryOptions(config_path=registry_config, insecure=insecure_registries),
        cluster=ClusterOptions(state_paths=cluster_state, kube=kube, kubeconfig=kubeconfig, context=kube_context,
                               argocd_app=argocd_app, argocd_insecure=argocd_insecure, argocd_ca=argocd_ca),
        changed=changed, source_root=source_root,
    )
    meter = Progress(sys.stderr, enabled=progress or sys.stderr.isatty())
    try:
        with meter:
            report = run(config, progress=meter)
        failed_writes = write_outputs(report, outputs, verbose=verbose, quiet=quiet)
    except BrokenPipeError:
        # stdout closed early (`gate check ... | head`): the verdict stands, only the reader left.
        _silence_stdout()
        sys.exit(report.exit_code if "report" in locals() else EXIT_ERROR)
    except Exception as exc:  # noqa: BLE001 - a gate never dies with a bare traceback
        _exit_on_error(exc, debug)
    for error in report.errors:
        click.echo(f"gate: {clean(error)}", err=True)
    if report.outside_changed:
        click.echo(f"gate: --changed: {report.outside_changed} finding(s) in files that were not given are not "
                   f"counted; `gate check` on the whole render reports them", err=True)
    _exit_with(report, failed_writes)


def _import_pipeline():
    """gate.run.run, imported with the collector paused, then everything the imports made frozen.

    Those objects (modules, classes, functions) live until the process ends: collection passes over
    them during the import, and the full one at exit, free nothing and cost a one-file run (a
    pre-commit hook's) about a tenth of its time.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        from gate.run import run
    finally:
        gc.freeze()
        if collecting:
            gc.enable()
    return run


def render_output(report: Report, name: str, to_terminal: bool, *, verbose: bool, quiet: bool) -> str:
    if name != "text":
        return FORMATS[name](report, False)
    from gate.report import text as text_report

    width = None
    if to_terminal and sys.stdout.isatty():
        import shutil  # only a terminal needs its width

        width = shutil.get_terminal_size().columns
    return text_report.render(report, to_terminal and use_colour(), verbose=verbose, quiet=quiet, width=width)


_WRITE_CHUNK = 1 << 20  # characters encoded and written at a time


def _pieces(text: str) -> Iterator[str]:
    return (text[start:start + _WRITE_CHUNK] for start in range(0, len(text), _WRITE_CHUNK))


def write_outputs(report: Report, outputs: list[tuple[str, str | None]], *, verbose: bool, quiet: bool) -> int:
    """Every format to stdout or its file; a file that cannot be written is reported and the others
    still are. Returns how many could not be written."""
    failed = 0
    for name, path in outputs:
        writer = WRITERS.get(name)
        if path is None and writer is not None:
            writer(report, lambda piece: click.echo(piece, nl=False))
            continue
        if path is None:
            text = render_output(report, name, True, verbose=verbose, quiet=quiet)
            # The text report may hold colour, which click strips off a pipe: never cut mid-sequence.
            for piece in [text] if name == "text" else _pieces(text):
                click.echo(piece, nl=False)
            continue
        try:
            # backslashreplace: reporters escape what they print, this only keeps a missed surrogate
            # from losing a whole report. Encoded a slice at a time: the JSON report of a render of
            # 100,000 objects is 200 MiB, and its bytes beside the text would double that.
            with open(path, "w", encoding="utf-8", errors="backslashreplace", newline="") as out:
                if writer is not None:
                    writer(report, lambda piece: out.writelines(_pieces(piece)))
                else:
                    out.writelines(_pieces(render_output(report, name, False, verbose=verbose, quiet=quiet)))
        except OSError as exc:
            click.echo(f"gate: cannot write {clean(path)}: {clean(exc.strerror or exc)}", err=True)
            failed += 1
    return failed


def _exit_on_error(exc: Exception, debug: bool) -> None:
    """A policy or usage error is named; anything else is an internal error (exit 2 either way)."""
    from gate.policy import PolicyError

    if isinstance(exc, PolicyError | UsageError):
        click.echo(f"gate: {exc}", err=True)
    else:
        if debug:
            import traceback

            traceback.print_exc()
        click.echo(f"gate: internal error: {type(exc).__name__}: {clean(exc)}"
                   f"{'' if debug else ' (run with --debug for details)'}", err=True)
    sys.exit(EXIT_ERROR)


def _exit_with(report: Report, failed_writes: int) -> None:
    """The verdict's exit code (2 when an output could not be written), after a final flush that a
    reader who left early (`| head`) cannot turn into an error."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    sys.exit(EXIT_ERROR if failed_writes else report.exit_code)


def _silence_stdout() -> None:
    """After a closed pipe, point stdout at /dev/null so the interpreter's final flush stays quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _timestamp(ctx: click.Context, param: click.Parameter, value: str | None):
    if value is None:
        return None
    import datetime as dt

    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an RFC 3339 time such as 2026-03-23T09:20:00Z") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


@main.command("audit")
@click.option("--kube", is_flag=True, help="Read the live cluster (read-only; Secrets: metadata only; pod env dropped).")
@click.option("--kubeconfig", metavar="FILE", help="Kubeconfig for --kube (default: in-cluster, $KUBECONFIG, "
                                                   "~/.kube/config).")
@click.option("--context", "kube_context", metavar="NAME", help="Kubeconfig context for --kube.")
@click.option("--cluster-state", "cluster_state", multiple=True, metavar="PATH",
              help="Snapshot files or folders (kubectl get ... -A -o yaml) instead of --kube; repeatable.")
@click.option("--namespace", "namespaces", multiple=True, metavar="NS",
              help="Audit only these namespaces (Gateways and controllers are read everywhere); repeatable.")
@click.option("--policy", metavar="FILE", help="Policy file (default: ./.gate.yaml when present).")
@click.option("--format", "formats", metavar="FMT[=PATH]", multiple=True,
              help=f"Output format ({', '.join(FORMATS)}), to stdout or to PATH; repeatable.")
@click.option("--runbook", metavar="FILE", help="Write the recovery steps for what was found to FILE, as a bash "
                                                "script to review and run by hand (the gate never runs it).")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="error", show_default=True,
              help="Lowest severity that fails the audit.")
@click.option("--include", multiple=True, metavar="ID", help="Run only these audit checks; repeatable.")
@click.option("--exclude", multiple=True, metavar="ID", help="Skip these audit checks; repeatable.")
@click.option("--now", callback=_timestamp, metavar="TIME",
              help="The audit's clock (RFC 3339, e.g. 2026-03-23T09:20:00Z), for snapshots and tests; default: now.")
@click.option("--max-file-size", type=click.IntRange(min=1), default=64, show_default=True, metavar="MIB",
              help="Larger snapshot files are reported, not read.")
@click.option("-v", "--verbose", is_flag=True, help="Text: every line of every service and every finding.")
@click.option("-q", "--quiet", is_flag=True, help="Text: only failing lines and the verdict.")
@click.option("--progress", is_flag=True, help="Show progress on stderr even when it is not a terminal.")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
def audit_command(kube: bool, kubeconfig: str | None, kube_context: str | None, cluster_state: tuple[str, ...],
                  namespaces: tuple[str, ...], policy: str | None, formats: tuple[str, ...], runbook: str | None,
                  fail_on: str, include: tuple[str, ...], exclude: tuple[str, ...], now, max_file_size: int,
                  verbose: bool, quiet: bool, progress: bool, debug: bool) -> None:
    """Audit the live cluster (or snapshots of it) for the incident's signs: leaked and orphaned solver
    routes, stuck Challenges, Certificates not Ready, unresolved listeners, Gateways and routes not accepted."""
    from gate.audit.run import audit
    from gate.audit.runbook import runbook as write_runbook

    outputs = [parse_format(f) for f in formats]
    if verbose and quiet:
        raise click.UsageError("--verbose and --quiet contradict each other; give one")
    if not any(path is None for _, path in outputs):
        outputs.insert(0, ("text", None))
    config = RunConfig(
        policy=policy, fail_on=fail_on, include=include, exclude=exclude, now=now,
        max_file_bytes=max_file_size * 1024 * 1024, audit=AuditOptions(namespaces=namespaces),
        cluster=ClusterOptions(state_paths=cluster_state, kube=kube, kubeconfig=kubeconfig, context=kube_context),
    )
    meter = Progress(sys.stderr, enabled=progress or sys.stderr.isatty())
    try:
        with meter:
            result = audit(config, progress=meter)
        report = result.report
        failed_writes = write_outputs(report, outputs, verbose=verbose, quiet=quiet)
        if runbook:
            try:
                Path(runbook).write_text(write_runbook(result, config), encoding="utf-8")
            except OSError as exc:
                click.echo(f"gate: cannot write {clean(runbook)}: {clean(exc.strerror or exc)}", err=True)
                failed_writes += 1
    except BrokenPipeError:
        _silence_stdout()
        sys.exit(report.exit_code if "report" in locals() else EXIT_ERROR)
    except Exception as exc:  # noqa: BLE001 - a gate never dies with a bare traceback
        _exit_on_error(exc, debug)
    for error in report.errors:
        click.echo(f"gate: {clean(error)}", err=True)
    _exit_with(report, failed_writes)


@main.command("checks")
@click.option("--format", "fmt", type=click.Choice(sorted(CATALOGUE_FORMATS)), default="text", show_default=True)
def list_checks(fmt: str) -> None:
    """List every check: id, default severity, title, why it matters, remediation; `gate check`'s first,
    then `gate audit`'s (marked audit)."""
    from gate.checks import AUDIT_CHECKS, CHECKS

    click.echo(CATALOGUE_FORMATS[fmt]([*CHECKS.values(), *AUDIT_CHECKS.values()]), nl=False)


@main.group()
def policy() -> None:
    """Work with policy files."""


@policy.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
def validate_policy(file: str) -> None:
    """Validate a policy file against the shipped schema (exit 2 when invalid)."""
    from gate.checks import ALL_CHECK_IDS
    from gate.policy import PolicyError, load_policy

    try:
        load_policy(file, ALL_CHECK_IDS)
    except PolicyError as exc:
        click.echo(f"gate: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    click.echo(f"{file}: valid")


if __name__ == "__main__":  # pragma: no cover
    main()
