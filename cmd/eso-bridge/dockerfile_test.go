package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// goBuildLine is the Dockerfile's build step.
var goBuildLine = regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 go build .*)$`)

// The Dockerfile's own build command, run without Docker (there is none
// here), makes a static binary that reports the version it was given; the
// final stage is distroless and non-root.
func TestDockerfileBuildsAStaticBinaryWithItsVersion(t *testing.T) {
	repo := filepath.Join("..", "..")
	dockerfile, err := os.ReadFile(filepath.Join(repo, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FROM gcr.io/distroless/static-debian12:nonroot", "USER 65532:65532", `ENTRYPOINT ["/eso-bridge"]`} {
		if !strings.Contains(string(dockerfile), want) {
			t.Errorf("the Dockerfile lacks %q", want)
		}
	}
	match := goBuildLine.FindSubmatch(dockerfile)
	if match == nil {
		t.Fatal("the Dockerfile has no `RUN CGO_ENABLED=0 go build` step")
	}
	binary := filepath.Join(t.TempDir(), "eso-bridge")
	command := strings.NewReplacer("${VERSION}", "v9.9.9-dockerfile", "/out/eso-bridge", binary).Replace(string(match[1]))
	build := exec.CommandContext(t.Context(), "sh", "-c", command)
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", command, err, out)
	}
	file, err := elf.Open(binary)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for _, prog := range file.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Error("the binary is dynamically linked; distroless/static has no libc")
		}
	}
	out, err := exec.CommandContext(t.Context(), binary, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "v9.9.9-dockerfile") {
		t.Errorf("eso-bridge version: %q (%v), want the version passed at build time", out, err)
	}
}
