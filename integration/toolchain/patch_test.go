package toolchain

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// raceProgram builds kwok's CEL environment from several goroutines at once,
// as kwok's node, pod and stage controllers do when their first events arrive.
const raceProgram = `package main

import (
	"maps"
	"slices"
	"sync"

	"sigs.k8s.io/kwok/pkg/utils/cel"
)

func main() {
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := cel.NewEnvironment(cel.EnvironmentConfig{
				Types:       slices.Clone(cel.DefaultTypes),
				Conversions: slices.Clone(cel.DefaultConversions),
				Funcs:       maps.Clone(cel.DefaultFuncs),
				Methods:     maps.Clone(cel.FuncsToMethods(cel.DefaultFuncs)),
			})
			if err != nil {
				panic(err)
			}
		}()
	}
	wg.Wait()
}
`

// TestKwokBuildsItsStagesFromSeveralGoroutinesWithoutARace builds kwok's stage
// environments concurrently, with the toolchain's patch and the race detector:
// unpatched, easycel's caches race there (the race detector reports it at
// once; without it, the program dies with "concurrent map writes" in a few
// runs of a hundred, as kwok did in CI). The patch must also still apply to the pinned easycel, which this
// checks first.
func TestKwokBuildsItsStagesFromSeveralGoroutinesWithoutARace(t *testing.T) {
	if testing.Short() {
		t.Skip("builds kwok's CEL packages with the race detector")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	src := t.TempDir()
	for _, ext := range []string{".mod", ".sum"} {
		data, err := wrapperModules.ReadFile("modules/kwok" + ext)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, "go"+ext), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(raceProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	var patches []sourcePatch
	for _, c := range components {
		if c.name == "kwok" {
			patches = c.patches
		}
	}
	if len(patches) == 0 {
		t.Fatal("the kwok component carries no patch for easycel's caches")
	}
	if err := writePatchedSources(ctx, goBin, src, patches); err != nil {
		t.Fatalf("the patch does not apply to the pinned easycel: %v", err)
	}
	out, err := runGo(ctx, goBin, src, "run", "-race", ".")
	if strings.Contains(out, "DATA RACE") || err != nil {
		t.Fatalf("kwok's CEL environments, built concurrently with the patch: %v\n%s", err, tail(out, 60))
	}
}
