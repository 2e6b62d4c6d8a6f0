package main

import (
	"context"
	"fmt"

	"casino"
	"casino/sqlstore"
)

func init() {
	register(command{Name: "admin", Summary: "break-glass platform switches on the database (login-freeze, maintenance, status)", Run: runAdmin})
}

const adminUsage = `admin [flags] login-freeze on|off | maintenance on|off | status

Works straight on the database, without the API, for when the API is down
or nobody can log in. Every change is audited (actor "cli").

  login-freeze on|off   admin login freeze (DR checklist step 2B): while on,
                        non-owner logins and tokens are refused
  maintenance on|off    maintenance mode: mutating API calls answer 503
  status                print both switches as JSON

  casino admin login-freeze off
  casino admin maintenance on --reason "restore in progress"`

func runAdmin(ctx context.Context, env *Env, args []string) error {
	var cfg Config
	fs := newFlagSet(env, "admin", adminUsage)
	bindDatabaseFlag(fs, env, &cfg)
	reason := fs.String("reason", "", "why the switch changes (recorded and shown to refused callers)")
	if err := parseFlags(fs, args); err != nil {
		return helpOK(err)
	}
	rest, err := parseInterspersed(fs, fs.Args())
	if err != nil {
		return err
	}
	var on bool
	switch {
	case len(rest) == 1 && rest[0] == "status":
	case len(rest) == 2 && (rest[0] == "login-freeze" || rest[0] == "maintenance"):
		switch rest[1] {
		case "on":
			on = true
		case "off":
		default:
			return usageErrorf("admin %s: want on or off, not %q", rest[0], rest[1])
		}
	default:
		return usageErrorf("admin: want 'login-freeze on|off', 'maintenance on|off' or 'status' (see 'casino admin -h')")
	}
	if err := cfg.validateDatabase(fs); err != nil {
		return err
	}
	if cfg.target.Dialect == sqlstore.SQLite {
		if err := requireExistingFile(cfg.target.Path); err != nil {
			return err
		}
	}
	db, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx = casino.NewBreakGlassContext(ctx)
	var out any
	switch rest[0] {
	case "status":
		out, err = db.SystemStatus(ctx)
	case "login-freeze":
		out, err = db.SetLoginFreeze(ctx, on, *reason)
	case "maintenance":
		out, err = db.SetMaintenance(ctx, on, *reason)
	}
	if err != nil {
		return fmt.Errorf("admin %s: %w", rest[0], err)
	}
	return writeJSON(env.Stdout, out)
}
