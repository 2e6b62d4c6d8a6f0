package sqlstore_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"casino"
	"casino/internal/testdb"
	"casino/sqlstore"
)

// TestSessionStateBatch: the statement that concurrent requests share
// answers each of them exactly what a lookup of its own would: revoked or
// not, user gone, tenant suspended or missing, tokens_valid_after, the
// switches; duplicates and odd token ids included.
func TestSessionStateBatch(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		db := testdb.Open(t, engine)
		ctx := context.Background()
		now := sqlstore.Now()
		if _, err := db.EnsureOwner(ctx, "admin@casino.com", "h"); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			`INSERT INTO tenants (id, name, slug, status, created_at, updated_at) VALUES (10, 'A', 'a', 'active', ?, ?)`,
			`INSERT INTO tenants (id, name, slug, status, created_at, updated_at) VALUES (11, 'B', 'b', 'suspended', ?, ?)`,
			`INSERT INTO users (id, tenant_id, email, password_hash, role, created_at, updated_at) VALUES (20, 10, 'a@x.com', 'h', 'tenant_admin', ?, ?)`,
			`INSERT INTO users (id, tenant_id, email, password_hash, role, created_at, updated_at) VALUES (21, 11, 'b@x.com', 'h', 'tenant_admin', ?, ?)`,
		} {
			if _, err := db.ExecContext(ctx, q, now, now); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.RevokeToken(ctx, "revoked", 20, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		bg := casino.NewBreakGlassContext(ctx)
		if err := db.ResetPassword(bg, "b@x.com", "h2"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SetLoginFreeze(bg, true, "drill \"quoted\""); err != nil {
			t.Fatal(err)
		}
		jtis := []string{"ok", "revoked", "ok", "other", "gone", "ok", `it's "odd" \ é`, ""}
		users := []int64{1, 20, 20, 21, 99, 1, 20, 20}
		tenants := []int64{0, 10, 10, 11, 0, 0, 10, 12}
		got, err := sqlstore.SessionStatesBatch(ctx, db, jtis, users, tenants)
		if err != nil {
			t.Fatal(err)
		}
		for i := range jtis {
			want, err := db.SessionState(ctx, jtis[i], users[i], tenants[i])
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got[i], *want) {
				t.Errorf("key %d (%q, %d, %d): batch %+v, alone %+v", i, jtis[i], users[i], tenants[i], got[i], *want)
			}
		}
		// The cases are what they claim to be.
		if !got[1].Revoked || got[0].Revoked || !got[0].UserExists || got[4].UserExists ||
			got[2].TenantStatus != casino.TenantActive || got[3].TenantStatus != "suspended" || got[7].TenantStatus != "" ||
			got[3].TokensValidAfter.IsZero() || !got[2].TokensValidAfter.IsZero() || !got[5].LoginFreeze.Enabled {
			t.Errorf("batch answers: %+v", got)
		}
	})
}
