package api_test

import (
	"fmt"
	"testing"

	"casino"
	"casino/internal/testdb"
	"casino/sqlstore"
)

// probe is a request that exercises one capability on the caller's own
// tenant (tenant) or on the platform.
type probe struct {
	method, path string
	body         any
}

func probes(tenant int64, n int) map[string]probe {
	return map[string]probe{
		casino.CapTenantsRead:           {"GET", fmt.Sprintf("/api/v1/tenants/%d", tenant), nil},
		casino.CapTenantsCreate:         {"POST", "/api/v1/tenants", map[string]string{"name": "P", "slug": fmt.Sprintf("probe-%d", n)}},
		casino.CapTenantsUpdate:         {"PATCH", fmt.Sprintf("/api/v1/tenants/%d", tenant), map[string]string{"name": "Renamed"}},
		casino.CapTenantAdminsRead:      {"GET", fmt.Sprintf("/api/v1/tenants/%d/admins", tenant), nil},
		casino.CapTenantAdminsCreate:    {"POST", fmt.Sprintf("/api/v1/tenants/%d/admins", tenant), map[string]string{"email": fmt.Sprintf("probe%d@casino.com", n), "password": "probe-password-123"}},
		casino.CapSettingsRead:          {"GET", fmt.Sprintf("/api/v1/settings?tenant_id=%d", tenant), nil},
		casino.CapSettingsWrite:         {"PUT", fmt.Sprintf("/api/v1/settings/probe?tenant_id=%d", tenant), map[string]any{"type": "int", "value": 1}},
		casino.CapPlatformSettingsRead:  {"GET", "/api/v1/settings?tenant_id=0", nil},
		casino.CapPlatformSettingsWrite: {"PUT", "/api/v1/settings/probe?tenant_id=0", map[string]any{"type": "bool", "value": true}},
		casino.CapAuditRead:             {"GET", "/api/v1/audit", nil},
		casino.CapVersionsRead:          {"GET", "/api/v1/versions", nil},
		casino.CapAdminStatus:           {"GET", "/api/v1/admin/status", nil},
		casino.CapAdminLoginFreeze:      {"POST", "/api/v1/admin/login-freeze", map[string]any{"enabled": false}},
		casino.CapAdminMaintenance:      {"POST", "/api/v1/admin/maintenance", map[string]any{"enabled": false}},
		casino.CapAdminDR:               {"GET", "/api/v1/admin/dr-status", nil},
	}
}

// TestCapabilityParity proves the capabilities answer and enforcement agree:
// for the owner and a tenant admin, every listed capability's probe
// succeeds and every unlisted one is refused with 403 or 404.
func TestCapabilityParity(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		e := newAPIEnv(t, engine)
		owner := e.login(ownerEmail, ownerPassword)
		tenant := e.createTenant(owner, "parity")
		admin := e.createAdmin(owner, tenant, "parity-admin@casino.com")
		for _, who := range []struct {
			name, token string
		}{{"owner", owner}, {"tenant_admin", admin}} {
			caps := e.call("GET", "/api/v1/tenants/capabilities", who.token, nil)
			listed := map[string]bool{}
			for _, c := range caps.Body["capabilities"].([]any) {
				listed[c.(string)] = true
			}
			ps := probes(tenant, len(who.name))
			for _, c := range casino.AllCapabilities {
				p, ok := ps[c]
				if !ok {
					t.Fatalf("capability %s has no probe: add one", c)
				}
				r := e.call(p.method, p.path, who.token, p.body)
				allowed := r.Status >= 200 && r.Status < 300
				if listed[c] && !allowed {
					t.Errorf("%s: %s is listed but %s %s answered %s", who.name, c, p.method, p.path, r)
				}
				if !listed[c] && r.Status != 403 && r.Status != 404 {
					t.Errorf("%s: %s is not listed but %s %s answered %s", who.name, c, p.method, p.path, r)
				}
			}
		}
	})
}

