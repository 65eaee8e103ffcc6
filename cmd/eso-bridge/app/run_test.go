package app

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eso-bridge/eso-bridge/bridge"
)

func TestAWSFlagsChooseTheSweepAndTheQueue(t *testing.T) {
	const (
		queue  = "https://sqs.eu-west-1.amazonaws.com/111122223333/eso-bridge-events"
		queue2 = "https://sqs.us-east-1.amazonaws.com/111122223333/eso-bridge-events"
	)
	tests := []struct {
		args       []string
		wantSweep  time.Duration // 0: provider off
		wantQueues []string
		wantErr    string
	}{
		{args: nil, wantSweep: 30 * time.Second},
		{args: []string{"--aws-poll-interval=0"}},
		{args: []string{"--aws-events-queue-url=" + queue}, wantSweep: 10 * time.Minute, wantQueues: []string{queue}},
		{args: []string{"--aws-events-queue-url=" + queue, "--aws-poll-interval=1m"}, wantSweep: time.Minute, wantQueues: []string{queue}},
		{args: []string{"--aws-events-queue-url=" + queue, "--aws-poll-interval=0"}, wantErr: "needs the AWS provider"},
		{args: []string{"--aws-events-queue-url=eso-bridge-events"}, wantErr: "must be a queue URL"},
		{args: []string{"--aws-events-queue-url=" + queue, "--aws-events-queue-url=" + queue2}, wantSweep: 10 * time.Minute, wantQueues: []string{queue, queue2}},
		{args: []string{"--aws-events-queue-url=" + queue + "," + queue2}, wantSweep: 10 * time.Minute, wantQueues: []string{queue, queue2}},
		{args: []string{"--aws-events-queue-url=" + queue, "--aws-events-queue-url=" + queue}, wantErr: "twice"},
		{args: []string{"--aws-poll-interval=-1s"}, wantErr: "must be >= 0"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			opts := runOptions{bridge: bridge.DefaultOptions()}
			fs := flag.NewFlagSet("run", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			opts.BindFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			set := map[string]bool{}
			fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
			got, err := opts.aws(func(name string) bool { return set[name] })
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case tt.wantSweep == 0:
				if got != nil {
					t.Fatalf("the AWS provider is on (%+v), want off", got)
				}
			case got == nil:
				t.Fatal("the AWS provider is off")
			case got.PollInterval != tt.wantSweep || !slices.Equal(got.EventQueueURLs, tt.wantQueues):
				t.Fatalf("sweep %s, queues %q; want %s, %q", got.PollInterval, got.EventQueueURLs, tt.wantSweep, tt.wantQueues)
			}
		})
	}
}

func TestDigestKeySecretFlag(t *testing.T) {
	if got, err := digestKeySecret("team-a/key", ""); err != nil || got.Namespace != "team-a" || got.Name != "key" {
		t.Errorf("namespace/name: got %v, %v", got, err)
	}
	t.Setenv("POD_NAMESPACE", "eso-bridge")
	if got, err := digestKeySecret("key", ""); err != nil || got.Namespace != "eso-bridge" || got.Name != "key" {
		t.Errorf("a name alone is in the pod's namespace: got %v, %v", got, err)
	}
	for _, bad := range []string{"", "a/b/c", "Team/key", "ns/"} {
		if _, err := digestKeySecret(bad, ""); err == nil || !strings.Contains(err.Error(), "--digest-key-secret") {
			t.Errorf("%q: got %v, want an error naming the flag", bad, err)
		}
	}
}

// A rotation that restarts hundreds of workloads in a second logs a line
// for each, in both formats: the log is the record of what eso-bridge did.
// A Kubernetes object logged as a value reads as its namespace and name.
func TestLoggerWritesEveryLineOfABurst(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			var out strings.Builder
			logger, err := newLogger(format, "info", &out)
			if err != nil {
				t.Fatal(err)
			}
			const burst = 500
			for i := range burst {
				logger.Info("restarted", "i", i)
			}
			logger.V(1).Info("a debug line, not written at info")
			if got := strings.Count(out.String(), "restarted"); got != burst {
				t.Errorf("%d of %d lines written", got, burst)
			}
			if strings.Contains(out.String(), "debug line") {
				t.Error("a debug line was written at --log-level info")
			}
		})
	}
	var out strings.Builder
	logger, _ := newLogger("json", "debug", &out)
	logger.V(1).Info("debug line", "workload", &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "payments", Name: "api"},
		Spec:       appsv1.DeploymentSpec{MinReadySeconds: 17},
	})
	if !strings.Contains(out.String(), `"debug line"`) {
		t.Errorf("--log-level debug writes no debug line: %q", out.String())
	}
	if !strings.Contains(out.String(), `"namespace":"payments"`) || !strings.Contains(out.String(), `"name":"api"`) || strings.Contains(out.String(), "minReadySeconds") {
		t.Errorf("a logged object reads as more or less than its namespace and name: %q", out.String())
	}
}
