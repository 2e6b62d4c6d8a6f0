package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"casino/sqlstore"
)

// Finding 1: made-up methods and paths, sent with no login, must not grow
// /metrics. 1,000 distinct ones leave the requests series at a handful.
func TestMetricsBoundedUnderMadeUpMethodsAndPaths(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, sqlstore.SQLite)
	paths := []string{"/api/health", "/api/v1/tenants", "/api/v1/auth/login"}
	for i := range 1000 {
		r := e.call(fmt.Sprintf("X%04d", i), fmt.Sprintf("/made-up/%d", i), "", nil)
		if r.Status != http.StatusNotFound {
			t.Fatalf("X%04d /made-up/%d: %s, want 404", i, i, r)
		}
		e.call(fmt.Sprintf("Y%04d", i), paths[i%len(paths)], "", nil)
	}
	r := e.call("GET", "/metrics", "", nil)
	var lines []string
	for _, l := range strings.Split(string(r.Raw), "\n") {
		if strings.HasPrefix(l, "casino_http_requests_total{") {
			lines = append(lines, l)
			if strings.Contains(l, `method="X`) || strings.Contains(l, `method="Y`) || strings.Contains(l, "made-up") {
				t.Errorf("client-chosen label value: %s", l)
			}
		}
	}
	// {OTHER, unmatched, 404}, {OTHER, unmatched, 405} and nothing else
	// (the /metrics scrape itself is counted after it answers).
	if len(lines) > 2 {
		t.Errorf("%d casino_http_requests_total series after 2,000 made-up requests, want 2:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	if len(r.Raw) > 64<<10 {
		t.Errorf("/metrics is %d bytes after made-up requests", len(r.Raw))
	}
}

// Finding 8: every API answer carries X-Content-Type-Options: nosniff, the
// probes, the mux's own 404 and 405, and error answers of every kind.
func TestNosniffOnEveryAPIAnswer(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, sqlstore.SQLite)
	for _, tt := range []struct {
		method, path string
		body         any
		status       int
	}{
		{"GET", "/api/health", nil, 200},
		{"GET", "/api/ready", nil, 200},
		{"GET", "/api/version", nil, 200},
		{"GET", "/metrics", nil, 200},
		{"GET", "/nowhere", nil, 404},
		{"DELETE", "/api/health", nil, 405},
		{"GET", "/api/v1/tenants", nil, 401},
		{"POST", "/api/v1/auth/login", "{not json", 400},
		{"POST", "/api/v1/auth/login", map[string]string{"email": ownerEmail, "password": ownerPassword}, 200},
	} {
		r := e.call(tt.method, tt.path, "", tt.body)
		if r.Status != tt.status {
			t.Errorf("%s %s: %s, want %d", tt.method, tt.path, r, tt.status)
		}
		if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s %s: X-Content-Type-Options = %q, want nosniff", tt.method, tt.path, got)
		}
	}
}
