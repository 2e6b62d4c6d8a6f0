package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"casino/sqlstore"
)

func init() {
	register(command{Name: "migrate", Summary: "apply or inspect schema migrations (up, status, current)", Run: runMigrate})
}

const migrateUsage = `migrate [flags] up|status|current

  up       apply every pending migration
  status   list every migration and whether it is applied
  current  print the schema version of the database (replaces 'alembic current')`

func runMigrate(ctx context.Context, env *Env, args []string) error {
	var cfg Config
	fs := newFlagSet(env, "migrate", migrateUsage)
	bindDatabaseFlag(fs, env, &cfg)
	if err := parseFlags(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() != 1 {
		return usageErrorf("migrate: want exactly one of up, status, current (see 'casino migrate -h')")
	}
	action := fs.Arg(0)
	switch action {
	case "up", "status", "current":
	default:
		return usageErrorf("migrate: unknown action %q: want up, status or current", action)
	}
	if err := cfg.validateDatabase(fs); err != nil {
		return err
	}
	open := sqlstore.OpenExisting
	if action == "up" {
		open = sqlstore.Open // up creates a new SQLite database
	}
	db, err := open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()

	latest := db.LatestSchemaVersion()
	switch action {
	case "up":
		applied, err := db.Migrate(ctx)
		for _, m := range applied {
			fmt.Fprintf(env.Stdout, "applied %04d_%s\n", m.Version, m.Name)
		}
		if err != nil {
			return err
		}
		if len(applied) == 0 {
			fmt.Fprintf(env.Stdout, "schema is current at version %d\n", latest)
		}
		return nil
	case "status":
		states, err := db.MigrationStatus(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tNAME\tSTATE\tAPPLIED_AT")
		for _, s := range states {
			state, at := "pending", "-"
			if s.Applied {
				state, at = "applied", s.AppliedAt.UTC().Format("2006-01-02T15:04:05Z")
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", s.Version, s.Name, state, at)
		}
		tw.Flush()
		cur, err := db.SchemaVersion(ctx)
		if err != nil {
			return err
		}
		if cur > latest {
			fmt.Fprintf(env.Stdout, "database is at version %d, newer than this binary knows (%d)\n", cur, latest)
		}
		return nil
	default: // current
		cur, err := db.SchemaVersion(ctx)
		if err != nil {
			return err
		}
		switch {
		case cur == latest:
			fmt.Fprintf(env.Stdout, "%d (head)\n", cur)
		case cur < latest:
			fmt.Fprintf(env.Stdout, "%d (behind: this binary knows %d; run casino migrate up)\n", cur, latest)
		default:
			fmt.Fprintf(env.Stdout, "%d (newer than this binary, which knows %d)\n", cur, latest)
		}
		return nil
	}
}
