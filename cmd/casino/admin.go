package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"casino"
	"casino/sqlstore"
)

func init() {
	register(command{Name: "admin", Summary: "break-glass platform switches on the database (login-freeze, maintenance, status)", Run: runAdmin})
}

const adminUsage = `admin [flags] login-freeze on|off | maintenance on|off | status | rotate-jwt-key [--revoke-old]

Works straight on the database, without the API, for when the API is down
or nobody can log in. Every change is audited (actor "cli").

  login-freeze on|off   admin login freeze (DR checklist step 2A): while on,
                        non-owner logins and tokens are refused
  maintenance on|off    maintenance mode: mutating API calls answer 503
  status                print both switches as JSON
  rotate-jwt-key        add a new token signing key to the key file
                        (CASINO_JWT_KEY_FILE, default keys/jwt.json beside a
                        SQLite database); tokens of the older keys verify
                        until they expire; --revoke-old refuses them at once

  casino admin login-freeze off
  casino admin maintenance on --reason "restore in progress"`

func runAdmin(ctx context.Context, env *Env, args []string) error {
	var cfg Config
	fs := newFlagSet(env, "admin", adminUsage)
	bindDatabaseFlag(fs, env, &cfg)
	reason := fs.String("reason", "", "why the switch changes (recorded and shown to refused callers)")
	revokeOld := fs.Bool("revoke-old", false, "rotate-jwt-key: drop every older key now, so their tokens are refused at once")
	ttl := fs.Duration("token-ttl", 30*time.Minute, "rotate-jwt-key: the token lifetime; older keys are dropped once their tokens expired")
	if err := parseFlags(fs, args); err != nil {
		return helpOK(err)
	}
	rest, err := parseInterspersed(fs, fs.Args())
	if err != nil {
		return helpOK(err)
	}
	var on bool
	switch {
	case len(rest) == 1 && rest[0] == "rotate-jwt-key":
		return runRotateJWTKey(env, &cfg, fs, *ttl, *revokeOld)
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
	db, err := sqlstore.OpenExisting(ctx, cfg.DatabaseURL)
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

// runRotateJWTKey adds a token signing key to the key file; running servers
// pick it up within a second.
func runRotateJWTKey(env *Env, cfg *Config, fs *flag.FlagSet, ttl time.Duration, revokeOld bool) error {
	if env.Getenv("CASINO_JWT_KEY") != "" {
		return usageErrorf("admin rotate-jwt-key: the signing key comes from CASINO_JWT_KEY; rotate it in your secret store and restart (tokens of the old key are then refused)")
	}
	if err := cfg.validateDatabase(fs); err != nil {
		return err
	}
	kf := jwtKeyFile(env.Getenv("CASINO_JWT_KEY_FILE"), cfg.target)
	k, dropped, err := kf.Rotate(ttl, revokeOld)
	if err != nil {
		return fmt.Errorf("admin rotate-jwt-key: %s: %w (start casino serve once to create it)", kf.Path, err)
	}
	return writeJSON(env.Stdout, map[string]any{"key_file": kf.Path, "new_kid": k.ID, "dropped_kids": dropped, "revoke_old": revokeOld})
}
