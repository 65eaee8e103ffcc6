package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/eso-bridge/eso-bridge/integration/release"
)

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
	if _, err := release.Command(repo); err != nil {
		t.Fatal(err)
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
			if _, err := release.Build(repo, arch.goarch, "v9.9.9-dockerfile", binary); err != nil {
				t.Fatal(err)
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

// The release binary leaves the linker free to drop every method nothing
// calls. One reachable call that looks a method up by a name known only at
// run time (text/template's Execute, reached from cobra's SetVersionTemplate
// or from golang.org/x/net/trace, which gRPC links unless built with
// grpcnotrace) makes the linker keep every exported method of every type:
// a third more binary, and as much more memory mapped at run time.
func TestReleaseBinaryKeepsOnlyTheMethodsItCalls(t *testing.T) {
	repo := filepath.Join("..", "..")
	output, err := release.Build(repo, runtime.GOARCH, "v9.9.9-deadcode", filepath.Join(t.TempDir(), "eso-bridge"), "-dumpdep")
	if err != nil {
		t.Fatal(err)
	}
	graph := parseDependencies(string(output))
	if chain := graph.chainTo(graph.reflectMethod); chain != nil {
		t.Errorf("the linker keeps every exported method: %s looks methods up by name at run time; it is reached by\n  %s",
			chain[0], strings.Join(chain[1:], "\n  <- "))
	}
	// client-go's whole clientset builds a client for every API group, and
	// keeps each one's code: 0.9 MB of binary for the two groups eso-bridge
	// calls directly (core/v1 and events/v1, through their typed clients).
	if chain := graph.chainTo(clientsetConstructor); chain != nil {
		t.Errorf("the release binary links client-go's whole clientset; %s is reached by\n  %s",
			chain[0], strings.Join(chain[1:], "\n  <- "))
	}
}

// clientsetConstructor builds client-go's whole clientset; every
// constructor of it ends there.
const clientsetConstructor = "k8s.io/client-go/kubernetes.NewForConfigAndClient"

// initHeldLimit is the most heap one package's init may allocate in the
// release binary. client-go's scheme, the largest today, takes 0.65 MB;
// aws-sdk-go-v2's SSM client from v1.80.0 on took 1.4 MB, building a schema
// for every operation of the service at start.
const initHeldLimit = 1 << 20

// No package of the release binary allocates a megabyte as it starts: what
// a package's init builds stays on the heap (and its code in memory) for
// the life of the process, whether the controller uses it or not — the
// base every installation, every shard, pays.
func TestReleaseBinaryInitsHoldLittleMemory(t *testing.T) {
	binary := filepath.Join(t.TempDir(), "eso-bridge")
	if _, err := release.Build(filepath.Join("..", ".."), runtime.GOARCH, "v9.9.9-init", binary); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), binary, "version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("eso-bridge version: %v\n%s", err, out)
	}
	inits := initAllocations(string(out))
	if len(inits) == 0 {
		t.Fatalf("GODEBUG=inittrace=1 printed no init line:\n%s", out)
	}
	for pkg, bytes := range inits {
		if bytes > initHeldLimit {
			t.Errorf("%s allocates %d bytes as the binary starts (at most %d): see the comment on aws-sdk-go-v2/service/ssm in go.mod", pkg, bytes, initHeldLimit)
		}
	}
}

// initLine is one line of GODEBUG=inittrace=1: "init <package> @<start>
// ms, <clock> ms clock, <bytes> bytes, <allocs> allocs".
var initLine = regexp.MustCompile(`(?m)^init (\S+) @.* ms clock, (\d+) bytes, \d+ allocs$`)

// initAllocations returns the bytes each package's init allocated.
func initAllocations(trace string) map[string]int {
	allocated := map[string]int{}
	for _, m := range initLine.FindAllStringSubmatch(trace, -1) {
		bytes, _ := strconv.Atoi(m[2])
		allocated[m[1]] += bytes
	}
	return allocated
}

// dependencies are the linker's -dumpdep graph ("caller -> callee" per
// line): the first caller of each function it keeps, and the first function
// marked <ReflectMethod>.
type dependencies struct {
	caller        map[string]string
	reflectMethod string
}

// parseDependencies reads the linker's -dumpdep output.
func parseDependencies(output string) dependencies {
	const mark = " <ReflectMethod>"
	d := dependencies{caller: map[string]string{}}
	for line := range strings.Lines(output) {
		from, to, ok := strings.Cut(strings.TrimSpace(line), " -> ")
		if !ok {
			continue
		}
		from, to = strings.TrimSuffix(from, mark), strings.TrimSuffix(to, mark)
		if _, seen := d.caller[to]; !seen {
			d.caller[to] = from
		}
		if d.reflectMethod == "" && strings.HasSuffix(strings.TrimSpace(line), mark) {
			d.reflectMethod = to
		}
	}
	return d
}

// chainTo returns fn followed by the chain of callers that reaches it, or
// nil when the linker did not keep fn.
func (d dependencies) chainTo(fn string) []string {
	if _, kept := d.caller[fn]; fn == "" || !kept {
		return nil
	}
	chain := []string{fn}
	for seen := map[string]bool{fn: true}; len(chain) < 30; {
		next, ok := d.caller[chain[len(chain)-1]]
		if !ok || seen[next] {
			break
		}
		seen[next] = true
		chain = append(chain, next)
	}
	return chain
}
