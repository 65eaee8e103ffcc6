package toolchain

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// sourcePatch mends a known bug in one dependency of a component at build
// time. The module cache is left as downloaded: the mended files reach the
// compiler from a mended copy in the build's wrapper module, so the fix
// applies to this build only and an upstream release that fixes the bug needs
// nothing undone but the patch.
type sourcePatch struct {
	// module is the dependency; its version is the one the wrapper's go.mod pins.
	module string
	// why names the bug, for the cache key and for whoever reads the patch.
	why string
	// edits maps a file of the module to the replacements made in it. Each old
	// text must occur exactly once, so that a different upstream file fails the
	// build instead of being patched in the wrong place.
	edits map[string][]edit
	// added maps a file name to the content of a new file in the module's
	// root package.
	added map[string]string
}

// edit replaces old by new.
type edit struct{ old, new string }

// key is the patch's part of a cache entry's key: a changed patch rebuilds.
// (%#v prints maps with their keys sorted, so the key is stable.)
func (p sourcePatch) key() []byte {
	return fmt.Appendf(nil, "%#v", p)
}

// writePatchedSources copies the source of each patched module into
// src/patched, mends it there, and points the wrapper module src at the copy
// with a replace directive. (go build -overlay would leave the source alone,
// but it refuses files in the module cache.) The copy's go.mod is the
// module's own, so the build list, and with it go.sum, stays the same.
func writePatchedSources(ctx context.Context, goBin, src string, patches []sourcePatch) error {
	if len(patches) == 0 {
		return nil
	}
	var replaces strings.Builder
	for i, p := range patches {
		out, err := runGo(ctx, goBin, src, "mod", "download", "-json", p.module)
		if err != nil {
			return fmt.Errorf("downloading %s to patch it: %w\n%s", p.module, err, out)
		}
		var mod struct{ Dir, Version string }
		if err := json.Unmarshal([]byte(out), &mod); err != nil || mod.Dir == "" {
			return fmt.Errorf("locating the source of %s: %v\n%s", p.module, err, out)
		}
		rel := filepath.Join("patched", fmt.Sprint(i))
		copied := filepath.Join(src, rel)
		if err := os.RemoveAll(copied); err != nil {
			return err
		}
		if err := os.CopyFS(copied, os.DirFS(mod.Dir)); err != nil {
			return fmt.Errorf("copying %s@%s to patch it: %w", p.module, mod.Version, err)
		}
		for file, edits := range p.edits {
			path := filepath.Join(copied, file)
			original, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("patching %s@%s (%s): %w", p.module, mod.Version, p.why, err)
			}
			text := string(original)
			for _, e := range edits {
				if n := strings.Count(text, e.old); n != 1 {
					return fmt.Errorf("patching %s@%s (%s): %s holds the text to replace %d times, not once: the patch was written for another version\n%s",
						p.module, mod.Version, p.why, file, n, e.old)
				}
				text = strings.Replace(text, e.old, e.new, 1)
			}
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				return err
			}
		}
		for name, content := range p.added {
			if err := os.WriteFile(filepath.Join(copied, name), []byte(content), 0o644); err != nil {
				return err
			}
		}
		fmt.Fprintf(&replaces, "\nreplace %s => ./%s\n", p.module, filepath.ToSlash(rel))
	}
	goMod, err := os.OpenFile(filepath.Join(src, "go.mod"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := goMod.WriteString(replaces.String()); err != nil {
		_ = goMod.Close()
		return err
	}
	return goMod.Close()
}
