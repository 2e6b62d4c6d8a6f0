package main

import (
	"context"
	"fmt"
	"os"

	"casino"
)

func init() {
	register(command{Name: "version", Summary: "print the build's version, commit and build time", Run: runVersion})
}

func runVersion(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "version", "version [--json]")
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

func statFile(path string) (os.FileInfo, error) { return os.Stat(path) }
