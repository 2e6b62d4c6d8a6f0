package main

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

// TestTuneGC: serve raises GOGC and takes a soft memory limit from the
// cgroup only where the operator set neither, and restores nothing it was
// not asked to change. Not parallel: it changes the process's collector.
func TestTuneGC(t *testing.T) {
	oldPercent := debug.SetGCPercent(100)
	oldLimit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(oldPercent); debug.SetMemoryLimit(oldLimit) })

	dir := t.TempDir()
	limited := filepath.Join(dir, "memory.max")
	if err := os.WriteFile(limited, []byte("536870912\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	unlimited := filepath.Join(dir, "unlimited")
	if err := os.WriteFile(unlimited, []byte("max\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

	got := tuneGC(env(nil), limited)
	if got != (gcSettings{Percent: 400, MemoryLimit: 402653184}) {
		t.Errorf("defaults under a 512 MiB cgroup: %+v", got)
	}
	if p := debug.SetGCPercent(100); p != 400 {
		t.Errorf("GC percent %d, want 400", p)
	}
	if l := debug.SetMemoryLimit(-1); l != 402653184 {
		t.Errorf("memory limit %d, want 3/4 of 512 MiB", l)
	}

	debug.SetMemoryLimit(math.MaxInt64)
	for _, tc := range []struct {
		name string
		env  map[string]string
		file string
		want gcSettings
	}{
		{"operator's GOGC and GOMEMLIMIT stand", map[string]string{"GOGC": "50", "GOMEMLIMIT": "1GiB"}, limited, gcSettings{Percent: -1}},
		{"no cgroup limit", nil, unlimited, gcSettings{Percent: 400}},
		{"no cgroup file", nil, filepath.Join(dir, "absent"), gcSettings{Percent: 400}},
	} {
		debug.SetGCPercent(100)
		if got := tuneGC(env(tc.env), tc.file); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
		if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
			t.Errorf("%s: memory limit set to %d", tc.name, l)
		}
	}
}
