# One image, three programs: /worker (the entrypoint), /starter and /sandbox.
# docker-compose.yml runs each service from this image with its own
# entrypoint, so the worker and the local ChartMogul it talks to are always
# the same build.
#
# The instructions avoid BuildKit-only syntax (RUN --mount, heredocs) so that
# every builder builds it, the legacy one behind Compose v1 included.

# The exact patch release go.mod asks for, so the build never downloads a
# toolchain.
FROM golang:1.26.8-bookworm AS build
WORKDIR /src

# Modules change far less often than code: their own layer is reused until
# go.mod or go.sum changes.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

COPY . .
# CGO_ENABLED=0: the final image has no C library. Nothing needs cgo: the
# sandbox's SQLite is modernc.org/sqlite (pure Go), PostgreSQL is pgx and
# lib/pq, and net and os/user have pure-Go fallbacks.
ENV CGO_ENABLED=0
RUN go build -trimpath -ldflags="-s -w" -o /out/worker ./worker \
 && go build -trimpath -ldflags="-s -w" -o /out/starter ./starter \
 && go build -trimpath -ldflags="-s -w" -o /out/sandbox ./sandbox \
 && mkdir -p /out/data

# distroless/static: CA certificates (for https://api.chartmogul.com), tzdata
# and /tmp, no shell, no package manager, and a non-root user (uid 65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/worker /out/starter /out/sandbox /
# /data is where the sandbox keeps its SQLite file. It must exist in the
# image, owned by the non-root user: Docker initialises a new named volume
# from the image's directory, ownership included, and a root-owned /data
# would leave the sandbox unable to create its database.
COPY --from=build --chown=65532:65532 /out/data /data
USER nonroot:nonroot
# Ports: 9090 is the worker's metrics (RECUR_METRICS_ADDR), 8080 the sandbox.
EXPOSE 8080 9090
ENTRYPOINT ["/worker"]
