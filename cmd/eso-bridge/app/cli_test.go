package app

import (
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

// The command line behaves as kubectl users expect: help and --version exit
// 0, a wrong command line exits 2 before anything is attempted, and every
// command that prints takes -o.
func TestCommandLineExitCodesAndOutput(t *testing.T) {
	tests := []struct {
		args       []string
		wantCode   int
		wantStdout string
		wantErr    string
	}{
		{args: []string{"-h"}, wantCode: ExitOK, wantStdout: "Available Commands"},
		{args: []string{"--help"}, wantCode: ExitOK, wantStdout: "trace"},
		{args: []string{"trace", "-h"}, wantCode: ExitOK, wantStdout: "--namespace"},
		{args: []string{"run", "-h"}, wantCode: ExitOK, wantStdout: "--dry-run"},
		{args: []string{"version", "--help"}, wantCode: ExitOK, wantStdout: "--output"},
		{args: []string{"explain", "-h"}, wantCode: ExitOK, wantStdout: "--settle"},
		{args: []string{"explain"}, wantCode: ExitUsage, wantErr: "takes one object, got 0"},
		{args: []string{"explain", "-o", "wide", "deployment/api"}, wantCode: ExitUsage, wantErr: "-o must be one of table, json, yaml"},
		{args: []string{"explain", "a/pod/x"}, wantCode: ExitUsage, wantErr: "kind \"pod\" is not one of"},
		{args: []string{"explain", "-n", "a", "pod/x"}, wantCode: ExitUsage, wantErr: "names namespace pod, and -n says a"},
		{args: []string{"completion", "bash", "-h"}, wantCode: ExitOK},
		{args: []string{"--version"}, wantCode: ExitOK, wantStdout: "eso-bridge v1.2.3\n"},
		{args: []string{"version"}, wantCode: ExitOK, wantStdout: "eso-bridge v1.2.3\n"},
		{args: []string{"version", "-o", "json"}, wantCode: ExitOK, wantStdout: `"version": "v1.2.3"`},
		{args: []string{"version", "-o", "yaml"}, wantCode: ExitOK, wantStdout: "version: v1.2.3"},
		{args: []string{"completion", "bash"}, wantCode: ExitOK, wantStdout: "__start_eso-bridge"},
		{args: []string{"completion", "zsh"}, wantCode: ExitOK, wantStdout: "#compdef eso-bridge"},
		{args: []string{"trac"}, wantCode: ExitUsage, wantErr: `unknown command "trac"; did you mean trace?`},
		{args: []string{"version", "-o", "xml"}, wantCode: ExitUsage, wantErr: "-o must be one of json, yaml"},
		{args: []string{"trace"}, wantCode: ExitUsage, wantErr: "takes one object, got 0"},
		{args: []string{"trace", "-o", "wide", "a/b"}, wantCode: ExitUsage, wantErr: "-o must be one of table, json, yaml"},
		{args: []string{"trace", "--no-such-flag", "a/b"}, wantCode: ExitUsage, wantErr: "unknown flag: --no-such-flag"},
		{args: []string{"trace", "a/b/c/d"}, wantCode: ExitUsage, wantErr: "is none of"},
		{args: []string{"trace", "-n", "team-a", "team-b/db"}, wantCode: ExitUsage, wantErr: "-n says team-a"},
		{args: []string{"run", "extra"}, wantCode: ExitUsage, wantErr: "takes no arguments"},
		{args: []string{"--settle=banana"}, wantCode: ExitUsage, wantErr: "invalid argument"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			// No cluster is reachable: a command that got past its command
			// line would fail with ExitError.
			t.Setenv("KUBECONFIG", t.TempDir()+"/none")
			var stdout, stderr strings.Builder
			err := Execute(t.Context(), "v1.2.3", tt.args, &stdout, &stderr)
			if code := ExitCode(err); code != tt.wantCode {
				t.Fatalf("exit code %d (%v), want %d\nstdout: %s\nstderr: %s", code, err, tt.wantCode, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout %q lacks %q", stdout.String(), tt.wantStdout)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("error %v, want one saying %q", err, tt.wantErr)
			}
		})
	}
}

func TestVersionAsJSONIsParseable(t *testing.T) {
	var stdout strings.Builder
	if err := Execute(t.Context(), "v1.2.3", []string{"version", "-o", "json"}, &stdout, &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	var got versionInfo
	if err := json.Unmarshal([]byte(stdout.String()), &got); err != nil || got.Version != "v1.2.3" || got.GoVersion == "" || got.Platform == "" {
		t.Errorf("version -o json: %+v (%v) from %q", got, err, stdout.String())
	}
}

func TestObjectArgumentsReadAsKubectlUsersWriteThem(t *testing.T) {
	tests := []struct {
		arg  string
		want objectRef
	}{
		{"db", objectRef{NamespacedName: types.NamespacedName{Namespace: "team-a", Name: "db"}}},
		{"deployment/api", objectRef{NamespacedName: types.NamespacedName{Namespace: "team-a", Name: "api"}, kind: "deployment"}},
		{"deploy/api", objectRef{NamespacedName: types.NamespacedName{Namespace: "team-a", Name: "api"}, kind: "deploy"}},
		{"externalsecret/db", objectRef{NamespacedName: types.NamespacedName{Namespace: "team-a", Name: "db"}}},
		{"payments/db", objectRef{NamespacedName: types.NamespacedName{Namespace: "payments", Name: "db"}}},
		{"payments/statefulset/worker", objectRef{NamespacedName: types.NamespacedName{Namespace: "payments", Name: "worker"}, kind: "statefulset"}},
		{"payments/es/db", objectRef{NamespacedName: types.NamespacedName{Namespace: "payments", Name: "db"}}},
	}
	teamA := func() (string, error) { return "team-a", nil }
	for _, tt := range tests {
		got, err := parseObject(tt.arg, teamA)
		if err != nil || got != tt.want {
			t.Errorf("%q: got %+v (%v), want %+v", tt.arg, got, err, tt.want)
		}
	}
	for _, bad := range []string{"payments/pod/x", "Payments/db", "a/b/c/d", "/db"} {
		if _, err := parseObject(bad, teamA); ExitCode(err) != ExitUsage {
			t.Errorf("%q: %v, want a usage error", bad, err)
		}
	}
}
