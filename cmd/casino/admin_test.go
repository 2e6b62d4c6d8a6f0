package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestAuthConfig: identity settings are validated at start, env first,
// flags override, and --print-config masks the secrets.
func TestAuthConfig(t *testing.T) {
	t.Parallel()
	db := "sqlite:" + filepath.Join(t.TempDir(), "c.db")
	for _, c := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"CASINO_TOKEN_TTL": "forever"}, nil, "invalid CASINO_TOKEN_TTL"},
		{nil, []string{"--token-ttl", "-5m"}, "invalid --token-ttl"},
		{map[string]string{"CASINO_JWT_KEY": "short"}, nil, "invalid CASINO_JWT_KEY"},
		{map[string]string{"CASINO_OWNER_PASSWORD": "short"}, nil, "invalid CASINO_OWNER_PASSWORD"},
		{map[string]string{"CASINO_OWNER_EMAIL": "not-an-email"}, nil, "invalid CASINO_OWNER_EMAIL"},
		{map[string]string{"CASINO_LOGIN_MAX_ACCOUNT_FAILURES": "0"}, nil, "invalid CASINO_LOGIN_MAX_ACCOUNT_FAILURES"},
		{nil, []string{"--login-max-ip-failures", "x"}, "invalid --login-max-ip-failures"},
		{nil, []string{"--login-window", "0s"}, "invalid --login-window"},
	} {
		env := map[string]string{"DATABASE_URL": db}
		for k, v := range c.env {
			env[k] = v
		}
		_, errOut, code := runCLI(t, env, "", append([]string{"serve"}, c.args...)...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v %v: exit %d %q, want 2 and %q", c.env, c.args, code, errOut, c.want)
		}
	}
	env := map[string]string{"DATABASE_URL": db, "CASINO_OWNER_PASSWORD": "print-config-owner-pw", "CASINO_JWT_KEY": "print-config-signing-key-0123456789abcdef", "CASINO_TOKEN_TTL": "10m"}
	out, _, code := runCLI(t, env, "", "serve", "--print-config", "--token-ttl", "15m", "--login-max-account-failures", "3")
	if code != 0 || strings.Contains(out, "print-config-owner-pw") || strings.Contains(out, "print-config-signing-key") ||
		!strings.Contains(out, `"token_ttl": "15m0s"`) || !strings.Contains(out, `"login_max_account_failures": 3`) || !strings.Contains(out, `"jwt_key": "xxxxx"`) {
		t.Errorf("print-config: %d %s", code, out)
	}
}
