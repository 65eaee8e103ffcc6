package tracing

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Options say where the spans of rotations go.
type Options struct {
	// Exporter receives the spans. When nil, the standard
	// OTEL_EXPORTER_OTLP_* variables choose an OTLP exporter, and with none
	// of them set tracing is off.
	Exporter sdktrace.SpanExporter
	// Synchronous exports each span as it ends, for tests; otherwise spans
	// are batched.
	Synchronous bool
}

// Provider builds the provider of opts; nil when tracing is off, at no
// cost: no rotation is read to be traced.
func (opts Options) Provider(ctx context.Context) (*sdktrace.TracerProvider, error) {
	exporter := opts.Exporter
	if exporter == nil {
		var err error
		if exporter, err = otlpExporterFromEnv(ctx); err != nil || exporter == nil {
			return nil, err
		}
	}
	// service.name is eso-bridge unless OTEL_SERVICE_NAME or
	// OTEL_RESOURCE_ATTRIBUTES say otherwise.
	res, err := resource.New(ctx, resource.WithAttributes(attribute.String("service.name", "eso-bridge")), resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("reading OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	export := sdktrace.WithBatcher(exporter)
	if opts.Synchronous {
		export = sdktrace.WithSyncer(exporter)
	}
	return NewTracerProvider(export, sdktrace.WithResource(res)), nil
}

// otlpExporterFromEnv returns an OTLP exporter when OTEL_EXPORTER_OTLP_ENDPOINT
// or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (and OTEL_SDK_DISABLED is not
// true), over the protocol OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL names:
// http/protobuf by default, as the specification says, or grpc. The
// exporters read the other variables (headers, TLS, timeout) themselves.
func otlpExporterFromEnv(ctx context.Context) (sdktrace.SpanExporter, error) {
	if strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true") {
		return nil, nil
	}
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return nil, nil
	}
	protocol := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	switch protocol {
	case "", "http/protobuf":
		return otlptracehttp.New(ctx)
	case "grpc":
		return otlptracegrpc.New(ctx)
	}
	return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL %q is not supported: use http/protobuf or grpc", protocol)
}

// Shutdown flushes the spans still batched, within a bound.
func Shutdown(provider *sdktrace.TracerProvider) {
	if provider == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = provider.Shutdown(ctx)
}
