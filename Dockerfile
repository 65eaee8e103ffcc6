# syntax=docker/dockerfile:1
# The eso-bridge controller image: a static binary on a distroless, non-root base.
# Base images are pinned by digest (the tag says what it is, the digest which
# one); Dependabot (.github/dependabot.yml) proposes new digests as commits.
#
# Multi-arch without emulation: the build stage runs on the builder's own
# platform and cross-compiles for the target's (buildx sets TARGETOS and
# TARGETARCH for each platform of --platform linux/amd64,linux/arm64).
FROM --platform=$BUILDPLATFORM golang:1.26@sha256:595c7847cff97c9a9e76f015083c481d26078f961c9c8dca3923132f51fe12f1 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG TARGETOS=linux
ARG TARGETARCH=amd64
# grpcnotrace: gRPC (the OTLP exporter's) leaves out golang.org/x/net/trace, whose
# html/template would make the linker keep every method of every type: a third
# of the binary, and as much memory mapped at run time.
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -tags grpcnotrace -ldflags="-s -w -X main.version=${VERSION}" -o /out/eso-bridge ./cmd/eso-bridge

FROM gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639
COPY --from=build /out/eso-bridge /eso-bridge
USER 65532:65532
ENTRYPOINT ["/eso-bridge"]
