package logging

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestAppendTimestampMatchesRFC3339Nano: the cached-prefix formatter writes
// exactly what time.RFC3339Nano does, for whole seconds, trailing zeros,
// zones other than UTC, years outside 0-9999 and a second changing between
// calls.
func TestAppendTimestampMatchesRFC3339Nano(t *testing.T) {
	east := time.FixedZone("east", 5*3600+1800)
	times := []time.Time{
		time.Date(2026, 12, 2, 3, 7, 11, 0, time.UTC),
		time.Date(2026, 12, 2, 3, 7, 11, 100_000_000, time.UTC),
		time.Date(2026, 12, 2, 3, 7, 11, 1, time.UTC),
		time.Date(2026, 12, 2, 3, 7, 11, 123_450_000, east),
		time.Date(1999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(10001, 1, 1, 0, 0, 0, 5, time.UTC),
		time.Date(-3, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Now()
	for range 2000 {
		times = append(times, base.Add(time.Duration(r.Int64N(int64(72*time.Hour)))-36*time.Hour))
	}
	for _, tm := range times {
		want := tm.UTC().Format(time.RFC3339Nano)
		// Twice: once formatting the prefix, once reusing it.
		for range 2 {
			if got := string(appendTimestamp([]byte("x"), tm)); got != "x"+want {
				t.Fatalf("appendTimestamp(%v) = %q, want %q", tm, got, "x"+want)
			}
		}
	}
}
