package main

import (
	"os"
	"strings"
	"testing"
)

// TestDRValidateBrowser runs the UI smoke in a real headless Chromium
// against a real server: it passes for the owner, and fails (naming the
// step) with a wrong password.
func TestDRValidateBrowser(t *testing.T) {
	if _, err := os.Stat(chromium()); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Chromium is required in CI: %v", err)
		}
		t.Skipf("no Chromium at %s (set CASINO_CHROMIUM)", chromium())
	}
	f := newDRFixture(t)
	srv, _ := serveSQLite(t)
	f.Env["CASINO_OWNER_PASSWORD"] = testOwnerPassword
	f.Env["CASINO_CHROMIUM"] = chromium()
	out, errOut, code := f.validate(t, srv, "--checks", "browser", "--browser")
	if code != 0 || !strings.Contains(out, "login ok; tenants ok; versions ok; logout ok") {
		t.Fatalf("browser smoke: exit %d\n%s\n%s", code, out, errOut)
	}
	f.Env["CASINO_OWNER_PASSWORD"] = "wrong-password-123456"
	out, errOut, code = f.validate(t, srv, "--checks", "browser", "--browser", "--timeout", "60s")
	if code != 1 || !strings.Contains(errOut, "FAIL: browser") || !strings.Contains(out, "FAIL tenants") {
		t.Fatalf("browser smoke with a wrong password: exit %d\n%s\n%s", code, out, errOut)
	}
}
