# gatekeeper: a policy gate in front of an OCI registry.
# Multi-stage: build a wheel, install it into a slim runtime as a non-root user.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gatekeeper ./gatekeeper
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="gatekeeper" \
      org.opencontainers.image.description="Admits or refuses every pull and push of an OCI registry by policy" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    GATEKEEPER_LISTEN=0.0.0.0:5000 GATEKEEPER_POLICY=/etc/gatekeeper/policy
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
 && groupadd --system --gid 10001 gatekeeper \
 && useradd --system --uid 10001 --gid gatekeeper --no-create-home --shell /usr/sbin/nologin gatekeeper
# No default policy: mount yours at /etc/gatekeeper/policy (a file or directory).
# Starting without one fails closed.
USER 10001:10001
EXPOSE 5000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:5000/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["gatekeeper"]
CMD ["serve"]
