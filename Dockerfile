# syntax=docker/dockerfile:1
# gatekeep: one static binary on distroless, as a non-root user.
#   make image                      (docker or podman; IMAGE=... to name it)
#   docker run --rm -v "$PWD:/src" -w /src IMAGE check .
# The chart runs it as "gatekeep serve".
ARG GO_VERSION=1.26.8

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=readonly
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS TARGETARCH
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION}" -o /out/gatekeep ./cmd/gatekeep

# static: no libc, no shell; CA certificates and tzdata only. Pin it by
# digest in release builds (FROM gcr.io/distroless/static-debian12:nonroot@sha256:...).
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="gatekeep" \
      org.opencontainers.image.description="Kubernetes policy checks in CI and as an admission webhook" \
      org.opencontainers.image.source="https://github.com/gatekeep-dev/gatekeep" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/gatekeep /gatekeep
# 65532 is distroless's "nonroot"; numeric, so that runAsNonRoot can check it.
USER 65532:65532
EXPOSE 8443 8081 8080
ENTRYPOINT ["/gatekeep"]
CMD ["serve"]
