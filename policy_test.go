package casino_test

import (
	"context"
	"slices"
	"testing"

	"casino"
)

// TestPolicyParity: CapabilitiesOf lists exactly the capabilities Allowed
// grants on the caller's own scope, and Authorize agrees with both.
func TestPolicyParity(t *testing.T) {
	t.Parallel()
	ids := []*casino.Identity{
		{UserID: 1, Role: casino.RoleOwner},
		{UserID: 2, Role: casino.RoleTenantAdmin, TenantID: 7},
		{UserID: 3, Role: "intruder", TenantID: 7},
		{UserID: 4, Role: casino.RoleTenantAdmin}, // no tenant: nothing
	}
	for _, id := range ids {
		listed := casino.CapabilitiesOf(id)
		ctx := casino.NewContextWithIdentity(context.Background(), id)
		for _, c := range casino.AllCapabilities {
			allowed := casino.Allowed(id, c, id.TenantID)
			if allowed != slices.Contains(listed, c) {
				t.Errorf("%s %s: listed %v, allowed %v", id.Role, c, slices.Contains(listed, c), allowed)
			}
			if err := casino.Authorize(ctx, c, id.TenantID); (err == nil) != allowed {
				t.Errorf("%s %s: Authorize %v, allowed %v", id.Role, c, err, allowed)
			}
			// Another tenant's object: never for a tenant admin.
			if id.Role == casino.RoleTenantAdmin && casino.Allowed(id, c, 8) {
				t.Errorf("tenant admin of 7 allowed %s on tenant 8", c)
			}
		}
	}
	if got := casino.CapabilitiesOf(ids[0]); len(got) != len(casino.AllCapabilities) {
		t.Errorf("owner: %v", got)
	}
	if got := casino.CapabilitiesOf(ids[3]); len(got) != 0 {
		t.Errorf("tenant admin without tenant: %v", got)
	}
	// Break-glass reaches the switches only.
	bg := casino.NewBreakGlassContext(context.Background())
	if casino.Authorize(bg, casino.CapAdminLoginFreeze, 0) != nil || casino.Authorize(bg, casino.CapTenantsRead, 0) == nil {
		t.Error("break-glass scope wrong")
	}
}
