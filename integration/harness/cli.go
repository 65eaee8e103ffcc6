package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"io"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/eso-bridge/eso-bridge/bridge"
	"github.com/eso-bridge/eso-bridge/bridge/tracing"
	"github.com/eso-bridge/eso-bridge/cmd/eso-bridge/app"
)

// WithSpans runs eso-bridge without a vault provider, every span sent at
// once to spans.
func WithSpans(spans *tracetest.InMemoryExporter) bridge.ManagerOptions {
	return bridge.ManagerOptions{MetricsAddr: "0", HealthAddr: "0", Tracing: tracing.Options{Exporter: spans, Synchronous: true}}
}

// Explain runs `eso-bridge explain` in the scenario's namespace as an admin
// would (with the scenario's digest key), decodes its output into into when
// it is not nil (pass -o json), and returns the output.
func (s *Scenario) Explain(into any, args ...string) string {
	s.T.Helper()
	return s.runCLI(app.Explain, "explain", into, args...)
}

// Trace runs `eso-bridge trace` as Explain runs explain.
func (s *Scenario) Trace(into any, args ...string) string {
	s.T.Helper()
	return s.runCLI(app.Trace, "trace", into, args...)
}

func (s *Scenario) runCLI(command func(ctx context.Context, args []string, stdout, stderr io.Writer) error, name string, into any, args ...string) string {
	s.T.Helper()
	var stdout, stderr bytes.Buffer
	base := []string{"--kubeconfig", s.CP.KubeconfigPath, "--digest-key-secret", s.NS + "/" + bridge.DefaultDigestKeySecret, "-n", s.NS}
	if err := command(s.Ctx, append(base, args...), &stdout, &stderr); err != nil {
		s.T.Fatalf("eso-bridge %s %v: %v\n%s", name, args, err, stderr.String())
	}
	if into != nil {
		if err := json.Unmarshal(stdout.Bytes(), into); err != nil {
			s.T.Fatalf("eso-bridge %s -o json does not parse: %v\n%s", name, err, stdout.String())
		}
	}
	return stdout.String()
}
