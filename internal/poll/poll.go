// Package poll waits for a condition in tests: it checks the condition on a
// ticker until it holds or a deadline passes, so no test sleeps a fixed time.
package poll

import (
	"testing"
	"time"
)

// Interval is how often a condition is checked.
const Interval = 20 * time.Millisecond

// Until checks cond every Interval until it returns true, and fails the
// test naming what it waited for when within passes first.
func Until(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Wait(within, cond) {
		t.Fatalf("timed out after %s waiting for %s", within, what)
	}
}

// Wait checks cond every Interval until it returns true or within passes,
// and reports whether it held.
func Wait(within time.Duration, cond func() bool) bool {
	if cond() {
		return true
	}
	tick := time.NewTicker(Interval)
	defer tick.Stop()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		select {
		case <-tick.C:
			if cond() {
				return true
			}
		case <-deadline.C:
			return cond()
		}
	}
}

// NextSecond waits until the wall clock's UTC second has moved on from the
// one it read at the call: casino names backups by the second, so a test
// that takes two in a row waits for a new name.
func NextSecond(t testing.TB) {
	t.Helper()
	start := time.Now().UTC().Truncate(time.Second)
	Until(t, 3*time.Second, "the next second", func() bool {
		return time.Now().UTC().Truncate(time.Second).After(start)
	})
}
