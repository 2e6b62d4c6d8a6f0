package main

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"casino/internal/testdb"
	"casino/sqlstore"
)

// TestAuditPageSurvivesLargeSettings (issue 14, finding 2): fourteen large
// setting writes by a tenant admin made the audit API answer 10.5 MB, over
// the console's limit, and the owner's audit page answered 500 for good.
// Now lists carry the start of long values, bounded, and the whole value is
// on the event's own page, on both engines.
func TestAuditPageSurvivesLargeSettings(t *testing.T) {
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		cheapHashes(t)
		srv := startServe(t, map[string]string{"DATABASE_URL": testdb.URL(t, engine), "CASINO_OWNER_PASSWORD": uiOwnerPassword}, true)
		seedTenants(t, srv.URL)
		admin := loginToken(t, srv.URL, uiAdminEmail, uiAdminPassword)
		// Sent raw, '<' fits 65000 times in the 64 KiB limit; the audit
		// row's JSON escapes it as \u003c, six bytes per character.
		for i := 0; i < 14; i++ {
			body := `{"type":"string","value":"` + strings.Repeat(string("<>"[i%2]), 65000) + `"}`
			req, _ := http.NewRequest("PUT", srv.URL+"/api/v1/settings/banner", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+admin)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("write %d: %d", i+1, resp.StatusCode)
			}
		}
		owner := loginToken(t, srv.URL, "admin@casino.com", uiOwnerPassword)
		a := apiDo(t, "GET", srv.URL+"/api/v1/audit?limit=500&action=setting.update", owner, nil, "")
		if a.Status != 200 || len(a.Raw) > 256<<10 {
			t.Fatalf("audit list: %d, %d bytes; want 200 and at most 256 KiB", a.Status, len(a.Raw))
		}
		events, _ := a.Body["events"].([]any)
		if len(events) != 14 {
			t.Fatalf("audit list: %d events, want 14", len(events))
		}
		first := events[0].(map[string]any)
		if first["truncated"] != true {
			t.Errorf("a 65000-character change is not marked truncated: %v", first["truncated"])
		}
		id := int64(first["id"].(float64))
		full := apiDo(t, "GET", fmt.Sprintf("%s/api/v1/audit/%d", srv.URL, id), owner, nil, "")
		after, _ := full.Body["after"].(map[string]any)
		if v, _ := after["value"].(string); full.Status != 200 || len(v) != 65000 || full.Body["truncated"] != nil {
			t.Errorf("audit event %d: %d, value of %d characters; want 200 and the whole 65000", id, full.Status, len(v))
		}
		if a := apiDo(t, "GET", fmt.Sprintf("%s/api/v1/audit/%d", srv.URL, id), admin, nil, ""); a.Status != 200 {
			t.Errorf("the tenant admin's own event: %d", a.Status)
		}

		// The owner's console: the audit page renders, links to the whole
		// change, and the event's page shows it.
		cookie := uiLogin(t, srv.URL, "admin@casino.com", uiOwnerPassword)
		resp, body := uiGet(t, srv.URL+"/audit", cookie)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "<code>setting.update</code>") {
			t.Fatalf("owner's audit page: %d\n%.500s", resp.StatusCode, body)
		}
		m := regexp.MustCompile(`href="(/audit/\d+)"`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("audit page has no link to a whole event")
		}
		resp, body = uiGet(t, srv.URL+m[1], cookie)
		if resp.StatusCode != http.StatusOK || strings.Count(body, "&lt;")+strings.Count(body, "&gt;") < 65000 {
			t.Errorf("audit event page %s: %d, want 200 with the whole value", m[1], resp.StatusCode)
		}
		// Settings lists are bounded the same way: the tenant admin's
		// settings page shows the start of a long value and links to it.
		adminCookie := uiLogin(t, srv.URL, uiAdminEmail, uiAdminPassword)
		resp, body = uiGet(t, srv.URL+"/settings", adminCookie)
		if resp.StatusCode != http.StatusOK || len(body) > 64<<10 || !strings.Contains(body, `href="/settings/value?key=banner"`) {
			t.Fatalf("tenant admin's settings page: %d, %d bytes, want 200, small, with a link to the whole value", resp.StatusCode, len(body))
		}
		resp, body = uiGet(t, srv.URL+"/settings/value?key=banner", adminCookie)
		if resp.StatusCode != http.StatusOK || strings.Count(body, "&gt;")+strings.Count(body, "&lt;") < 65000 {
			t.Errorf("setting value page: %d, want 200 with the whole value", resp.StatusCode)
		}
		// Another tenant's admin cannot read the event.
		if a := apiDo(t, "GET", srv.URL+"/api/v1/audit/1", admin, nil, ""); a.Status != 404 {
			t.Errorf("tenant admin reading the owner's first event: %d, want 404", a.Status)
		}
	})
}
