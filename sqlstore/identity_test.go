package sqlstore_test

import (
	"bytes"
	"context"
	"sync"
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

func TestSigningKeySharedOnce(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		db := testdb.Open(t, engine)
		var wg sync.WaitGroup
		keys := make([][]byte, 4)
		for i := range keys {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k := bytes.Repeat([]byte{byte(i + 1)}, 32)
				got, err := db.SigningKey(context.Background(), k)
				if err != nil {
					t.Error(err)
				}
				keys[i] = got
			}()
		}
		wg.Wait()
		for i := range keys {
			if len(keys[i]) != 32 || !bytes.Equal(keys[i], keys[0]) {
				t.Fatalf("replicas disagree on the key: %x vs %x", keys[i], keys[0])
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
