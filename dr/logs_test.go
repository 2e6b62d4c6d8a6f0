package dr

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"sync"
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

// Right after a fix the newest minute still holds the errors from before
// it: the check says the minute is incomplete and how long to wait, and the
// verdict turns once the next minute logs requests.
func TestFiveXXSaysWhenTheNewestMinuteIsIncomplete(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	var b strings.Builder
	for i := range 20 { // 03:00: half failing
		b.WriteString(logLine(t0.Add(time.Duration(i)*time.Second), 200+303*(i%2), 5, fmt.Sprint("a", i)) + "\n")
	}
	for i := range 30 { // 03:01: all failing until the fix at 03:01:25
		st := 200
		if i < 25 {
			st = 503
		}
		b.WriteString(logLine(t0.Add(time.Minute+time.Duration(i)*time.Second), st, 5, fmt.Sprint("b", i)) + "\n")
	}
	s, err := AnalyzeLogs(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		now       time.Time
		want      string
		contains  string
		notExists string
	}{
		{"during the minute", t0.Add(time.Minute + 35*time.Second), Fail, "the newest minute 03:01 is still incomplete (25s left): wait 25s and validate again", ""},
		{"clock not known (a log read after the fact)", time.Time{}, Fail, "5xx/total per minute", "incomplete"},
		{"long after", t0.Add(time.Hour), Fail, "not dropping", "incomplete"},
	}
	for _, c := range cases {
		got, detail := FiveXX(s, FiveXXOptions{Window: 5 * time.Minute, Now: c.now})
		if got != c.want || !strings.Contains(detail, c.contains) || (c.notExists != "" && strings.Contains(detail, c.notExists)) {
			t.Errorf("%s: %s %q; want %s containing %q", c.name, got, detail, c.want, c.contains)
		}
	}
	// the next minute comes in clean: it passes, and says its minute is young
	b.WriteString(logLine(t0.Add(2*time.Minute+time.Second), 200, 5, "c1") + "\n")
	s, _ = AnalyzeLogs(strings.NewReader(b.String()))
	if got, detail := FiveXX(s, FiveXXOptions{Window: 5 * time.Minute, Now: t0.Add(2*time.Minute + 2*time.Second)}); got != Pass || !strings.Contains(detail, "03:02 is still incomplete (58s left)") || strings.Contains(detail, "validate again") {
		t.Errorf("after the minute rolled over: %s %q", got, detail)
	}
}

