# stelloloxon-bot: the daemon as an unprivileged user, its state in the /data volume.
# Build: docker build -t stelloloxon-bot .   (compose.yaml does this for `docker compose up`)
# The base image is pinned by tag; bump PYTHON_IMAGE deliberately (and rebuild) for updates.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
# bot/ carries bot/translations (the .po catalogs), read at run time
COPY bot ./bot
COPY storage ./storage
COPY templates ./templates
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
# /data exists and belongs to bot *before* VOLUME: a new volume is initialised from the
# image's directory, so the database, file store and outbox are writable by the daemon.
RUN useradd --create-home --uid 10001 --user-group bot \
    && mkdir -p /data \
    && chown bot:bot /data \
    && chmod 0750 /data
COPY --from=build /wheels /wheels
COPY constraints.txt /wheels/constraints.txt
# non-editable: the package (code, migrations, templates, intent model) lives in site-packages;
# dependencies at the versions CI tested (constraints.txt)
RUN pip install --no-cache-dir /wheels/*.whl -c /wheels/constraints.txt \
    && rm -rf /wheels
USER bot
WORKDIR /home/bot
ENV STELLOLOXON_DATA_DIR=/data \
    STELLOLOXON_SMTP_HOST=0.0.0.0 \
    STELLOLOXON_DEMO_DATA=false \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
EXPOSE 2525 8025 8026
# database reachable at this release's schema, daemon heartbeat fresh, SMTP listener answers
HEALTHCHECK --interval=30s --timeout=15s --start-period=60s --retries=3 \
    CMD ["stelloloxon-bot", "health"]
CMD ["stelloloxon-bot", "run"]
