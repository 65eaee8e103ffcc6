package inprocess_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// otlpReceiver is an OTLP/HTTP trace endpoint on loopback that keeps the
// names of the spans it receives, as a collector would see them.
type otlpReceiver struct {
	URL string

	mu    sync.Mutex
	spans map[string]int
	// services are the service.name resource attributes seen.
	services map[string]bool
}

func startOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	r := &otlpReceiver{spans: map[string]int{}, services: map[string]bool{}}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		var export collectortrace.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &export)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		for _, rs := range export.GetResourceSpans() {
			for _, attr := range rs.GetResource().GetAttributes() {
				if attr.GetKey() == "service.name" {
					r.services[attr.GetValue().GetStringValue()] = true
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, span := range ss.GetSpans() {
					r.spans[span.GetName()]++
				}
			}
		}
		r.mu.Unlock()
		reply, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(reply)
	})
	server := &http.Server{Handler: mux}
	go func() { _ = server.Serve(listener) }()
	t.Cleanup(func() { _ = server.Close() })
	r.URL = "http://" + listener.Addr().String()
	return r
}

func (r *otlpReceiver) count(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.spans[name]
}

// With only the standard OTEL_EXPORTER_OTLP_ENDPOINT set, a rotation's spans
// reach an OTLP/HTTP collector, under service.name eso-bridge.
func TestSpansReachAnOTLPCollectorFromTheStandardVariables(t *testing.T) {
	collector := startOTLPReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
	s := harness.NewScenario(t)
	s.ExternalSecret("db", "v1", rolloutAuto)
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "db")
	s.StartBridgeWith(harness.TestOptions(), withAWS(s))
	s.WaitAdopted(api)
	letPollerLook()

	if _, err := s.CP.SecretsManager.PutValue(s.Ctx, s.RemoteKey("db"), "v2"); err != nil {
		t.Fatal(err)
	}
	s.ExpectRestarts(api, 1)
	s.WaitFor("the rotation's spans at the collector", func() (bool, string) {
		got := map[string]int{}
		for _, name := range []string{"secret.rotation", "eso.refresh", "workload.rollout"} {
			got[name] = collector.count(name)
		}
		return got["secret.rotation"] == 1 && got["eso.refresh"] == 1 && got["workload.rollout"] == 1, fmt.Sprint(got)
	})
	collector.mu.Lock()
	defer collector.mu.Unlock()
	if !collector.services["eso-bridge"] {
		t.Errorf("service.name of the spans: %v, want eso-bridge", collector.services)
	}
}
