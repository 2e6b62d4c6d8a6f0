package api_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"casino"
	"casino/api"
	"casino/internal/testdb"
	"casino/logging"
	"casino/sqlstore"
)

func TestHealthReadyVersion(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		ts, srv, _ := newTestServer(t, engine)

		resp, body := do(t, "GET", ts.URL+"/api/health", "", nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/health+json" || !strings.Contains(body, `"status":"pass"`) {
			t.Errorf("health: got %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}

		resp, body = do(t, "GET", ts.URL+"/api/ready", "", nil)
		var ready api.ReadyBody
		json.Unmarshal([]byte(body), &ready)
		if resp.StatusCode != 200 || ready.Status != "pass" || ready.Checks["database"].Status != "pass" || ready.Checks["schema"].Status != "pass" {
			t.Errorf("ready: got %d %s", resp.StatusCode, body)
		}

		resp, body = do(t, "GET", ts.URL+"/api/version", "", nil)
		var v map[string]any
		json.Unmarshal([]byte(body), &v)
		for _, k := range []string{"version", "commit", "build_time", "go_version", "database"} {
			if s, _ := v[k].(string); s == "" {
				t.Errorf("version.%s is empty: %s", k, body)
			}
		}
		if v["database"] != string(engine) || v["schema_version"].(float64) != float64(sqlstore.LatestVersion(engine)) {
			t.Errorf("version: got %s", body)
		}

		// Draining for shutdown: ready fails at once, health stays up.
		srv.SetDraining()
		resp, body = do(t, "GET", ts.URL+"/api/ready", "", nil)
		if resp.StatusCode != 503 || !strings.Contains(body, `"shutdown"`) {
			t.Errorf("ready while draining: got %d %s", resp.StatusCode, body)
		}
		if resp, _ := do(t, "GET", ts.URL+"/api/health", "", nil); resp.StatusCode != 200 {
			t.Errorf("health while draining: got %d", resp.StatusCode)
		}
	})
}

// TestReadyFailsOnSchemaBehind: a database the binary has not migrated is
// not ready, and the failing check is named.
func TestReadyFailsOnSchemaBehind(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		db, err := sqlstore.Open(context.Background(), testdb.URL(t, engine))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		ts := httptest.NewServer(api.NewServer(api.Config{Logger: logging.Discard(), Build: casino.Build(), Store: db}))
		defer ts.Close()
		resp, body := do(t, "GET", ts.URL+"/api/ready", "", nil)
		var ready api.ReadyBody
		json.Unmarshal([]byte(body), &ready)
		if resp.StatusCode != 503 || ready.Status != "fail" || ready.Checks["schema"].Status != "fail" || ready.Checks["database"].Status != "pass" {
			t.Errorf("ready on unmigrated db: got %d %s", resp.StatusCode, body)
		}
	})
}

func TestErrorBodies(t *testing.T) {
	t.Parallel()
	ts, _, _ := newTestServer(t, sqlstore.SQLite)
	cases := []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/api/does-not-exist", 404, "not_found"},
		{"GET", "/", 404, "not_found"},
		{"POST", "/api/version", 405, "method_not_allowed"},
		{"PUT", "/api/ready", 405, "method_not_allowed"},
	}
	for _, c := range cases {
		resp, body := do(t, c.method, ts.URL+c.path, "", map[string]string{"X-Request-ID": "req-42"})
		var eb api.ErrorBody
		if err := json.Unmarshal([]byte(body), &eb); err != nil {
			t.Errorf("%s %s: body is not JSON: %s", c.method, c.path, body)
			continue
		}
		if resp.StatusCode != c.status || eb.Error.Code != c.code || eb.Error.Message == "" || eb.RequestID != "req-42" {
			t.Errorf("%s %s: got %d %+v, want %d %s", c.method, c.path, resp.StatusCode, eb, c.status, c.code)
		}
		if resp.Header.Get("X-Request-ID") != "req-42" {
			t.Errorf("%s %s: X-Request-ID not echoed", c.method, c.path)
		}
		if c.status == 405 && resp.Header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", c.method, c.path)
		}
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	ts, _, _ := newTestServer(t, sqlstore.SQLite)
	do(t, "GET", ts.URL+"/api/health", "", nil)
	do(t, "GET", ts.URL+"/api/nope", "", nil)
	_, body := do(t, "GET", ts.URL+"/metrics", "", nil)
	for _, want := range []string{
		`casino_http_requests_total{code="200",method="GET",route="GET /api/health"} 1`,
		`casino_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`casino_http_request_duration_seconds_bucket{method="GET",route="GET /api/health",le="+Inf"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
