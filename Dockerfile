# Multi-stage build of baton-runner with the Segment guest embedded.
#   docker build -t baton-runner .
# The result is a static, non-root image; the compilation cache directory is
# writable so compiled guest modules survive restarts when it is a volume.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN make guest \
 && cp bin/segment.wasm cmd/baton-runner/guests/segment.wasm \
 && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/baton-runner ./cmd/baton-runner \
 && mkdir -p /out/cache/wazero /out/tmp

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/baton-runner /baton-runner
COPY --from=build --chown=65532:65532 /out/cache /cache
COPY --from=build --chown=65532:65532 /out/tmp /tmp
ENV BATON_CACHE_DIR=/cache/wazero
USER 65532:65532
ENTRYPOINT ["/baton-runner"]
