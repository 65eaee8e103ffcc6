package tracing

import (
	"context"
	"strings"
	"testing"
)

func TestTracingIsOffWithoutTheStandardVariables(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	provider, err := Options{}.Provider(context.Background())
	if err != nil || provider != nil {
		t.Errorf("with no OTEL_EXPORTER_OTLP_* variable: provider %v, error %v; want tracing off", provider, err)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
	t.Setenv("OTEL_SDK_DISABLED", "true")
	if provider, err := (Options{}).Provider(context.Background()); err != nil || provider != nil {
		t.Errorf("with OTEL_SDK_DISABLED=true: provider %v, error %v; want tracing off", provider, err)
	}
}

func TestUnknownOTLPProtocolIsAClearError(t *testing.T) {
	t.Setenv("OTEL_SDK_DISABLED", "")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
	_, err := Options{}.Provider(context.Background())
	if err == nil || !strings.Contains(err.Error(), "http/json") || !strings.Contains(err.Error(), "grpc") {
		t.Errorf("error %v, want one naming the protocol and the supported ones", err)
	}
}
