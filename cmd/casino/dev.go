package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"casino/sqlstore"
)

func init() {
	register(command{Name: "dev", Summary: "developer tools: seed a large realistic database (benchmarks)", Run: runDev})
}

const devUsage = `dev seed [--size-mb 1024] [--tenants 1000] [--users-per-tenant 10] [--payload-bytes 200]

Fills DATABASE_URL (migrated first) with a realistic data set for the backup
benchmark: many tenants, their admins and settings, and audit events with
JSON payloads of about --payload-bytes each, until the audit events reach
about --size-mb of table data. PostgreSQL uses COPY; SQLite one transaction
per 50 000 rows. Never point it at a production database.`

func runDev(ctx context.Context, env *Env, args []string) error {
	sub := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	var cfg Config
	fs := newFlagSet(env, "dev seed", devUsage)
	bindDatabaseFlag(fs, env, &cfg)
	sizeMB := fs.Int("size-mb", 1024, "approximate size of the audit events, MiB")
	tenants := fs.Int("tenants", 1000, "number of tenants")
	usersPer := fs.Int("users-per-tenant", 10, "admins per tenant")
	payload := fs.Int("payload-bytes", 200, "approximate bytes of each audit event's before/after JSON")
	events := fs.Int("audit-events", 0, "number of audit events (overrides --size-mb)")
	if err := parseFlags(fs, args); err != nil {
		return helpOK(err)
	}
	if sub != "seed" {
		return usageErrorf("dev: want 'dev seed' (see 'casino dev -h')")
	}
	if fs.NArg() > 0 {
		return usageErrorf("dev seed: unexpected argument %q", fs.Arg(0))
	}
	if *tenants < 1 || *usersPer < 0 || *payload < 10 || *sizeMB < 0 {
		return usageErrorf("dev seed: --tenants >= 1, --users-per-tenant >= 0, --payload-bytes >= 10")
	}
	if err := cfg.validateDatabase(fs); err != nil {
		return err
	}
	nEvents := *events
	if nEvents == 0 {
		// ~payload + ~150 bytes of other columns and row overhead per event
		nEvents = *sizeMB * 1024 * 1024 / (*payload + 150)
	}
	db, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	var existing int
	db.QueryRowContext(ctx, "SELECT COUNT(*) FROM tenants").Scan(&existing)
	start := time.Now()
	s := &seeder{db: db, rnd: rand.New(rand.NewPCG(1, 2)), payload: *payload, now: sqlstore.Now(), base: existing}
	if err := s.run(ctx, *tenants, *usersPer, nEvents, env); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "seeded %d tenants, %d users, %d settings, %d audit events in %s\n", *tenants, *tenants**usersPer, *tenants*3, nEvents, time.Since(start).Round(time.Millisecond))
	return nil
}

type seeder struct {
	db      *sqlstore.DB
	rnd     *rand.Rand
	payload int
	now     time.Time
	base    int
}

const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func (s *seeder) text(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[s.rnd.IntN(len(letters))]
	}
	return string(b)
}

// json returns a JSON object of about n bytes.
func (s *seeder) json(n int) string {
	half := max(n/2-20, 1)
	return fmt.Sprintf(`{"name":"%s","note":"%s","n":%d}`, s.text(half/2), s.text(half), s.rnd.IntN(100000))
}

// rows produces the rows of one table.
type rowSource struct {
	table string
	cols  []string
	n     int
	row   func(i int) []any
}

func (s *seeder) run(ctx context.Context, tenants, usersPer, events int, env *Env) error {
	actions := []string{"tenant.update", "user.login", "setting.update", "user.create", "tenant.suspend", "user.password_reset"}
	srcs := []rowSource{
		{"tenants", []string{"id", "name", "slug", "status", "created_at", "updated_at"}, tenants, func(i int) []any {
			id := s.base + i + 1
			return []any{id, fmt.Sprintf("Casino %d %s", id, s.text(8)), fmt.Sprintf("casino-%d", id), "active", s.now, s.now}
		}},
		{"users", []string{"tenant_id", "email", "password_hash", "role", "created_at", "updated_at"}, tenants * usersPer, func(i int) []any {
			t := s.base + i/max(usersPer, 1) + 1
			return []any{t, fmt.Sprintf("admin%d-%d-%s@example.com", t, i, s.text(4)), "$argon2id$v=19$m=65536,t=3,p=2$" + s.text(22) + "$" + s.text(43), "tenant_admin", s.now, s.now}
		}},
		{"settings", []string{"tenant_id", "key", "type", "value", "updated_at"}, tenants * 3, func(i int) []any {
			keys := []string{"theme", "currency", "limits"}
			return []any{s.base + i/3 + 1, keys[i%3], "string", `"` + s.text(12) + `"`, s.now}
		}},
		{"audit_events", []string{"ts", "actor_email", "tenant_id", "action", "target", "before", "after", "request_id", "remote_ip"}, events, func(i int) []any {
			t := s.base + s.rnd.IntN(tenants) + 1
			return []any{s.now.Add(-time.Duration(events-i) * time.Second), fmt.Sprintf("admin%d@example.com", t), t, actions[i%len(actions)], fmt.Sprintf("tenant/%d", t), s.json(s.payload / 2), s.json(s.payload / 2), s.text(16), fmt.Sprintf("10.%d.%d.%d", i%256, (i/256)%256, (i/65536)%256)}
		}},
	}
	for _, src := range srcs {
		start := time.Now()
		var err error
		if s.db.Dialect() == sqlstore.Postgres {
			err = s.copyPG(ctx, src)
		} else {
			err = s.insertSQLite(ctx, src)
		}
		if err != nil {
			return fmt.Errorf("seed %s: %w", src.table, err)
		}
		fmt.Fprintf(env.Stderr, "seeded %s: %d rows in %s\n", src.table, src.n, time.Since(start).Round(time.Millisecond))
	}
	if s.db.Dialect() == sqlstore.Postgres {
		// COPY with explicit ids leaves the identity behind; move it on.
		_, err := s.db.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('tenants', 'id'), (SELECT MAX(id) FROM tenants))`)
		return err
	}
	return nil
}

func (s *seeder) copyPG(ctx context.Context, src rowSource) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		i := 0
		_, err := pc.CopyFrom(ctx, pgx.Identifier{src.table}, src.cols, pgx.CopyFromFunc(func() ([]any, error) {
			if i >= src.n {
				return nil, nil
			}
			r := src.row(i)
			i++
			return r, nil
		}))
		return err
	})
}

func (s *seeder) insertSQLite(ctx context.Context, src rowSource) error {
	q := "INSERT INTO " + src.table + " (" + strings.Join(src.cols, ", ") + ") VALUES (" + strings.TrimSuffix(strings.Repeat("?, ", len(src.cols)), ", ") + ")"
	const batch = 50000
	for done := 0; done < src.n; done += batch {
		err := func() error {
			tx, err := s.db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			st, err := tx.PrepareContext(ctx, q)
			if err != nil {
				return err
			}
			defer st.Close()
			for i := done; i < min(done+batch, src.n); i++ {
				if _, err := st.ExecContext(ctx, src.row(i)...); err != nil {
					return err
				}
			}
			return tx.Commit()
		}()
		if err != nil {
			return err
		}
	}
	return nil
}
