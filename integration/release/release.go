// Package release builds the controller binary the way the release does: with
// the Dockerfile's own build step, run without Docker (there is none on the
// test machines), so that what the tests and benchmarks measure is what the
// image ships.
package release

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// buildLine is the Dockerfile's build step.
var buildLine = regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 .*go build .*)$`)

// Build runs the Dockerfile's build step from the repository at repo for
// goarch (linux), stamped with version, writing the binary to out. Each of
// ldflags goes before the Dockerfile's own linker flags (a test's -dumpdep).
// It returns the build's combined output, which is where the linker prints
// what -dumpdep asks for.
func Build(repo, goarch, version, out string, ldflags ...string) ([]byte, error) {
	command, err := Command(repo)
	if err != nil {
		return nil, err
	}
	command = strings.NewReplacer("${VERSION}", version, "/out/eso-bridge", out,
		"${TARGETOS}", "linux", "${TARGETARCH}", goarch).Replace(command)
	if len(ldflags) > 0 {
		if !strings.Contains(command, `-ldflags="`) {
			return nil, fmt.Errorf("the Dockerfile's build step has no -ldflags=\"...\" to add %v to: %s", ldflags, command)
		}
		command = strings.Replace(command, `-ldflags="`, `-ldflags="`+strings.Join(ldflags, " ")+" ", 1)
	}
	build := exec.Command("sh", "-c", command)
	build.Dir = repo
	output, err := build.CombinedOutput()
	if err != nil {
		return output, fmt.Errorf("%s: %w\n%s", command, err, tail(output))
	}
	return output, nil
}

// Command is the Dockerfile's build step (from CGO_ENABLED=0 on), with its
// build arguments still unexpanded.
func Command(repo string) (string, error) {
	dockerfile, err := os.ReadFile(filepath.Join(repo, "Dockerfile"))
	if err != nil {
		return "", err
	}
	match := buildLine.FindSubmatch(dockerfile)
	if match == nil {
		return "", fmt.Errorf("%s has no `RUN CGO_ENABLED=0 ... go build ...` step", filepath.Join(repo, "Dockerfile"))
	}
	return string(match[1]), nil
}

// tail is the end of a build's output: the error, not the -dumpdep graph
// before it.
func tail(output []byte) []byte {
	const keep = 4 << 10
	if len(output) > keep {
		return output[len(output)-keep:]
	}
	return output
}