// TestIsolationMatrix: a tenant admin of A gets 403 or 404 for every
// tenant-scoped endpoint aimed at B, and never sees B's objects in a list.
func TestIsolationMatrix(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		e := newAPIEnv(t, engine)
		owner := e.login(ownerEmail, ownerPassword)
		a := e.createTenant(owner, "tenant-a")
		b := e.createTenant(owner, "tenant-b")
		adminA := e.createAdmin(owner, a, "a@casino.com")
		adminB := e.createAdmin(owner, b, "b@casino.com")
		// B's objects: a setting and audit events.
		if r := e.call("PUT", "/api/v1/settings/secret-b", adminB, map[string]any{"type": "string", "value": "b-only"}); r.Status != 200 {
			t.Fatalf("setting in B: %s", r)
		}
		if r := e.call("PUT", "/api/v1/settings/own-a", adminA, map[string]any{"type": "string", "value": "a-only"}); r.Status != 200 {
			t.Fatalf("setting in A: %s", r)
		}
		matrix := []probe{
			{"GET", fmt.Sprintf("/api/v1/tenants/%d", b), nil},
			{"PATCH", fmt.Sprintf("/api/v1/tenants/%d", b), map[string]string{"status": "suspended"}},
			{"PATCH", fmt.Sprintf("/api/v1/tenants/%d", b), map[string]string{"name": "hijacked"}},
			{"GET", fmt.Sprintf("/api/v1/tenants/%d/admins", b), nil},
			{"POST", fmt.Sprintf("/api/v1/tenants/%d/admins", b), map[string]string{"email": "evil@casino.com", "password": "evil-password-123"}},
			{"GET", fmt.Sprintf("/api/v1/settings?tenant_id=%d", b), nil},
			{"PUT", fmt.Sprintf("/api/v1/settings/secret-b?tenant_id=%d", b), map[string]any{"type": "string", "value": "overwritten"}},
			{"GET", fmt.Sprintf("/api/v1/audit?tenant_id=%d", b), nil},
			{"GET", "/api/v1/settings?tenant_id=0", nil},
			{"PUT", "/api/v1/settings/x?tenant_id=0", map[string]any{"type": "int", "value": 1}},
			{"POST", "/api/v1/tenants", map[string]string{"name": "x", "slug": "x-tenant"}},
			{"GET", "/api/v1/admin/status", nil},
			{"POST", "/api/v1/admin/login-freeze", map[string]any{"enabled": true}},
			{"POST", "/api/v1/admin/maintenance", map[string]any{"enabled": true}},
			{"GET", "/api/v1/admin/dr-status", nil},
			{"GET", "/api/v1/tenants/999999", nil},
		}
		for _, p := range matrix {
			r := e.call(p.method, p.path, adminA, p.body)
			if r.Status != 403 && r.Status != 404 {
				t.Errorf("admin of A: %s %s: got %s, want 403 or 404", p.method, p.path, r)
			}
		}
		// Lists: only A's objects.
		ts := e.call("GET", "/api/v1/tenants", adminA, nil)
		if list := ts.Body["tenants"].([]any); len(list) != 1 || int64(list[0].(map[string]any)["id"].(float64)) != a || ts.Body["total"] != float64(1) {
			t.Errorf("tenants as A: got %s", ts.Raw)
		}
		for _, path := range []string{"/api/v1/settings", fmt.Sprintf("/api/v1/settings?tenant_id=%d", a)} {
			ss := e.call("GET", path, adminA, nil)
			for _, s := range ss.Body["settings"].([]any) {
				if s.(map[string]any)["key"] != "own-a" {
					t.Errorf("settings as A: saw %v", s)
				}
			}
		}
		as := e.call("GET", "/api/v1/audit?limit=500", adminA, nil)
		if len(as.Body["events"].([]any)) == 0 {
			t.Errorf("audit as A: empty")
		}
		for _, ev := range as.Body["events"].([]any) {
			if tid, _ := ev.(map[string]any)["tenant_id"].(float64); int64(tid) != a {
				t.Errorf("audit as A: saw event of tenant %v: %v", ev.(map[string]any)["tenant_id"], ev)
			}
		}
		admins := e.call("GET", fmt.Sprintf("/api/v1/tenants/%d/admins", a), adminA, nil)
		if l := admins.Body["admins"].([]any); len(l) != 1 || l[0].(map[string]any)["email"] != "a@casino.com" {
			t.Errorf("admins as A: got %s", admins.Raw)
		}
		// B's setting is untouched.
		sb := e.call("GET", "/api/v1/settings", adminB, nil)
		if l := sb.Body["settings"].([]any); len(l) != 1 || l[0].(map[string]any)["value"] != "b-only" {
			t.Errorf("B's settings after A's attempts: %s", sb.Raw)
		}
		// The owner sees both.
		if r := e.call("GET", "/api/v1/tenants", owner, nil); r.Body["total"] != float64(2) {
			t.Errorf("tenants as owner: %s", r.Raw)
		}
	})
}
