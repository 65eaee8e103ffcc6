package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// goBuildLine is the Dockerfile's build step.
var goBuildLine = regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 .*go build .*)$`)

// fromLine is a stage's base image.
var fromLine = regexp.MustCompile(`(?m)^FROM (?:--platform=\S+ )?(\S+)`)

// crossBuildEnv asks for the build of every architecture the release makes,
// not only this machine's.
const crossBuildEnv = "ESO_BRIDGE_CROSS_BUILD"

// pinned is an image reference pinned by content.
var pinned = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)

// Every base image is pinned by digest, so that a release rebuilt from the
// same commit has the same bases.
func TestDockerfileBaseImagesArePinnedByDigest(t *testing.T) {
	dockerfile, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	froms := fromLine.FindAllSubmatch(dockerfile, -1)
	if len(froms) == 0 {
		t.Fatal("the Dockerfile has no FROM")
	}
	for _, from := range froms {
		if !pinned.Match(from[1]) {
			t.Errorf("FROM %s is not pinned by digest (name:tag@sha256:...)", from[1])
		}
	}
}

// The Dockerfile's own build command, run without Docker (there is none
// here), makes a static binary that reports the version it was given, for
// each architecture the release builds (buildx sets TARGETOS and
// TARGETARCH); the final stage is distroless and non-root.
func TestDockerfileBuildsAStaticBinaryWithItsVersion(t *testing.T) {
	repo := filepath.Join("..", "..")
	dockerfile, err := os.ReadFile(filepath.Join(repo, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FROM gcr.io/distroless/static-debian12:nonroot@", "USER 65532:65532", `ENTRYPOINT ["/eso-bridge"]`, "FROM --platform=$BUILDPLATFORM "} {
		if !strings.Contains(string(dockerfile), want) {
			t.Errorf("the Dockerfile lacks %q", want)
		}
	}
	match := goBuildLine.FindSubmatch(dockerfile)
	if match == nil {
		t.Fatal("the Dockerfile has no `RUN CGO_ENABLED=0 go build` step")
	}
	for _, arch := range []struct {
		goarch  string
		machine elf.Machine
	}{{"amd64", elf.EM_X86_64}, {"arm64", elf.EM_AARCH64}} {
		t.Run(arch.goarch, func(t *testing.T) {
			if arch.goarch != runtime.GOARCH && os.Getenv(crossBuildEnv) == "" {
				t.Skipf("a cold cross-build takes minutes; .ci/run runs it on its own with %s=1", crossBuildEnv)
			}
			binary := filepath.Join(t.TempDir(), "eso-bridge")
			command := strings.NewReplacer("${VERSION}", "v9.9.9-dockerfile", "/out/eso-bridge", binary,
				"${TARGETOS}", "linux", "${TARGETARCH}", arch.goarch).Replace(string(match[1]))
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
			if file.Machine != arch.machine {
				t.Errorf("built for %s, the binary is %s", arch.goarch, file.Machine)
			}
			for _, prog := range file.Progs {
				if prog.Type == elf.PT_INTERP {
					t.Error("the binary is dynamically linked; distroless/static has no libc")
				}
			}
			if arch.goarch != runtime.GOARCH {
				return // it cannot run here
			}
			out, err := exec.CommandContext(t.Context(), binary, "version").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "v9.9.9-dockerfile") {
				t.Errorf("eso-bridge version: %q (%v), want the version passed at build time", out, err)
			}
		})
	}
}
