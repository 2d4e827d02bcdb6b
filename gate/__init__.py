"""ingress-gate: a pre-deployment gate for HTTPS services on Kubernetes."""

__version__ = "0.1.0"
