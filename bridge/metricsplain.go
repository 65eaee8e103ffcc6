package bridge

import (
	"net/http"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// uncompressed serves the metrics endpoint without compression, around
// the filter provider gives (nil: none). Prometheus asks for gzip, and
// client_golang answers each scrape through a pooled gzip writer that takes
// a megabyte of heap (flate's window and hash tables) and, with a scrape
// every 15 to 60 seconds, is never released; eso-bridge's metrics — none
// per object, most of them controller-runtime's and client-go's histograms
// — are about 130 KB a scrape uncompressed (the chart's RBAC test logs it).
func uncompressed(provider func(*rest.Config, *http.Client) (metricsserver.Filter, error)) func(*rest.Config, *http.Client) (metricsserver.Filter, error) {
	return func(config *rest.Config, client *http.Client) (metricsserver.Filter, error) {
		var inner metricsserver.Filter
		if provider != nil {
			var err error
			if inner, err = provider(config, client); err != nil {
				return nil, err
			}
		}
		return func(log logr.Logger, handler http.Handler) (http.Handler, error) {
			plain := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r = r.Clone(r.Context())
				r.Header.Del("Accept-Encoding")
				handler.ServeHTTP(w, r)
			})
			if inner == nil {
				return plain, nil
			}
			return inner(log, plain)
		}, nil
	}
}
