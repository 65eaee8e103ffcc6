package harness

import (
	"io"
	"net"
	"net/http"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// OTLPReceiver is an OTLP/HTTP trace endpoint on loopback that keeps the
// names of the spans it receives, as a collector would see them.
type OTLPReceiver struct {
	// URL is the endpoint, for OTEL_EXPORTER_OTLP_ENDPOINT.
	URL string

	mu       sync.Mutex
	spans    map[string]int
	services map[string]bool
}

// StartOTLPReceiver serves until the test ends.
func StartOTLPReceiver(t testing.TB) *OTLPReceiver {
	t.Helper()
	r := &OTLPReceiver{spans: map[string]int{}, services: map[string]bool{}}
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

// Count is the number of spans named name received so far.
func (r *OTLPReceiver) Count(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.spans[name]
}

// Services are the service.name resource attributes of the spans received.
func (r *OTLPReceiver) Services() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var names []string
	for name := range r.services {
		names = append(names, name)
	}
	return names
}
