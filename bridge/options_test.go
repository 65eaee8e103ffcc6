package bridge

import (
	"flag"
	"strings"
	"testing"
)

func TestBadFlagsAreRefusedNamingTheFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--waves=sideways"}, "--waves"},
		{[]string{"--restart-window=Mon-Fri 09:00-09:00 Europe/Paris"}, "--restart-window: window \"Mon-Fri 09:00-09:00 Europe/Paris\": 09:00-09:00 is as long as nothing"},
		{[]string{"--restart-window=Mon-Fri 09:00-17:00 Europe/Nowhere"}, "not an IANA time zone"},
		{[]string{"--max-rollouts-in-progress=-1"}, "--max-rollouts-in-progress"},
		{[]string{"--namespace-max-rollouts-in-progress=-2"}, "--namespace-max-rollouts-in-progress"},
		{[]string{"--rollout-burst=0"}, "bursts >= 1"},
	} {
		opts := DefaultOptions()
		fs := flag.NewFlagSet("run", flag.ContinueOnError)
		opts.BindFlags(fs)
		if err := fs.Parse(c.args); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if err := opts.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: Validate() = %v, want an error saying %q", c.args, err, c.want)
		}
	}
	opts := DefaultOptions()
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	opts.BindFlags(fs)
	if err := fs.Parse([]string{"--restart-window=Mon-Fri 09:00-17:00 Europe/Paris; Sat 10:00-12:00", "--max-rollouts-in-progress=20", "--namespace-max-rollouts-in-progress=2"}); err != nil {
		t.Fatal(err)
	}
	if err := opts.Validate(); err != nil {
		t.Errorf("the defaults with a window and caps: %v", err)
	}
	if r := opts.restart(); r.RestartWindow.String() != "Mon-Fri 09:00-17:00 Europe/Paris; Sat 10:00-12:00" {
		t.Errorf("the restart controller's window is %q", r.RestartWindow)
	}
}