// The detail lists every minute of the window, minutes without requests
// included, and counts the minutes before it.
func TestFiveXXDetailShowsTheWholeWindow(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	var b strings.Builder
	for m := range 15 {
		if m == 12 {
			continue // nothing logged at 03:12
		}
		st := 200
		if m < 8 {
			st = 500
		}
		b.WriteString(logLine(t0.Add(time.Duration(m)*time.Minute), st, 5, fmt.Sprint("r", m)) + "\n")
	}
	s, err := AnalyzeLogs(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	_, detail := FiveXX(s, FiveXXOptions{Window: 5 * time.Minute})
	if want := "over the last 5m0s: 03:10 0/1, 03:11 0/1, 03:12 0/0, 03:13 0/1, 03:14 0/1 (and 10 logged minutes before)"; !strings.Contains(detail, want) {
		t.Errorf("5m window: %q\nwant it to contain %q", detail, want)
	}
	_, detail = FiveXX(s, FiveXXOptions{Window: time.Hour})
	if !strings.Contains(detail, ": 03:00 1/1, 03:01 1/1,") || !strings.Contains(detail, "03:14 0/1") || strings.Contains(detail, "before)") || strings.Count(detail, "/") != 1+15 {
		t.Errorf("1h window over 15 logged minutes: %q", detail)
	}
	// a window of days lists at most maxTrendMinutes
	var long strings.Builder
	for m := range 400 {
		long.WriteString(logLine(t0.Add(time.Duration(m)*time.Minute), 200, 5, fmt.Sprint("l", m)) + "\n")
	}
	s, _ = AnalyzeLogs(strings.NewReader(long.String()))
	if _, detail := FiveXX(s, FiveXXOptions{Window: 72 * time.Hour}); strings.Count(detail, "/") != 1+maxTrendMinutes || !strings.Contains(detail, "(and 220 logged minutes before)") {
		t.Errorf("72h window: %d minutes listed; %q", strings.Count(detail, "/")-1, detail[len(detail)-80:])
	}
}

// lazyReader reads what get returns at the first Read: the log checks read
// the logs after the HTTP checks ran, so the log holds validate's requests.
type lazyReader struct {
	get func() io.Reader
	r   io.Reader
}

func (l *lazyReader) Read(p []byte) (int, error) {
	if l.r == nil {
		l.r = l.get()
	}
	return l.r.Read(p)
}

// TestValidateLeavesOutItsOwnRequests: a server whose /api/ready answers
// 503 logs validate's own failing requests; the 5xx check leaves exactly
// those out, by the ids the server echoed. A client that sends validate's
// user agent, or an id that extends one of validate's, still counts.
func TestValidateLeavesOutItsOwnRequests(t *testing.T) {
	for _, c := range []struct {
		name  string
		extra func(validateIDs []string) []string
		want  string
	}{
		{"only validate failed", func([]string) []string { return nil }, Pass},
		{"a client with validate's user agent failed", func([]string) []string { return []string{"client-9"} }, Fail},
		{"a client id extending validate's failed", func(ids []string) []string { return []string{ids[0] + "x"} }, Fail},
	} {
		t.Run(c.name, func(t *testing.T) {
			var mu sync.Mutex
			var logs strings.Builder
			var ids []string
			n := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				n++
				id := fmt.Sprintf("srv-%d", n)
				ids = append(ids, id)
				w.Header().Set("X-Request-Id", id)
				w.WriteHeader(http.StatusServiceUnavailable)
				logs.WriteString(logLine(time.Now(), 503, 2, id) + "\n")
			}))
			defer srv.Close()
			now := time.Now().UTC()
			var before strings.Builder // healthy client traffic in the minutes before
			for m := 3; m >= 1; m-- {
				for i := range 10 {
					before.WriteString(logLine(now.Add(-time.Duration(m)*time.Minute).Add(time.Duration(i)*time.Millisecond), 200, 2, fmt.Sprint("c", m, i)) + "\n")
				}
			}
			v := &Validator{URL: srv.URL, Window: 5 * time.Minute, Logs: &lazyReader{get: func() io.Reader {
				mu.Lock()
				defer mu.Unlock()
				var more strings.Builder
				for _, id := range c.extra(ids) {
					line := strings.TrimSuffix(logLine(time.Now(), 503, 2, id), "}") + `,"user_agent":"casino-dr-validate"}`
					more.WriteString(line + "\n")
				}
				return strings.NewReader(before.String() + logs.String() + more.String())
			}}}
			val := v.Run(context.Background(), []Check{mustCheck(t, "ready"), mustCheck(t, "health"), mustCheck(t, "logs_5xx")})
			got := val.Checks[2]
			if got.Status != c.want {
				t.Fatalf("logs_5xx %s, want %s: %s", got.Status, c.want, got.Detail)
			}
			if c.want == Pass && !strings.Contains(got.Detail, fmt.Sprintf("%d requests dr itself sent left out", len(ids))) {
				t.Errorf("detail does not count validate's %d requests: %s", len(ids), got.Detail)
			}
			if len(ids) < 2 || !reflect.DeepEqual(val.SentRequestIDs, ids) {
				t.Errorf("sent ids %v, server answered %v", val.SentRequestIDs, ids)
			}
		})
	}
}

func mustCheck(t *testing.T, name string) Check {
	t.Helper()
	c, ok := FindCheck(name)
	if !ok {
		t.Fatalf("no check %q", name)
	}
	return c
}
