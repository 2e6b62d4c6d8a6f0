package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"casino"
	"casino/dr"
	"casino/sqlstore"
)

func init() {
	register(command{Name: "version", Summary: "print the build's version, commit and build time", Run: runVersion})
}

const versionUsage = `version [--json] | version history [--json] [--database-url URL]

Prints this build's version. 'history' reads the versions table straight
from the database (DATABASE_URL), so it works with the API down, and names
the rollback target: the previous distinct version before the newest.`

func runVersion(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 && args[0] == "history" {
		return runVersionHistory(ctx, env, args[1:])
	}
	fs := newFlagSet(env, "version", versionUsage)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return helpOK(err)
	}
	b := casino.Build()
	if *asJSON {
		return writeJSON(env.Stdout, b)
	}
	fmt.Fprintf(env.Stdout, "casino %s (commit %s, built %s, %s)\n", b.Version, b.Commit, b.BuildTime, b.GoVersion)
	return nil
}

func runVersionHistory(ctx context.Context, env *Env, args []string) error {
	var cfg Config
	fs := newFlagSet(env, "version history", versionUsage)
	bindDatabaseFlag(fs, env, &cfg)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("version history: unexpected argument %q", fs.Arg(0))
	}
	if err := cfg.validateDatabase(fs); err != nil {
		return err
	}
	db, err := sqlstore.OpenExisting(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	hist, err := db.Versions(ctx)
	if err != nil {
		return err
	}
	var newest string
	if len(hist) > 0 {
		newest = hist[0].Version
	}
	target, ok := dr.RollbackTarget(hist, newest)
	if *asJSON {
		out := map[string]any{"versions": hist, "newest": newest}
		if ok {
			out["rollback_target"] = target
		}
		return writeJSON(env.Stdout, out)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tCOMMIT\tFIRST SEEN\tLAST SEEN")
	for _, v := range hist {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.Version, v.Commit, v.FirstSeen.Format(time.RFC3339), v.LastSeen.Format(time.RFC3339))
	}
	tw.Flush()
	if ok {
		fmt.Fprintf(env.Stdout, "rollback target (previous distinct version before %s): %s (commit %s, last seen %s)\n", newest, target.Version, target.Commit, target.LastSeen.Format(time.RFC3339))
	} else {
		fmt.Fprintln(env.Stdout, "rollback target: none (no other version in the history)")
	}
	return nil
}
