# The corridor node image: `customs-broker` on python:3.11-slim, run as an unprivileged user.
# docker-compose.yml runs it as the one-shot set-up and as the four demo nodes; deploy/k8s/ as
# the node Deployments. Build: docker build -t ilstc-customs-broker:0.1.0 .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CUSTOMS_METRICS_HOST=0.0.0.0
# CUSTOMS_METRICS_HOST: /metrics, /healthz and /readyz must answer Prometheus and the kubelet
# from outside the container (broker/metrics.py listens on loopback otherwise).

# A fixed numeric uid/gid: Kubernetes' runAsUser/fsGroup and volume ownership refer to it.
RUN groupadd --system --gid 10001 customs \
 && useradd --system --uid 10001 --gid customs --home-dir /app --shell /usr/sbin/nologin customs

WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY deploy/nodes ./deploy/nodes
COPY deploy/corridor.toml ./deploy/corridor.toml
COPY broker ./broker
# Editable install on purpose: the package reads schemas/ and deploy/nodes/ beside itself
# (broker/codec/schemas.py, broker/demo/setup.py), so /app keeps the repository's layout.
# .state/ is where deploy/nodes/*.toml keep keys, ledgers and gateway folders: a volume.
RUN pip install -e . \
 && mkdir -p /app/.state \
 && chown customs:customs /app/.state

USER 10001:10001
VOLUME ["/app/.state"]
EXPOSE 9464-9478
ENTRYPOINT ["customs-broker"]
CMD ["--help"]
