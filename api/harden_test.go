package api_test

import (
	"fmt"
	"testing"

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
