package sqlstore_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"testing"
	"time"

	"casino"
	"casino/internal/testdb"
	"casino/sqlstore"
)

func ownerCtx() context.Context {
	return casino.NewContextWithIdentity(context.Background(), &casino.Identity{UserID: 1, Email: "admin@casino.com", Role: casino.RoleOwner})
}

func TestAuditAppendOnly(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		db := testdb.Open(t, engine)
		ctx := casino.NewContextWithRequestMeta(ownerCtx(), casino.RequestMeta{RequestID: "req-1", RemoteIP: "10.0.0.1"})
		if _, err := db.EnsureOwner(ctx, "admin@casino.com", "$argon2id$x"); err != nil {
			t.Fatal(err)
		}
		tn := &casino.Tenant{Name: "Acme", Slug: "acme"}
		if err := db.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		evs, total, err := db.FindAuditEvents(ctx, casino.AuditFilter{Action: casino.ActionTenantCreate})
		if err != nil || total != 1 || evs[0].RequestID != "req-1" || evs[0].RemoteIP != "10.0.0.1" || evs[0].ActorEmail != "admin@casino.com" || *evs[0].TenantID != tn.ID {
			t.Fatalf("audit: %+v %d %v", evs, total, err)
		}
		if _, err := db.Exec("UPDATE audit_events SET action = 'x'"); err == nil {
			t.Error("UPDATE of audit_events succeeded")
		}
		if _, err := db.Exec("DELETE FROM audit_events"); err == nil {
			t.Error("DELETE of audit_events succeeded")
		}
	})
}

// TestLegacySigningKeyLeavesTheFile: the token signing key that older
// versions kept in system_state is read once, then deleted, and on SQLite
// its bytes are gone from the file, free pages included.
func TestLegacySigningKeyLeavesTheFile(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		db := testdb.Open(t, engine)
		ctx := context.Background()
		key := bytes.Repeat([]byte("K3y!"), 8)
		b64 := base64.StdEncoding.EncodeToString(key)
		if _, err := db.ExecContext(ctx, `INSERT INTO system_state (key, value, updated_at) VALUES ('jwt_signing_key', ?, ?)`, `{"key":"`+b64+`"}`, sqlstore.Now()); err != nil {
			t.Fatal(err)
		}
		got, err := db.LegacySigningKey(ctx)
		if err != nil || !bytes.Equal(got, key) {
			t.Fatalf("legacy key %x %v, want %x", got, err, key)
		}
		if dropped, err := db.DropLegacySigningKey(ctx); err != nil || !dropped {
			t.Fatalf("drop: %v %v", dropped, err)
		}
		if got, err := db.LegacySigningKey(ctx); err != nil || got != nil {
			t.Fatalf("after drop: %x %v", got, err)
		}
		if dropped, _ := db.DropLegacySigningKey(ctx); dropped {
			t.Error("second drop found a row")
		}
		if engine == sqlstore.SQLite {
			db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
			for _, f := range []string{db.Target.Path, db.Target.Path + "-wal"} {
				if b, _ := os.ReadFile(f); bytes.Contains(b, []byte(b64)) {
					t.Errorf("%s still holds the key's bytes", f)
				}
			}
		}
	})
}

func TestThrottleAndSessionState(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		db := testdb.Open(t, engine)
		ctx := context.Background()
		now := sqlstore.Now()
		for i := 0; i < 3; i++ {
			if err := db.RecordLoginFailure(ctx, "A@x.com", "10.0.0.1", now.Add(time.Duration(i)*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		db.RecordLoginFailure(ctx, "b@x.com", "10.0.0.1", now.Add(-time.Hour))
		fc, err := db.LoginFailures(ctx, "a@x.com", "10.0.0.1", now.Add(-time.Minute))
		if err != nil || fc.Account != 3 || fc.IP != 3 || !fc.OldestAccount.Equal(now) || !fc.OldestIP.Equal(now) {
			t.Fatalf("failures: %+v %v (now %v)", fc, err, now)
		}
		db.ClearLoginFailures(ctx, "a@x.com")
		if fc, _ := db.LoginFailures(ctx, "a@x.com", "10.0.0.1", now.Add(-time.Minute)); fc.Account != 0 || fc.IP != 3 {
			t.Errorf("after clear: %+v", fc)
		}

		db.EnsureOwner(ctx, "admin@casino.com", "h")
		if err := db.RevokeToken(ctx, "jti-1", 1, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		db.RevokeToken(ctx, "jti-1", 1, now.Add(time.Hour)) // idempotent
		if _, err := db.SetLoginFreeze(casino.NewBreakGlassContext(ctx), true, "drill"); err != nil {
			t.Fatal(err)
		}
		st, err := db.SessionState(ctx, "jti-1", 1, 0)
		if err != nil || !st.Revoked || !st.UserExists || !st.LoginFreeze.Enabled || st.LoginFreeze.Reason != "drill" || st.LoginFreeze.UpdatedBy != "cli" || st.Maintenance.Enabled {
			t.Fatalf("session state: %+v %v", st, err)
		}
		if st, _ := db.SessionState(ctx, "jti-2", 99, 5); st.Revoked || st.UserExists || st.TenantStatus != "" {
			t.Errorf("unknown user state: %+v", st)
		}
		// Without an identity or the break-glass mark, switches are refused.
		if _, err := db.SetMaintenance(ctx, true, ""); casino.ErrorCode(err) != casino.EUNAUTHORIZED {
			t.Errorf("anonymous maintenance: %v", err)
		}
		if err := db.ResetPassword(ctx, "admin@casino.com", "h2"); casino.ErrorCode(err) != casino.EFORBIDDEN {
			t.Errorf("reset without break-glass: %v", err)
		}
		if err := db.ResetPassword(casino.NewBreakGlassContext(ctx), "admin@casino.com", "h2"); err != nil {
			t.Fatal(err)
		}
		if st, _ := db.SessionState(ctx, "x", 1, 0); !st.TokensValidAfter.After(now) {
			t.Errorf("tokens valid after: %v", st.TokensValidAfter)
		}
		if c, _ := db.FindCredentials(ctx, "ADMIN@casino.com"); c.PasswordHash != "h2" {
			t.Errorf("hash after reset: %q", c.PasswordHash)
		}
	})
}

func TestEnsureOwnerOnce(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		db := testdb.Open(t, engine)
		ctx := context.Background()
		if created, err := db.EnsureOwner(ctx, "Admin@Casino.com", "h1"); !created || err != nil {
			t.Fatalf("first: %v %v", created, err)
		}
		if created, err := db.EnsureOwner(ctx, "other@casino.com", "h2"); created || err != nil {
			t.Fatalf("second: %v %v", created, err)
		}
		c, err := db.FindCredentials(ctx, "admin@casino.com")
		if err != nil || c.Role != casino.RoleOwner || c.PasswordHash != "h1" || c.TenantID != nil {
			t.Fatalf("owner: %+v %v", c, err)
		}
	})
}
