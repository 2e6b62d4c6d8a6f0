package poll

import (
	"testing"
	"time"
)

func TestWait(t *testing.T) {
	n := 0
	if !Wait(2*time.Second, func() bool { n++; return n >= 3 }) {
		t.Fatal("a condition that becomes true was not seen")
	}
	start := time.Now()
	if Wait(100*time.Millisecond, func() bool { return false }) {
		t.Fatal("a condition that never holds was reported as holding")
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("gave up after %s, before the deadline", d)
	}
}

func TestNextSecond(t *testing.T) {
	before := time.Now().UTC().Truncate(time.Second)
	NextSecond(t)
	if !time.Now().UTC().Truncate(time.Second).After(before) {
		t.Fatal("still in the same second")
	}
}
