package annotations

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Every parser of user input either refuses it or returns something that
// holds the rules — names a valid kind and a valid name in the object's own
// namespace — and that reads back the same when written out again.

func FuzzParseRolloutPolicy(f *testing.F) {
	for _, seed := range []string{"", "auto", "AUTO", "off", "deployment/api", "deploy/api, sts/db", "other/deployment/api",
		"deployment/", "/api", "cronjob/Nightly", "rollout/a,,rollout/b", "deployment/api\tstatefulset/db", "deployment/" + strings.Repeat("a", 300)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		policy, err := ParseRolloutPolicy(value)
		if err != nil {
			if policy.Auto || len(policy.Workloads) > 0 {
				t.Errorf("ParseRolloutPolicy(%q) refused the value but returned %+v", value, policy)
			}
			return
		}
		var entries []string
		for _, w := range policy.Workloads {
			if kindAliases[w.Kind] != w.Kind {
				t.Errorf("ParseRolloutPolicy(%q): kind %q is not canonical", value, w.Kind)
			}
			if errs := validation.IsDNS1123Subdomain(w.Name); len(errs) > 0 || strings.Contains(w.Name, "/") {
				t.Errorf("ParseRolloutPolicy(%q): name %q is not a valid name in the namespace", value, w.Name)
			}
			entries = append(entries, w.String())
		}
		if len(entries) == 0 {
			return
		}
		again, err := ParseRolloutPolicy(strings.Join(entries, ", "))
		if err != nil || !slices.Equal(again.Workloads, policy.Workloads) {
			t.Errorf("ParseRolloutPolicy(%q) = %+v, which reads back as %+v, %v", value, policy, again, err)
		}
	})
}

func FuzzParseNameList(f *testing.F) {
	for _, seed := range []string{"", "db", "db, cache", "other/db", "DB", "a,,b", " db\t", strings.Repeat("x", 254)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		names, err := ParseNameList(value)
		if err != nil {
			return
		}
		for _, name := range names {
			if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 || strings.Contains(name, "/") {
				t.Errorf("ParseNameList(%q): %q is not a valid name in the namespace", value, name)
			}
		}
		again, err := ParseNameList(strings.Join(names, ","))
		if err != nil || !slices.Equal(again, names) {
			t.Errorf("ParseNameList(%q) = %q, which reads back as %q, %v", value, names, again, err)
		}
	})
}

func FuzzParseBool(f *testing.F) {
	for _, seed := range []string{"", "true", "FALSE", " True ", "yes please", "1"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		got, err := ParseBool(value)
		normal := strings.ToLower(strings.TrimSpace(value))
		switch {
		case err == nil && normal != "true" && normal != "false" && normal != "":
			t.Errorf("ParseBool(%q) accepted a value that is neither true nor false", value)
		case err == nil && got != (normal == "true"):
			t.Errorf("ParseBool(%q) = %v", value, got)
		case err != nil && (normal == "true" || normal == "false" || normal == ""):
			t.Errorf("ParseBool(%q) refused a boolean: %v", value, err)
		}
	})
}

// The rollout result is eso-bridge's own JSON on a workload, but anyone can
// edit an annotation: garbage is refused, never a panic.
func FuzzRolloutResult(f *testing.F) {
	for _, seed := range []string{"", "{}", `{"outcome":"RolloutComplete","finishedAt":"2026-01-01T00:00:00Z","restartedAt":"2026-01-01T00:00:00Z","revision":"3"}`,
		`{"finishedAt":"yesterday"}`, `[]`, `null`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		result, ok := ParseRolloutResult(value)
		if !ok {
			return
		}
		data, err := json.Marshal(result)
		if err != nil {
			t.Fatalf("a parsed result does not write back: %v", err)
		}
		if again, ok := ParseRolloutResult(string(data)); !ok || again.RestartedAt != result.RestartedAt || !again.FinishedAt.Equal(result.FinishedAt) {
			t.Errorf("rollout result %q reads back as %+v", value, again)
		}
	})
}
