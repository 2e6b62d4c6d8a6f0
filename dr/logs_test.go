package dr

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"
)

// logLine writes a request line the way casino's logger does.
func logLine(ts time.Time, status int, dur float64, id string) string {
	b, _ := json.Marshal(map[string]any{"ts": ts.UTC().Format(time.RFC3339Nano), "level": "info", "event": "request",
		"request_id": id, "method": "GET", "route": "GET /api/x", "path": "/api/x", "status_code": status, "duration_ms": dur, "bytes": 10})
	// encoding/json sorts keys; casino's order differs, which the parser must not care about.
	return string(b)
}

func TestAnalyzeLogsMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	var b strings.Builder
	var durs []float64
	perMin := map[int64][2]int{}
	for i := range 20000 {
		ts := start.Add(time.Duration(i) * 20 * time.Millisecond * 3)
		status := 200
		if rng.IntN(10) == 0 {
			status = 500 + rng.IntN(4)
		}
		d := float64(rng.IntN(100000)) / 1000
		b.WriteString(logLine(ts, status, d, fmt.Sprintf("req%d", i)) + "\n")
		if i%100 == 0 {
			b.WriteString(`{"ts":"2026-11-29T03:00:00Z","level":"info","event":"startup","addr":"x"}` + "\n")
			b.WriteString(`{ "ts": "` + ts.Format(time.RFC3339Nano) + `", "event": "request", "status_code": 200, "duration_ms": 1.5, "request_id": "spaced" }` + "\n")
			durs = append(durs, 1.5)
			c := perMin[ts.Unix()/60]
			c[0]++
			perMin[ts.Unix()/60] = c
		}
		durs = append(durs, d)
		c := perMin[ts.Unix()/60]
		c[0]++
		if status >= 500 {
			c[1]++
		}
		perMin[ts.Unix()/60] = c
	}
	s, err := AnalyzeLogs(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	sort.Float64s(durs)
	if want := durs[int(float64(len(durs))*0.95)]; s.P95MS != want {
		t.Errorf("p95 = %v, want %v", s.P95MS, want)
	}
	if s.Requests != len(durs) {
		t.Errorf("requests = %d, want %d", s.Requests, len(durs))
	}
	if len(s.Minutes) != len(perMin) {
		t.Fatalf("minutes = %d, want %d", len(s.Minutes), len(perMin))
	}
	for _, m := range s.Minutes {
		if c := perMin[m.Minute.Unix()/60]; m.Total != c[0] || m.Errors != c[1] {
			t.Errorf("minute %s = %d/%d, want %d/%d", m.Minute, m.Errors, m.Total, c[1], c[0])
		}
	}
	if s.BadLines != 0 {
		t.Errorf("bad lines = %d", s.BadLines)
	}
}

func series(counts ...[2]int) string {
	start := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	var b strings.Builder
	n := 0
	for i, c := range counts {
		for j := range c[1] {
			st := 200
			if j < c[0] {
				st = 503
			}
			n++
			b.WriteString(logLine(start.Add(time.Duration(i)*time.Minute+time.Duration(j)*time.Millisecond), st, 5, fmt.Sprint("id", n)) + "\n")
		}
	}
	return b.String()
}

func TestFiveXXDropping(t *testing.T) {
	cases := []struct {
		name   string
		counts [][2]int // {5xx, total} per minute
		want   string
	}{
		{"no errors", [][2]int{{0, 10}, {0, 10}}, Pass},
		{"recovered", [][2]int{{8, 10}, {5, 10}, {0, 10}}, Pass},
		{"dropping", [][2]int{{8, 10}, {5, 10}, {2, 10}}, Pass},
		{"steady", [][2]int{{5, 10}, {5, 10}, {5, 10}}, Fail},
		{"rising", [][2]int{{1, 10}, {3, 10}, {6, 10}}, Fail},
		{"bounced back up", [][2]int{{8, 10}, {1, 10}, {4, 10}}, Fail},
		{"one bad minute", [][2]int{{5, 10}}, Fail},
		{"noisy but falling", [][2]int{{40, 100}, {30, 100}, {20, 100}, {15, 100}, {10, 100}, {4, 100}, {2, 100}, {3, 100}}, Pass},
		{"noisy and flat", [][2]int{{40, 100}, {5, 100}, {6, 100}, {5, 100}, {6, 100}, {5, 100}, {6, 100}, {5, 100}}, Fail},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := AnalyzeLogs(strings.NewReader(series(c.counts...)))
			if err != nil {
				t.Fatal(err)
			}
			if got, detail := FiveXXDropping(s); got != c.want {
				t.Errorf("got %s (%s), want %s", got, detail, c.want)
			}
		})
	}
}

func TestP95AgainstBaseline(t *testing.T) {
	start := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	// 10 minutes before impact at ~10 ms, 10 minutes of incident at ~900 ms,
	// then 5 minutes at recentMS.
	logs := func(recentMS float64) string {
		var b strings.Builder
		for m := range 25 {
			d := 10.0
			switch {
			case m >= 10 && m < 20:
				d = 900
			case m >= 20:
				d = recentMS
			}
			for i := range 20 {
				b.WriteString(logLine(start.Add(time.Duration(m)*time.Minute+time.Duration(i)*time.Second), 200, d+float64(i%3), "x") + "\n")
			}
		}
		return b.String()
	}
	impact := start.Add(10 * time.Minute)
	cases := []struct {
		name     string
		recent   float64
		baseline float64
		want     string
	}{
		{"recovered, baseline from the logs before impact", 10, 0, Pass},
		{"still slow, baseline from the logs", 400, 0, Fail},
		{"recovered against a flag baseline", 10, 15, Pass},
		{"slower than the flag baseline", 30, 15, Fail},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := &Validator{Logs: strings.NewReader(logs(c.recent)), BaselineP95MS: c.baseline, P95Tolerance: 0.2, Window: 5 * time.Minute, ImpactStart: impact}
			got, detail := checkLogsP95(nil, v)
			if got != c.want {
				t.Errorf("got %s (%s), want %s", got, detail, c.want)
			}
		})
	}
	v := &Validator{Logs: strings.NewReader(logs(10)), Window: 5 * time.Minute}
	if got, detail := checkLogsP95(nil, v); got != Fail || !strings.Contains(detail, "no baseline") {
		t.Errorf("without any baseline: %s %s", got, detail)
	}
}

// TestAnalyzeLogsExcludesExactRequestIDs: dr's own requests are left out by
// the exact ids the server echoed, not by a prefix or a user agent a client
// could choose; spaced JSON lines too.
func TestAnalyzeLogsExcludesExactRequestIDs(t *testing.T) {
	ts := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	lines := []string{
		logLine(ts, 200, 900, "dr-login-1"), // validate's slow login: excluded
		logLine(ts, 500, 5, "dr-login-1x"),  // shares a prefix: counted
		logLine(ts, 200, 10, "client-1"),    // counted
		`{ "ts": "2026-11-29T03:00:01Z", "event": "request", "status_code": 200, "duration_ms": 800, "request_id": "dr-ver-2" }`,
	}
	s, err := AnalyzeLogsExcluding(strings.NewReader(strings.Join(lines, "\n")+"\n"), map[string]bool{"dr-login-1": true, "dr-ver-2": true})
	if err != nil {
		t.Fatal(err)
	}
	if s.Requests != 2 || s.Errors != 1 || s.Excluded != 2 || s.P95MS != 10 {
		t.Errorf("requests %d errors %d excluded %d p95 %v; want 2, 1, 2, 10", s.Requests, s.Errors, s.Excluded, s.P95MS)
	}
}
