# The gate as a container image, for the Argo CD PreSync Job (deploy/argocd/) or any CI:
#   docker build -t REGISTRY/ingress-gate:0.1.0 .
#   docker run --rm -v "$PWD:/work:ro" REGISTRY/ingress-gate:0.1.0 check --offline rendered/
#
# The base is pinned by tag (for readers) and by digest (what docker pulls): the digest of the
# multi-platform python:3.12.12-slim index, so a rebuilt tag cannot change the image underneath.
ARG PYTHON_IMAGE=python:3.12.12-slim@sha256:f3fa41d74a768c2fce8016b98c191ae8c1bacd8f1152870a3f9f87d350920b7c

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gate ./gate
COPY policies ./policies
# A virtualenv copied whole into the final stage: no compilers, sources or pip cache there.
# The `fast` extra is the faster YAML parser (binary wheels for amd64 and arm64).
RUN python -m venv /opt/ingress-gate \
 && /opt/ingress-gate/bin/pip install ".[fast]" \
 && /opt/ingress-gate/bin/gate --version

FROM ${PYTHON_IMAGE}
# A numeric user: Kubernetes can only verify runAsNonRoot against a numeric UID.
RUN groupadd --system --gid 10001 gate \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin gate
COPY --from=build /opt/ingress-gate /opt/ingress-gate
ENV PATH=/opt/ingress-gate/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
USER 10001:10001
WORKDIR /work
ENTRYPOINT ["gate"]
CMD ["--help"]
