"""cert-manager's own configuration: its version and whether its Gateway API support is on.

With the `gatewayHTTPRoute` solver and Gateway API support off (`--enable-gateway-api` absent, or
`enableGatewayAPI: false` in the ControllerConfiguration that Helm's `config:` renders), cert-manager
before v1.15.2 never starts its HTTPRoute lister, so every self-check round (every 10 s) creates one
more solver HTTPRoute: the incident's 22,514 routes (cert-manager #7176, fixed by PR #7178 in v1.15.2
and v1.16.0). From v1.15.2 the Challenge stays pending with "gateway api is not enabled". v1.20.0
also loops on a solver route with two parentRefs to one Gateway and no sectionName, which the CRD
rejects (#8634, fixed in v1.20.1).

Where the configuration comes from, first that names it wins: the policy `certManager`, then the
cert-manager controller Deployment in view (the render or the cluster state: its image tag, its
args, and the config file of `--config` when that is a ConfigMap in view).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass

import yaml

from gate.domain.controllers import Version, parse_version, show_version
from gate.domain.kube import as_dict, as_list, containers, dig, pod_template
from gate.model import Resource

CONTROLLER_IMAGE = "cert-manager-controller"
LEAK_FIXED = (1, 15, 2)  # PR #7178: one solver route per Challenge, extras deleted
PARENT_REFS_LOOP = ((1, 20, 0), (1, 20, 1))  # #8634
GATEWAY_API_FLAG = "--enable-gateway-api"
MAX_CONFIG_BYTES = 64 * 1024


@dataclass(frozen=True)
class CertManagerConfig:
    version: Version | None
    gateway_api: bool | None  # None: not known
    source: str  # for messages: "policy certManager", "Deployment cert-manager/cert-manager"

    def describe(self) -> str:
        version = f" v{show_version(self.version)}" if self.version else ""
        return f"cert-manager{version} ({self.source})"

    @property
    def leaks_solver_routes(self) -> bool | None:
        """True: each self-check round creates a new solver HTTPRoute; None: the version is not known."""
        return None if self.version is None else self.version < LEAK_FIXED

    @property
    def loops_on_duplicate_parent_refs(self) -> bool:
        return self.version is not None and PARENT_REFS_LOOP[0] <= self.version < PARENT_REFS_LOOP[1]


def from_policy(value: object) -> CertManagerConfig | None:
    """Policy `certManager: {version: "1.15.1", gatewayAPI: false}`; None when the policy says nothing."""
    if not isinstance(value, dict) or not value:
        return None
    gateway_api = value.get("gatewayAPI")
    return CertManagerConfig(parse_version(value.get("version")),
                             gateway_api if isinstance(gateway_api, bool) else None, "policy certManager")


def is_controller(workload: Resource) -> bool:
    return workload.kind == "Deployment" and any(
        _image_name(c.get("image")) == CONTROLLER_IMAGE for _, c in containers(workload))


def detect(workloads: Iterable[Resource], config_maps: dict[tuple[str, str], Resource]) -> CertManagerConfig | None:
    """From the cert-manager controller Deployment in view (the first one), or None."""
    for workload in workloads:
        if not is_controller(workload):
            continue
        container = next(c for _, c in containers(workload) if _image_name(c.get("image")) == CONTROLLER_IMAGE)
        version = parse_version(str(container.get("image")).partition("@")[0].rpartition(":")[2])
        args = [str(a) for a in (*as_list(container.get("command"))[1:], *as_list(container.get("args")))]
        gateway_api = _flag(args, GATEWAY_API_FLAG)
        source = f"{workload.ref}"
        if gateway_api is None:
            found = _config_file(workload, container, args, config_maps)
            if found is not None:
                gateway_api, where = found
                source += f", {where}"
        # Without the flag or a config file saying so, the support is off: it is opt-in.
        return CertManagerConfig(version, False if gateway_api is None else gateway_api, source)
    return None


def _image_name(image: object) -> str:
    if not isinstance(image, str):
        return ""
    name = image.partition("@")[0]
    last = name.rsplit("/", 1)[-1]
    return last.partition(":")[0]


def _flag(args: list[str], flag: str) -> bool | None:
    """`--flag`, `--flag=true|false` (Go's pflag booleans); None when absent."""
    value = None
    for arg in args:
        if arg == flag:
            value = True
        elif arg.startswith(flag + "="):
            value = arg.split("=", 1)[1].strip().lower() in ("true", "1", "t", "yes")
    return value


def _config_file(workload: Resource, container: dict, args: list[str],
                 config_maps: dict[tuple[str, str], Resource]) -> tuple[bool | None, str] | None:
    """`enableGatewayAPI` of the ControllerConfiguration `--config` names, when it is a ConfigMap in view."""
    path = next((a.split("=", 1)[1] for a in args if a.startswith("--config=")), None)
    if path is None and "--config" in args and args.index("--config") + 1 < len(args):
        path = args[args.index("--config") + 1]
    if not path:
        return None
    spec = as_dict(dig(pod_template(workload), "spec"))
    volumes = {as_dict(v).get("name"): as_dict(v) for v in as_list(spec.get("volumes"))}
    for mount in as_list(container.get("volumeMounts")):
        mount = as_dict(mount)
        mount_path = str(mount.get("mountPath", "")).rstrip("/")
        if not mount_path or posixpath.dirname(path) != mount_path:
            continue
        name = as_dict(as_dict(volumes.get(mount.get("name"))).get("configMap")).get("name")
        config_map = config_maps.get((workload.namespace, str(name))) if name else None
        if config_map is None:
            return None
        text = as_dict(config_map.body.get("data")).get(mount.get("subPath") or posixpath.basename(path))
        # A small configuration file: anything large or with aliases is not one, and is not expanded.
        if not isinstance(text, str) or len(text) > MAX_CONFIG_BYTES or "*" in text:
            return None
        try:
            document = yaml.safe_load(text)
        except (yaml.YAMLError, ValueError, TypeError, RecursionError):
            return None
        value = as_dict(document).get("enableGatewayAPI")
        return (value if isinstance(value, bool) else None), f"{config_map.ref} enableGatewayAPI"
    return None
