package bridge

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/rest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// A scraper that asks for gzip, as Prometheus does, gets the metrics
// uncompressed, and a filter the endpoint already had (the HTTPS one's
// authorization) still decides first.
func TestMetricsAreServedUncompressed(t *testing.T) {
	registry := prometheus.NewRegistry()
	counter := prometheus.NewCounter(prometheus.CounterOpts{Name: "eso_bridge_example_total", Help: "An example."})
	registry.MustRegister(counter)
	counter.Inc()
	// The handler controller-runtime's metrics server builds.
	metrics := promhttp.HandlerFor(registry, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})
	refuseWithoutToken := func(*rest.Config, *http.Client) (metricsserver.Filter, error) {
		return func(_ logr.Logger, next http.Handler) (http.Handler, error) {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") == "" {
					http.Error(w, "no token", http.StatusUnauthorized)
					return
				}
				next.ServeHTTP(w, r)
			}), nil
		}, nil
	}
	for name, provider := range map[string]func(*rest.Config, *http.Client) (metricsserver.Filter, error){
		"plain": nil, "behind a filter": refuseWithoutToken,
	} {
		t.Run(name, func(t *testing.T) {
			filter, err := uncompressed(provider)(nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			handler, err := filter(logr.Discard(), metrics)
			if err != nil {
				t.Fatal(err)
			}
			request := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			request.Header.Set("Accept-Encoding", "gzip")
			request.Header.Set("Authorization", "Bearer a-token")
			response := httptest.NewRecorder()
			handler.ServeHTTP(response, request)
			body, _ := io.ReadAll(response.Body)
			if response.Code != http.StatusOK || response.Header().Get("Content-Encoding") != "" || !strings.Contains(string(body), "eso_bridge_example_total 1") {
				t.Errorf("got %d, Content-Encoding %q, body %.200q; want 200, none, the counter", response.Code, response.Header().Get("Content-Encoding"), body)
			}
			if request.Header.Get("Accept-Encoding") != "gzip" {
				t.Error("the filter changed the caller's request")
			}
			if provider != nil {
				request.Header.Del("Authorization")
				response = httptest.NewRecorder()
				handler.ServeHTTP(response, request)
				if response.Code != http.StatusUnauthorized {
					t.Errorf("without a token: %d, want the inner filter's 401", response.Code)
				}
			}
		})
	}
}
