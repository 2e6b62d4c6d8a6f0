package api_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"casino"
	"casino/api"
	"casino/internal/logcheck"
	"casino/internal/testdb"
	"casino/logging"
	"casino/sqlstore"
)

// lockedBuffer collects log output from concurrent handlers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newTestServer serves the API over a real database of the engine on a real
// HTTP server at 127.0.0.1, logging into the returned buffer.
func newTestServer(t *testing.T, engine sqlstore.Dialect) (*httptest.Server, *api.Server, *lockedBuffer) {
	t.Helper()
	db := testdb.Open(t, engine)
	logs := &lockedBuffer{}
	srv := api.NewServer(api.Config{
		Logger:   logging.New(logs, 0),
		Build:    casino.Build(),
		Store:    db,
		Versions: db,
	})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts, srv, logs
}

func do(t *testing.T, method, url string, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// TestLogLinesFollowSchema sends real requests of every kind and validates
// each emitted line against docs/ops/log_schema.json.
func TestLogLinesFollowSchema(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		ts, _, logs := newTestServer(t, engine)
		reqs := []struct {
			method, path string
			hdr          map[string]string
			wantStatus   int
		}{
			{"GET", "/api/health", nil, 200},
			{"GET", "/api/ready", nil, 200},
			{"GET", "/api/version", nil, 200},
			{"GET", "/metrics", nil, 200},
			{"GET", "/api/nope", nil, 404},
			{"DELETE", "/api/health", nil, 405},
			{"GET", "/api/health", map[string]string{"X-Request-ID": "ops-check.1_a"}, 200},
			{"GET", "/api/health", map[string]string{"X-Request-ID": "bad id with spaces"}, 200},
			{"GET", "/api/health", map[string]string{"X-Request-ID": strings.Repeat("a", 129)}, 200},
			{"GET", "/api/health?token=secret", map[string]string{"User-Agent": "logcheck/1"}, 200},
		}
		for _, r := range reqs {
			resp, _ := do(t, r.method, ts.URL+r.path, "", r.hdr)
			if resp.StatusCode != r.wantStatus {
				t.Errorf("%s %s: got %d, want %d", r.method, r.path, resp.StatusCode, r.wantStatus)
			}
		}
		lines := logcheck.Lines(t, logs.String())
		reqLines := logcheck.Events(lines, logging.EventRequest)
		if got, want := len(reqLines), len(reqs); got != want {
			t.Fatalf("request log lines: got %d, want %d", got, want)
		}
		for i, l := range reqLines {
			if got, want := int(l["status_code"].(float64)), reqs[i].wantStatus; got != want {
				t.Errorf("line %d status_code: got %d, want %d", i, got, want)
			}
		}
		if got := reqLines[0]["route"]; got != "GET /api/health" {
			t.Errorf("route: got %v, want the pattern", got)
		}
		if got := reqLines[4]["route"]; got != "unmatched" {
			t.Errorf("404 route: got %v, want unmatched", got)
		}
		if got := reqLines[6]["request_id"]; got != "ops-check.1_a" {
			t.Errorf("valid X-Request-ID not honoured: got %v", got)
		}
		for _, i := range []int{7, 8} {
			if id := reqLines[i]["request_id"].(string); len(id) != 32 {
				t.Errorf("invalid X-Request-ID must be replaced by a generated one, got %q", id)
			}
		}
		if strings.Contains(logs.String(), "secret") {
			t.Errorf("query string leaked into the log: %s", logs.String())
		}
	})
}
