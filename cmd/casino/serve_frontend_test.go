package main

import (
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
