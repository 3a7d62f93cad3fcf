# syntax=docker/dockerfile:1
#
# Docket's images, one target per process:
#
#   docker build --target worker -t docket-worker .
#   docker build --target api    -t docket-api .
#
# docker-compose.yml builds both. The build stage runs the same `go build`
# commands as the Makefile's build target
# (tools/deploytest/dockerfile_test.go checks that they stay the same).

# Must match the go directive of go.mod (tools/deploytest/dockerfile_test.go
# checks it): the golang images set GOTOOLCHAIN=local and would refuse an
# older one.
ARG GO_VERSION=1.26.8
ARG DEBIAN_RELEASE=bookworm
# The temporal CLI of the admin-tools image that matches the server (1.29.1,
# CLI 1.5.x): the worker image uses it for its health check.
ARG TEMPORAL_ADMIN_TOOLS_IMAGE=temporalio/admin-tools:1.29.1-tctl-1.18.4-cli-1.5.0

FROM ${TEMPORAL_ADMIN_TOOLS_IMAGE} AS temporal-cli

FROM golang:${GO_VERSION}-${DEBIAN_RELEASE} AS build
WORKDIR /src
ENV GOFLAGS=-buildvcs=false
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG BIN=/out
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -o ${BIN}/worker ./worker && \
    go build -o ${BIN}/docket-api ./api/cmd/docket-api && \
    go build -o ${BIN}/starter ./starter

# What both images share: certificates (wordcount fetches https pages, and
# Temporal Cloud is TLS), time zones, curl for health checks, poppler (the
# API counts an upload's pages with it, the worker reads PDFs), an
# unprivileged user, and the data folder whose blobs/ is the default blob
# store (a volume shared by the API and the workers in docker-compose.yml).
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tzdata curl poppler-utils \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin docket \
 && mkdir -p /var/lib/docket/blobs && chown -R docket:docket /var/lib/docket
ENV DOCKET_DATA_DIR=/var/lib/docket

# One worker image for every role (DOCKET_WORKER_ROLES picks them), so it
# carries the document pipeline's OCR: tesseract with its English data
# (poppler is in the runtime stage).
FROM runtime AS worker
RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng \
 && rm -rf /var/lib/apt/lists/*
COPY --from=temporal-cli /usr/local/bin/temporal /usr/local/bin/temporal
COPY --from=build /out/worker /usr/local/bin/worker
USER docket
# SIGTERM lets running activities finish within DOCKET_WORKER_STOP_TIMEOUT.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/worker"]

# The API holds no state; run as many replicas as the load needs.
FROM runtime AS api
COPY --from=build /out/docket-api /out/starter /usr/local/bin/
USER docket
ENV DOCKET_HTTP_ADDR=:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/docket-api"]
