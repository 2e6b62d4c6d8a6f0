package observe_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"casino/observe"
)

// newServer serves mux behind Middleware on a real listener; every route of
// mux records its pattern as the code's routes do.
func newServer(t *testing.T, reg prometheus.Registerer) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	route := func(pattern string, h http.HandlerFunc) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			observe.SetRoute(r.Context(), pattern)
			h(w, r)
		})
	}
	route("GET /ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	route("GET /panic", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	route("GET /id", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, observe.RequestID(r.Context())) })
	ts := httptest.NewServer(observe.Middleware(nil, observe.NewMetrics(reg), nil, mux))
	t.Cleanup(ts.Close)
	return ts
}

func send(t *testing.T, method, url string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// Made-up methods and paths must not become label values: 1,000 distinct ones
// add at most one series per (closed) label set.
func TestMetricsLabelsAreBounded(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	ts := newServer(t, reg)
	for i := range 1000 {
		send(t, fmt.Sprintf("M%04d", i), fmt.Sprintf("%s/made-up/%d", ts.URL, i), nil)
	}
	send(t, "GET", ts.URL+"/ok", nil)
	send(t, "get", ts.URL+"/ok", nil) // methods are case-sensitive: not GET

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	allowedMethod := map[string]bool{"GET": true, observe.OtherMethod: true}
	allowedRoute := map[string]bool{"GET /ok": true, observe.Unmatched: true}
	series := 0
	for _, f := range families {
		for _, m := range f.GetMetric() {
			series++
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "method":
					if !allowedMethod[l.GetValue()] {
						t.Errorf("%s has method label %q", f.GetName(), l.GetValue())
					}
				case "route":
					if !allowedRoute[l.GetValue()] {
						t.Errorf("%s has route label %q", f.GetName(), l.GetValue())
					}
				}
			}
		}
	}
	// requests_total: {OTHER, unmatched, 404} for the made-up paths,
	// {OTHER, unmatched, 405} for "get /ok", {GET, GET /ok, 200}; the
	// duration histogram: {OTHER, unmatched} and {GET, GET /ok}.
	if series != 5 {
		t.Errorf("%d series after 1,000 distinct methods and paths; want 5", series)
	}
}

// Every answer carries nosniff and the request id: a route's, the mux's own
// 404 and a recovered panic's 500, which names the request id in the API's
// error shape.
func TestEveryAnswerIsMarked(t *testing.T) {
	t.Parallel()
	ts := newServer(t, nil)
	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/ok", 200},
		{"GET", "/nowhere", 404},
		{"POST", "/ok", 405},
		{"GET", "/panic", 500},
	} {
		resp, body := send(t, tt.method, ts.URL+tt.path, map[string]string{"X-Request-ID": "req-" + strings.ToLower(tt.method)})
		if resp.StatusCode != tt.status {
			t.Errorf("%s %s: status %d, want %d", tt.method, tt.path, resp.StatusCode, tt.status)
		}
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s %s: X-Content-Type-Options = %q, want nosniff", tt.method, tt.path, got)
		}
		if got := resp.Header.Get("X-Request-Id"); got != "req-"+strings.ToLower(tt.method) {
			t.Errorf("%s %s: X-Request-Id = %q", tt.method, tt.path, got)
		}
		if tt.status == 500 {
			var eb struct {
				Error     struct{ Code, Message string }
				RequestID string `json:"request_id"`
			}
			if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Error.Code != "internal" || eb.RequestID != "req-get" || strings.Contains(body, "boom") {
				t.Errorf("panic answer = %s (%v)", body, err)
			}
		}
	}
}

// An X-Request-ID that is not [A-Za-z0-9._-]{1,128} is replaced, never
// echoed.
func TestRequestIDHonouredOnlyWhenValid(t *testing.T) {
	t.Parallel()
	ts := newServer(t, nil)
	for in, keep := range map[string]bool{
		"abc-123_x.y":            true,
		strings.Repeat("a", 128): true,
		strings.Repeat("a", 129): false,
		"has space":              false,
		"quote\"":                false,
	} {
		resp, body := send(t, "GET", ts.URL+"/id", map[string]string{"X-Request-ID": in})
		got := resp.Header.Get("X-Request-Id")
		if got != body {
			t.Errorf("header %q, handler saw %q", got, body)
		}
		if (got == in) != keep {
			t.Errorf("X-Request-ID %q: answered with %q; kept = %v, want %v", in, got, got == in, keep)
		}
		if !keep && len(got) != 32 {
			t.Errorf("X-Request-ID %q replaced by %q, want 32 hex digits", in, got)
		}
	}
}
