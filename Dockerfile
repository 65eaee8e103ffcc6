# syntax=docker/dockerfile:1
# The eso-bridge controller image: a static binary on a distroless, non-root base.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/eso-bridge ./cmd/eso-bridge

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/eso-bridge /eso-bridge
USER 65532:65532
ENTRYPOINT ["/eso-bridge"]
