# gatekeeper: a policy gate in front of an OCI registry.
#
# The base is pinned by tag AND digest; change both together (the digest is what is used).
# Refresh: skopeo inspect --raw docker://python:3.11-slim-bookworm | sha256sum
# `make image` builds with a local Debian bookworm base instead (scripts/build_image.py).
ARG BASE=docker.io/library/python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91

FROM ${BASE} AS build
# PIP_NO_INDEX=1: install only from wheels/ (resolved outside the build from the lock file).
ARG PIP_NO_INDEX
ENV PIP_FIND_LINKS=/wheels PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY wheels/ /wheels/
COPY requirements/runtime.txt requirements/runtime.txt
RUN python3 -m venv /opt/gatekeeper \
 && /opt/gatekeeper/bin/pip install --require-hashes --only-binary=:all: -r requirements/runtime.txt
COPY pyproject.toml README.md LICENSE ./
COPY gatekeeper ./gatekeeper
# Built from this source (its build backend, setuptools, from wheels/ or the index); pip itself
# leaves the runtime venv.
RUN /opt/gatekeeper/bin/pip install --no-deps . \
 && /opt/gatekeeper/bin/pip uninstall -y -q pip \
 && /opt/gatekeeper/bin/gatekeeper --version

FROM ${BASE}
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=https://example.invalid/gatekeeper
ARG BASE
LABEL org.opencontainers.image.title="gatekeeper" \
      org.opencontainers.image.description="Admits or refuses every pull and push of an OCI registry by policy" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${BASE}"
# Read-only root ready: nothing is written at run time (no bytecode, no caches); the
# decision log goes to stdout unless GATEKEEPER_DECISION_LOG names a mounted volume.
ENV PATH=/opt/gatekeeper/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    GATEKEEPER_LISTEN=0.0.0.0:5000 GATEKEEPER_POLICY=/etc/gatekeeper/policy
COPY --from=build /opt/gatekeeper /opt/gatekeeper
# No default policy: mount yours at /etc/gatekeeper/policy (a file or directory).
# Starting without one fails closed.
USER 10001:10001
EXPOSE 5000
# Follows GATEKEEPER_LISTEN and GATEKEEPER_TLS_CERT, like `serve`.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["gatekeeper", "healthcheck"]
ENTRYPOINT ["gatekeeper"]
CMD ["serve"]
