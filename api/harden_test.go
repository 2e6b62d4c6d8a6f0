package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"casino"
	"casino/api"
	"casino/auth"
	"casino/internal/testdb"
	"casino/sqlstore"
)

// TestReactivatedTenantTokensStayInvalid (issue 14, finding 8): a token
// issued before its tenant was suspended does not come back to life when
// the tenant is reactivated; a new login works.
func TestReactivatedTenantTokensStayInvalid(t *testing.T) {
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		t.Parallel()
		e := newAPIEnv(t, engine)
		owner := e.login(ownerEmail, ownerPassword)
		tid := e.createTenant(owner, "revive")
		old := e.createAdmin(owner, tid, "revive@casino.com")
		path := fmt.Sprintf("/api/v1/tenants/%d", tid)
		if r := e.call("GET", path, old, nil); r.Status != 200 {
			t.Fatalf("token before suspension: got %s", r)
		}
		if r := e.call("PATCH", path, owner, map[string]string{"status": "suspended"}); r.Status != 200 {
			t.Fatalf("suspend: got %s", r)
		}
		if r := e.call("GET", path, old, nil); r.Status != 401 {
			t.Errorf("token while suspended: got %s, want 401", r)
		}
		if r := e.call("PATCH", path, owner, map[string]string{"status": "active"}); r.Status != 200 {
			t.Fatalf("reactivate: got %s", r)
		}
		if r := e.call("GET", path, old, nil); r.Status != 401 {
			t.Errorf("token from before the suspension, after reactivation: got %s, want 401", r)
		}
		fresh := e.login("revive@casino.com", "tenant-admin-password-1")
		if r := e.call("GET", path, fresh, nil); r.Status != 200 {
			t.Errorf("new token after reactivation: got %s", r)
		}
		// Renaming an active tenant does not log its admins out.
		if r := e.call("PATCH", path, owner, map[string]string{"name": "Renamed"}); r.Status != 200 {
			t.Fatalf("rename: got %s", r)
		}
		if r := e.call("GET", path, fresh, nil); r.Status != 200 {
			t.Errorf("token after a rename: got %s", r)
		}
	})
}

// TestAuditKeepsClientRequestIDApart (issue 14, finding 8): a client's
// X-Request-ID no longer goes into audit rows as the request id; the row
// carries the server's id as request_id and the client's as
// client_request_id, on both engines.
func TestAuditKeepsClientRequestIDApart(t *testing.T) {
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		t.Parallel()
		db := testdb.Open(t, engine)
		hasher, _ := auth.NewHasher(auth.HasherConfig{Params: testParams, MaxConcurrent: 2, AllowWeakForTests: true})
		tokens, _ := auth.NewTokens(auth.NewKey(), 30*time.Minute)
		hash, _ := hasher.Hash(context.Background(), ownerPassword)
		db.EnsureOwner(context.Background(), ownerEmail, hash)
		// No trusted proxies: every caller is a client.
		srv := httptest.NewServer(api.NewServer(api.Config{
			Build: casino.Build(), Store: db, Versions: db,
			Auth:   auth.NewService(db, hasher, tokens, auth.DefaultThrottle, nil),
			Hasher: hasher, Tenants: db, Users: db, Settings: db, Audit: db, System: db,
		}))
		t.Cleanup(srv.Close)
		e := &apiEnv{t: t, db: db, srv: srv}
		owner := e.login(ownerEmail, ownerPassword)
		req, _ := http.NewRequest("PUT", srv.URL+"/api/v1/settings/motd", strings.NewReader(`{"type":"string","value":"hello"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+owner)
		req.Header.Set("X-Request-ID", "chosen-by-client-1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		serverID := resp.Header.Get("X-Request-Id")
		if resp.StatusCode != 200 || len(serverID) != 32 {
			t.Fatalf("put setting: %d, X-Request-Id %q", resp.StatusCode, serverID)
		}
		r := e.call("GET", "/api/v1/audit?action=setting.update", owner, nil)
		events, _ := r.Body["events"].([]any)
		if len(events) != 1 {
			t.Fatalf("audit: %s", r)
		}
		ev := events[0].(map[string]any)
		if ev["request_id"] != serverID || ev["client_request_id"] != "chosen-by-client-1" {
			t.Errorf("audit row: request_id %v, client_request_id %v; want %q and chosen-by-client-1", ev["request_id"], ev["client_request_id"], serverID)
		}
	})
}
