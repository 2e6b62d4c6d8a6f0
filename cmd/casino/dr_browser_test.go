package main

import (
	"encoding/json"
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
	logged := len(srv.Stdout.String())
	out, errOut, code := f.validate(t, srv, "--checks", "browser", "--browser", "--json")
	if code != 0 || !strings.Contains(out, "login ok; tenants ok; versions ok; logout ok") {
		t.Fatalf("browser smoke: exit %d\n%s\n%s", code, out, errOut)
	}
	// Every request the browser made is known by the id the server echoed,
	// so the log checks leave it out.
	var val struct {
		Sent []string `json:"sent_request_ids"`
	}
	json.Unmarshal([]byte(out), &val)
	sent := map[string]bool{}
	for _, id := range val.Sent {
		sent[id] = true
	}
	n := 0
	for _, line := range strings.Split(srv.Stdout.String()[logged:], "\n") {
		var ev struct {
			Event     string `json:"event"`
			RequestID string `json:"request_id"`
		}
		if json.Unmarshal([]byte(line), &ev) != nil || ev.Event != "request" {
			continue
		}
		n++
		if !sent[ev.RequestID] {
			t.Errorf("the browser's request %s is not among validate's sent ids: %s", ev.RequestID, line)
		}
	}
	if n < 4 {
		t.Errorf("only %d request lines logged during the browser smoke", n)
	}
	f.Env["CASINO_OWNER_PASSWORD"] = "wrong-password-123456"
	out, errOut, code = f.validate(t, srv, "--checks", "browser", "--browser", "--timeout", "60s")
	if code != 1 || !strings.Contains(errOut, "FAIL: browser") || !strings.Contains(out, "FAIL tenants") {
		t.Fatalf("browser smoke with a wrong password: exit %d\n%s\n%s", code, out, errOut)
	}
}
