"""The input itself: documents that cannot be used, duplicate objects, broken suppressions."""

from __future__ import annotations

from collections.abc import Iterator

from gate.checks.base import Check, Context, Hit, collector
from gate.policy.decisions import IGNORE_PREFIX, suppression_annotations
from gate.sources.documents import ProblemKind

CHECKS: list[Check] = []
check = collector(CHECKS)


@check("manifest-invalid", "error",
       why="kubectl and Argo CD refuse a document that does not parse or is not a Kubernetes object, and the whole "
           "sync fails with it.",
       title="A document does not parse or is not a Kubernetes object",
       remediation="Fix the document at the given line (render Helm charts with `helm template` first); "
                   "the other documents are still checked.")
def manifest_invalid(ctx: Context) -> Iterator[Hit]:
    return _load_problems(ctx, ProblemKind.INVALID)


@check("manifest-duplicate-key", "error",
       why="PyYAML silently keeps the last of two equal keys while kubectl and Argo CD (sigs.k8s.io/yaml, strict) "
           "refuse the document with \"mapping key already defined\": what a reviewer reads is not what is applied.",
       title="A mapping has the same key twice",
       remediation="Keep one of the two keys: YAML libraries silently keep the last value, while kubectl and "
                   "Argo CD refuse the whole document.")
def manifest_duplicate_key(ctx: Context) -> Iterator[Hit]:
    return _load_problems(ctx, ProblemKind.DUPLICATE_KEY)


def _load_problems(ctx: Context, kind: ProblemKind) -> Iterator[Hit]:
    for problem in ctx.load_problems:
        if problem.kind == kind:
            yield Hit(None, problem.message, file=problem.file, line=problem.line, source=problem.source)


@check("input-empty", "error",
       why="A gate that reads no Kubernetes object checks nothing: an empty render (a failed `helm template` piped "
           "in, a folder of values files) would otherwise pass and let whatever it should have held go out "
           "unchecked.",
       title="The input holds no Kubernetes object",
       remediation="Pass the rendered manifests (the output of `helm template` or `kustomize build`), not the "
                   "chart or its values; check that the command feeding the gate did not fail.")
def input_empty(ctx: Context) -> Iterator[Hit]:
    if ctx.index.resources:
        return
    inputs = ctx.inputs
    read = f"{inputs.files} file{'s' * (inputs.files != 1)}, {inputs.documents} document{'s' * (inputs.documents != 1)}"
    problems = [p for p in ctx.load_problems if p.kind == ProblemKind.INVALID]
    details = []
    if inputs.skipped:
        reasons = ", ".join(dict.fromkeys(reason for _, _, reason in inputs.skipped[:20]))
        details.append(f"{len(inputs.skipped)} not a Kubernetes object ({reasons})")
    if problems:
        details.append(f"{len(problems)} that could not be read (manifest-invalid)")
    where = inputs.skipped[0][:2] if inputs.skipped else (problems[0].file, problems[0].line) if problems \
        else (inputs.first_input or "<input>", 1)
    yield Hit(None, f"no Kubernetes object to check: read {read}{': ' if details else ''}{'; '.join(details)}",
              file=where[0], line=where[1])


@check("manifest-duplicate", "error",
       why="Two objects with the same group, kind, namespace and name are one object to the API server: the later copy"
           " replaces the earlier when applied, and Argo CD reports a shared-resource warning.",
       title="The same object is defined twice",
       remediation="Keep one definition per apiVersion group, kind, namespace and name; the later copy "
                   "silently replaces the earlier one when applied.")
def manifest_duplicate(ctx: Context) -> Iterator[Hit]:
    for earlier, later in ctx.index.duplicates:
        yield Hit(later, f"{later.ref} is defined twice, at {earlier.location} and here: kubectl and Argo CD "
                         f"apply both, so this later copy replaces the one at {earlier.location}, and the "
                         f"checks judge this copy")


@check("suppression-invalid", "warning",
       why="A suppression without a reason, or for an unknown check id, silences nothing: the gate says so instead of "
           "pretending a finding was reviewed.",
       title="A suppression annotation has no reason or names an unknown check",
       remediation=f'Write `{IGNORE_PREFIX}<check-id>: "<why this is safe>"` with a known check id and a '
                   f"non-empty reason; without one the check is not silenced.")
def suppression_invalid(ctx: Context) -> Iterator[Hit]:
    known = ctx.check_ids
    for resource in ctx.index.resources:
        for where, check_id, reason in suppression_annotations(resource):
            if check_id not in known:
                yield Hit(resource, f"{where} silences '{check_id}', which is not a check id")
            elif not reason:
                yield Hit(resource, f"{where} silences '{check_id}' without a reason; the check still applies")


@check("exemption-expired", "warning",
       why="An exemption past its expires date no longer applies; the finding it covered is back, and the policy "
           "should say why or drop it.",
       title="A policy exemption is past its expiry date",
       remediation="Fix what the exemption covered, or renew it with a new `expires` date and a reason.")
def exemption_expired(ctx: Context) -> Iterator[Hit]:
    for file, line, message in ctx.expired_exemptions:
        yield Hit(None, message, file=file, line=line)
