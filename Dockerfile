FROM python:3.11-slim-bookworm
RUN useradd --create-home --uid 10001 bot
WORKDIR /app
COPY pyproject.toml README.md ./
# bot/ carries bot/translations (the .po catalogs), read at run time
COPY bot ./bot
COPY storage ./storage
COPY templates ./templates
RUN pip install --no-cache-dir -e .
USER bot
ENV STELLOLOXON_DATA_DIR=/data \
    STELLOLOXON_SMTP_HOST=0.0.0.0 \
    STELLOLOXON_DEMO_DATA=false
VOLUME ["/data"]
EXPOSE 2525
CMD ["stelloloxon-bot", "run"]
