package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestUIConfigValidation(t *testing.T) {
	t.Parallel()
	base := map[string]string{}
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
	}{
		{"bad cookie mode", map[string]string{"CASINO_UI_SECURE_COOKIE": "sometimes"}, nil, "invalid CASINO_UI_SECURE_COOKIE"},
		{"bad cookie flag", nil, []string{"--ui-secure-cookie", "x"}, "invalid --ui-secure-cookie"},
		{"bad timeout", map[string]string{"CASINO_UI_BACKEND_TIMEOUT": "soon"}, nil, "invalid CASINO_UI_BACKEND_TIMEOUT"},
		{"zero ready timeout", nil, []string{"--ui-ready-timeout", "0s"}, "invalid --ui-ready-timeout"},
		{"no backend url", nil, []string{"--backend-url", ""}, "is required with --role frontend-admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tt.env {
				env[k] = v
			}
			args := append([]string{"serve", "--role", "frontend-admin", "--backend-url", "http://backend:8080", "--print-config"}, tt.args...)
			_, stderr, code := runCLI(t, env, "", args...)
			if code != 2 || !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tt.wantErr)
			}
		})
	}
	out, _, code := runCLI(t, map[string]string{"CASINO_UI_SECURE_COOKIE": "always"}, "", "serve", "--role", "frontend-admin", "--backend-url", "http://backend:8080", "--print-config")
	if code != 0 || !strings.Contains(out, `"ui_secure_cookie": "always"`) {
		t.Errorf("print-config: exit %d\n%s", code, out)
	}
}

// TestRoleAllRouting: role all sends the API's paths and /metrics to the
// backend and everything else to the console, as the ServeMux it replaced
// did (an unclean /api/ path reaches the backend, whose mux redirects it).
func TestRoleAllRouting(t *testing.T) {
	t.Parallel()
	var got string
	h := roleAll{
		backend: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { got = "backend" }),
		ui:      http.HandlerFunc(func(http.ResponseWriter, *http.Request) { got = "ui" }),
	}
	for path, want := range map[string]string{
		"/api/health": "backend", "/api/": "backend", "/api": "backend", "/api/../x": "backend",
		"/metrics": "backend", "/metrics/": "ui", "/metricsx": "ui", "/apix": "ui",
		"/": "ui", "/login": "ui", "/static/app.css": "ui",
	} {
		got = ""
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "http://x"+path, nil))
		if got != want {
			t.Errorf("%s went to %q, want %q", path, got, want)
		}
	}
}
