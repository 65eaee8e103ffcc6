package deploy_test

import (
	"encoding/json"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/eso-bridge/eso-bridge/integration/controlplane"
)

// metricName finds eso-bridge's metrics in a PromQL expression.
var metricName = regexp.MustCompile(`\beso_bridge_[a-z_]+\b`)

// histogramSeries are the suffixes of a histogram's series.
var histogramSeries = regexp.MustCompile(`_(bucket|sum|count)$`)

// renderMonitoring renders the chart's PrometheusRule and dashboard
// ConfigMap, as for a cluster that serves PrometheusRule.
func renderMonitoring(t *testing.T) (rule, dashboard *unstructured.Unstructured) {
	t.Helper()
	objects, err := controlplane.DecodeYAML([]byte(renderChart(t, "eso-bridge", "-f", filepath.Join(chartDir, "ci", "all-on-values.yaml"),
		"--api-versions", "monitoring.coreos.com/v1/PrometheusRule")))
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range objects {
		switch {
		case obj.GetKind() == "PrometheusRule":
			rule = obj
		case obj.GetKind() == "ConfigMap" && strings.HasSuffix(obj.GetName(), "-dashboard"):
			dashboard = obj
		}
	}
	if rule == nil || dashboard == nil {
		t.Fatalf("the chart with every option rendered no PrometheusRule (%v) or no dashboard (%v)", rule != nil, dashboard != nil)
	}
	return rule, dashboard
}

// alertExpressions are the expressions of a PrometheusRule's alerts, by alert.
func alertExpressions(t *testing.T, rule *unstructured.Unstructured) map[string]string {
	t.Helper()
	groups, _, _ := unstructured.NestedSlice(rule.Object, "spec", "groups")
	exprs := map[string]string{}
	for _, group := range groups {
		rules, _, _ := unstructured.NestedSlice(group.(map[string]any), "rules")
		for _, r := range rules {
			alert, _, _ := unstructured.NestedString(r.(map[string]any), "alert")
			expr, _, _ := unstructured.NestedString(r.(map[string]any), "expr")
			exprs[alert] = expr
		}
	}
	return exprs
}

// dashboardExpressions are the queries of every panel of the dashboard.
func dashboardExpressions(t *testing.T, dashboard *unstructured.Unstructured) []string {
	t.Helper()
	data, _, _ := unstructured.NestedString(dashboard.Object, "data", "eso-bridge.json")
	var parsed struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal([]byte(data), &parsed); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	var exprs []string
	for _, panel := range parsed.Panels {
		for _, target := range panel.Targets {
			exprs = append(exprs, target.Expr)
		}
	}
	return exprs
}

// monitoredMetrics are the metrics the chart's alerts and dashboard read,
// each as the controller exports it (a histogram by its base name's series).
func monitoredMetrics(t *testing.T) []string {
	t.Helper()
	rule, dashboard := renderMonitoring(t)
	var names []string
	for _, expr := range append(slices.Collect(maps.Values(alertExpressions(t, rule))), dashboardExpressions(t, dashboard)...) {
		for _, name := range metricName.FindAllString(expr, -1) {
			if histogramSeries.MatchString(name) {
				name = histogramSeries.ReplaceAllString(name, "") + "_bucket"
			}
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	return names
}

// The alerts the issue asks for are there, each reading eso-bridge's own
// metrics in the release's namespace, with the values' thresholds; the
// dashboard has panels for every stage of a rotation. (That the controller
// exports every metric they read is checked on a live scrape, in
// TestControllerWithTheChartsRBACAndArgumentsPerformsARotation.)
func TestTheChartsAlertsAndDashboardReadEsoBridgesMetrics(t *testing.T) {
	rule, dashboard := renderMonitoring(t)
	exprs := alertExpressions(t, rule)
	for _, alert := range []string{"EsoBridgeGateTimedOut", "EsoBridgeRestartHeldBySyncError", "EsoBridgeRotationHalted", "EsoBridgeRolloutStalled", "EsoBridgeAWSErrorsRising",
		"EsoBridgeEventQueueFailing", "EsoBridgeSweepStopped", "EsoBridgeStoresNotWatched"} {
		expr, ok := exprs[alert]
		if !ok {
			t.Errorf("the PrometheusRule has no alert %s (it has %v)", alert, slices.Sorted(maps.Keys(exprs)))
			continue
		}
		if !strings.Contains(expr, `namespace="eso-bridge"`) {
			t.Errorf("%s reads metrics of every namespace, not the release's: %s", alert, expr)
		}
	}
	// The values' thresholds reach the expressions.
	if !strings.Contains(exprs["EsoBridgeSweepStopped"], "> 4 * max") {
		t.Errorf("EsoBridgeSweepStopped does not use missedSweeps 4: %s", exprs["EsoBridgeSweepStopped"])
	}
	if !strings.Contains(exprs["EsoBridgeAWSErrorsRising"], "> 0.05") {
		t.Errorf("EsoBridgeAWSErrorsRising does not use awsErrorRatio 0.05: %s", exprs["EsoBridgeAWSErrorsRising"])
	}
	if dashboard.GetNamespace() != "monitoring" || dashboard.GetLabels()["grafana_dashboard"] != "1" {
		t.Errorf("the dashboard ConfigMap is %s/%s with labels %v, want it in the values' namespace monitoring with grafana_dashboard=1",
			dashboard.GetNamespace(), dashboard.GetName(), dashboard.GetLabels())
	}
	queries := strings.Join(dashboardExpressions(t, dashboard), "\n")
	for _, stage := range []string{"eso_bridge_vault_to_write_seconds", "eso_bridge_write_to_patch_seconds", "eso_bridge_patch_to_ready_seconds",
		"eso_bridge_restarts_total", "eso_bridge_holds_total", "eso_bridge_rollouts_total", "eso_bridge_aws_calls_total"} {
		if !strings.Contains(queries, stage) {
			t.Errorf("no dashboard panel reads %s", stage)
		}
	}
}
