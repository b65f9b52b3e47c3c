# leadstatus as a container image.
#
#   docker build -t leadstatus .
#   docker run -p 8000:8000 -e DATABASE_URL=postgresql://USER:PASSWORD@HOST:5432/DB leadstatus
#
# The image REQUIRES DATABASE_URL (postgresql://...). The embedded PostgreSQL that
# `leadstatus serve` starts when DATABASE_URL is unset is a development convenience only; the
# container refuses to start without the variable instead of falling back to it.
#
# On start the container migrates the schema (`leadstatus migrate`, alembic upgrade head; replicas
# starting together take turns via an advisory lock), then serves on port 8000.

# ---------------------------------------------------------------------------------------------
# builder: a self-contained virtualenv with leadstatus and its dependencies.
# Same base image as the runtime, so the venv's interpreter path (/usr/local/bin/python3)
# is the same in both stages.
FROM python:3.12-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# pyproject.toml names README.md as the package's readme, so the build needs it.
COPY pyproject.toml README.md ./
COPY app/ app/
# A regular (non-editable) install: the code lands in the venv's site-packages, /src is left behind.
# With the `nats` extra (pure Python), so LEADSTATUS_NATS_URL works in the image as it is.
RUN pip install --upgrade pip \
 && pip install '.[nats]' \
 && pip check

# ---------------------------------------------------------------------------------------------
# runtime: the venv plus the migrations, run as an unprivileged user.
FROM python:3.12-slim AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN groupadd --system --gid 10001 leadstatus \
 && useradd --system --no-log-init --uid 10001 --gid leadstatus \
        --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin leadstatus

COPY --from=builder /opt/venv /opt/venv

# app/cli/main.py looks for alembic.ini next to the package (only true for an editable install from a
# checkout) and then in the current directory: in this image it is the latter, so the migrations
# live in the working directory the commands run from. Owned by root: the app only reads them.
WORKDIR /srv/leadstatus
COPY alembic.ini ./
COPY alembic/ alembic/

# Numeric, so that orchestrators can verify runAsNonRoot.
USER 10001:10001

EXPOSE 8000

# /healthz is liveness only (the database is not consulted; /readyz is the readiness probe).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# Fail fast without DATABASE_URL; migrate; then exec, so that the server is PID 1 and receives
# SIGTERM from `docker stop` directly.
CMD ["sh", "-c", ": \"${DATABASE_URL:?the image requires DATABASE_URL=postgresql://... (the embedded PostgreSQL is for development only)}\" && leadstatus migrate && exec leadstatus serve --host 0.0.0.0 --port 8000"]
