"""Container images: every image the render deploys must exist in its registry.

The incident's backend image had not been pushed yet. The images are those of every container,
init container and ephemeral container of Pods and of workload pod templates (`gate.domain.kube`); each
distinct normalised reference is asked once (the `registry` probe), and findings attach to the
workload with `image=<reference as written>`.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, Any

from gate.checks.base import Check, Context, Hit, collector
from gate.domain.imageref import ImageRef, InvalidReference, parse
from gate.domain.kube import WORKLOAD_TEMPLATE_PATHS, as_list, containers, dig
from gate.model import Resource
from gate.probes.base import Probe, ProbeName

if TYPE_CHECKING:
    from gate.probes import registry as reg

CHECKS: list[Check] = []
check = collector(CHECKS)


@cache
def registry() -> ModuleType:
    """gate.probes.registry, imported when a run asks registries or reads their answers: it brings httpx,
    its TLS stack and asyncio, which an offline run (a pre-commit hook's) would otherwise pay for at start-up."""
    from gate.probes import registry as client

    return client


@cache
def unverifiable_causes() -> dict[str, str]:
    """Registry outcome -> the cause a could-not-verify finding names."""
    reg = registry()
    return {
        reg.UNAVAILABLE: "registry unavailable",
        reg.AUTHENTICATION: "authentication failed",
        reg.AUTHORIZATION: "not authorised",
        reg.BAD_FORMAT: "bad answer format",
        reg.RATE_LIMITED: "rate limited",
    }


def container_images(ctx: Context) -> Iterator[tuple[Resource, str, str, Any]]:
    """(workload, container field, container name, image as written) for every rendered container."""
    for workload in ctx.index.workloads():
        for fieldname, container in containers(workload):
            yield workload, fieldname, str(container.get("name") or "?"), container.get("image")


def parsed_images(ctx: Context) -> Iterator[tuple[Resource, str, str, Any, ImageRef | InvalidReference]]:
    for workload, fieldname, name, image in container_images(ctx):
        try:
            yield workload, fieldname, name, image, parse(image)
        except InvalidReference as exc:
            yield workload, fieldname, name, image, exc


def _hit(workload: Resource, fieldname: str, name: str, image: Any, text: str, **extra: Any) -> Hit:
    return Hit(workload, f"{fieldname} {name!r}: {text}", image=str(image),
               path=container_path(workload, fieldname, name), **extra)


def container_path(workload: Resource, fieldname: str, name: str) -> tuple[str | int, ...] | None:
    """Where the named container sits in the workload, e.g. spec.template.spec.containers[1]."""
    template = () if workload.kind == "Pod" else WORKLOAD_TEMPLATE_PATHS.get(workload.kind)
    if template is None:
        return None
    found = as_list(dig(workload.body, *template, "spec", fieldname))
    position = next((i for i, c in enumerate(found) if isinstance(c, dict) and c.get("name") == name), None)
    return None if position is None else (*template, "spec", fieldname, position)


# -- the registry probe --------------------------------------------------------------------------

def settings_from(ctx: Context) -> reg.RegistrySettings:
    policy = ctx.option("registries")
    insecure = {*(policy.get("insecure") or ()), *ctx.config.registry.insecure}
    auth_hosts = {host: frozenset(entry.get("authHosts") or ()) for host, entry in policy.items()
                  if isinstance(entry, dict)}
    # Index bodies are fetched only when a platform is required and its check runs.
    platforms = tuple(policy.get("platforms") or ()) if "image-platform-missing" in ctx.selected else ()
    deadline = float(policy["deadline"])  # validated by the schema: 0 < deadline <= 600
    reg = registry()
    return reg.RegistrySettings(insecure=frozenset(h.lower() for h in insecure), auth_hosts=auth_hosts,
                                platforms=platforms, deadline=deadline,
                                timeout=min(reg.RegistrySettings.timeout, deadline))


def collect(ctx: Context) -> set[ImageRef]:
    return {ref for *_, ref in parsed_images(ctx) if isinstance(ref, ImageRef)}


async def execute(requests: set[ImageRef], ctx: Context) -> dict[ImageRef, reg.ManifestAnswer]:
    from gate.probes.credentials import CredentialStore

    credentials = CredentialStore(ctx.config.registry.config_path)
    async with registry().RegistryClient(credentials, settings_from(ctx)) as client:
        return await client.check_all(requests, on_answer=ctx.progress.counter("images answered", len(requests)))


PROBES = [Probe(ProbeName.REGISTRY, collect, execute)]


def answered(ctx: Context) -> Iterator[tuple[Resource, str, str, Any, ImageRef, reg.ManifestAnswer]]:
    answers = ctx.probes.get("registry") or {}
    for workload, fieldname, name, image, ref in parsed_images(ctx):
        answer = answers.get(ref) if isinstance(ref, ImageRef) else None
        if answer is not None:
            yield workload, fieldname, name, image, ref, answer


# -- checks --------------------------------------------------------------------------------------

@check("image-reference-invalid", "error", title="Image reference does not parse", item="image",
       why="The API server rejects a Pod without an image, and the kubelet cannot pull a reference that does not parse"
           " (distribution reference grammar).",
       remediation="Fix the image reference: a lowercase repository, a tag of letters, digits, _ . - "
                   "(at most 128), and a digest such as sha256:<64 hex digits>.")
def image_reference_invalid(ctx: Context) -> Iterator[Hit]:
    for workload, fieldname, name, image, ref in parsed_images(ctx):
        if isinstance(ref, InvalidReference):
            if isinstance(image, str) and image:
                yield _hit(workload, fieldname, name, image, f"image {image!r} is not a valid reference: {ref}")
            else:
                yield _hit(workload, fieldname, name, image, "has no image (the API server rejects it)")


@check("image-tag-mutable", "warning", title="Image is not pinned to a tag", item="image",
       why="A tag like latest can move after the gate checked it, so what runs is not what was verified (Kubernetes "
           "image docs: pin a digest).",
       remediation="Deploy a fixed tag or a digest (image@sha256:...) instead of latest, so what was "
                   "checked is what runs.")
def image_tag_mutable(ctx: Context) -> Iterator[Hit]:
    for workload, fieldname, name, image, ref in parsed_images(ctx):
        if isinstance(ref, ImageRef) and ref.mutable:
            how = "has no tag (latest is used)" if ref.tag is None else "uses the tag latest"
            yield _hit(workload, fieldname, name, image, f"image {image} {how}, which can change after the check")


@check("image-not-found", "error", title="Image is missing from its registry", item="image",
       why="Pods whose image is not in the registry stay in ImagePullBackOff and the Service has no endpoints; in the "
           "incident the backend image had not been pushed (OCI distribution spec: HEAD manifests).",
       probe="registry",
       remediation="Push the image (or fix the tag or digest) before deploying; the registry must "
                   "serve the manifest when the Pods start.")
def image_not_found(ctx: Context) -> Iterator[Hit]:
    for workload, fieldname, name, image, ref, answer in answered(ctx):
        if answer.outcome == registry().ABSENT:
            yield _hit(workload, fieldname, name, image, f"image {ref} not found: {answer.detail}")


@check("image-unverifiable", "error", title="Image presence could not be verified", item="image",
       options=("registries.onUnverifiable",),
       why="A registry that could not answer (unreachable, authentication, rate limit, bad answer) says nothing about "
           "the image: the gate reports could-not-verify rather than a pass.",
       probe="registry",
       remediation="Make the registry reachable and give the gate pull credentials (--registry-config, "
                   "DOCKER_AUTH_CONFIG), or set registries.onUnverifiable in the policy.")
def image_unverifiable(ctx: Context) -> Iterator[Hit]:
    severity = ctx.option("registries.onUnverifiable")
    for workload, fieldname, name, image, ref, answer in answered(ctx):
        cause = unverifiable_causes().get(answer.outcome)
        if cause is not None:
            yield _hit(workload, fieldname, name, image, f"could not verify image {ref} ({cause}): {answer.detail}",
                       unverified=True, severity=severity)


@check("image-platform-missing", "warning", title="Image index lacks a required platform", item="image",
       options=("registries.platforms",),
       why="A multi-platform image index without the nodes' platform fails to pull on those nodes (no matching "
           "manifest for linux/arm64) (OCI image index spec).",
       probe="registry",
       remediation="Build and push the image for every platform in registries.platforms (for example "
                   "docker buildx build --platform linux/amd64,linux/arm64 --push), or adjust the policy.")
def image_platform_missing(ctx: Context) -> Iterator[Hit]:
    required = ctx.option("registries.platforms") or []
    for workload, fieldname, name, image, ref, answer in answered(ctx):
        if not answer.found:
            continue
        if answer.platform_problem:
            yield _hit(workload, fieldname, name, image, f"could not read the platforms of image {ref}: "
                       f"{answer.platform_problem}", unverified=True)
        elif answer.platforms is not None:
            missing = [p for p in required if not registry().platform_matches(p, answer.platforms)]
            if missing:
                yield _hit(workload, fieldname, name, image,
                           f"image {ref} is an index without {', '.join(missing)} "
                           f"(it has: {', '.join(answer.platforms) or 'none'})")
