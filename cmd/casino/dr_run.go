package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"casino"
	"casino/docs/ops"
	"casino/dr"
	"casino/sqlstore"
)

const drScenarioUsage = `dr scenario A|B|C --reason "..." [--runbook FILE]

Records the scenario decision (A app-only, B DB issue, C infra loss) and
prints that scenario's section of the runbook with its next commands.`

func runDRScenario(ctx context.Context, env *Env, args []string) error {
	var f drFlags
	fs := newFlagSet(env, "dr scenario", drScenarioUsage)
	bindDRFlags(fs, env, &f)
	reason := fs.String("reason", "", "why this scenario (recorded)")
	runbook := fs.String("runbook", "", "the runbook whose section is printed (default docs/ops/dr_runbook.md when it exists, else the one built into casino)")
	if err := parseFlags(fs, positionalsLast(args)); err != nil {
		return helpOK(err)
	}
	if fs.NArg() != 1 {
		return usageErrorf("dr scenario: name one scenario: A, B or C")
	}
	sc := strings.ToUpper(fs.Arg(0))
	if sc != "A" && sc != "B" && sc != "C" {
		return usageErrorf("dr scenario: %q is not A, B or C", fs.Arg(0))
	}
	if strings.TrimSpace(*reason) == "" {
		return usageErrorf("dr scenario: --reason is required: the proof records why")
	}
	rb, err := dr.LoadSource(*runbook, "docs/ops/dr_runbook.md", "dr_runbook.md", ops.Runbook)
	if err != nil {
		return fmt.Errorf("dr scenario: runbook: %w", err)
	}
	section, err := dr.RunbookSection(rb, sc)
	if err != nil {
		return fmt.Errorf("dr scenario: %w", err)
	}
	red := newRedactor(env)
	in, err := openIncident(&f, red, true)
	if err != nil {
		return err
	}
	if prev := in.State.Scenario; prev != nil && prev.Scenario != sc {
		fmt.Fprintf(env.Stderr, "note: changing the decision from scenario %s to %s (both stay in the journal)\n", prev.Scenario, sc)
	}
	dec := in.State.Decide(sc, *reason, rb, func() ([]casino.VersionRecord, error) { return versionHistory(ctx, env) })
	if err := in.Append(dr.TypeScenario, dec); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "scenario %s recorded in %s\n", sc, in.JournalPath())
	if dec.RollbackTarget != "" {
		fmt.Fprintf(env.Stdout, "rollback target (previous distinct version): %s\n", dec.RollbackTarget)
	} else if dec.RollbackError != "" {
		fmt.Fprintf(env.Stdout, "rollback target not known: %s\n", red.String(dec.RollbackError))
	}
	fmt.Fprintf(env.Stdout, "\n%s\n", section)
	fmt.Fprintln(env.Stdout, "\nRun each command through the journal: casino dr run -- COMMAND ARGS...")
	return nil
}

const drRunUsage = `dr run [--force] [--result-file F] -- COMMAND ARGS...

Runs an operator command and journals its command line, UTC start and end,
exit code, and stdout and stderr (redacted, capped at 64 KiB each). Its exit
code is the command's. A command line that already finished with exit 0 is
not run again without --force; one that was interrupted (the CLI killed
mid-step) is.

When the command prints restore facts (casino restore --json prints one
JSON object on stdout), or writes them to --result-file F (casino restore
--result-file F), they are journaled as a typed restore entry: dr close
computes the RPO from it, and dr validate checks the running data against
it.`

func runDRRun(ctx context.Context, env *Env, args []string) error {
	var f drFlags
	fs := newFlagSet(env, "dr run", drRunUsage)
	bindDRFlags(fs, env, &f)
	force := fs.Bool("force", false, "run it again even though the same command line finished with exit 0")
	resultFile := fs.String("result-file", "", "the file the command writes its restore facts to (casino restore --result-file F)")
	if err := parseFlags(fs, args); err != nil {
		return helpOK(err)
	}
	argv := fs.Args()
	if len(argv) == 0 {
		return usageErrorf("dr run: give the command after --: casino dr run -- COMMAND ARGS...")
	}
	in, err := openIncident(&f, newRedactor(env), true)
	if err != nil {
		return err
	}
	dir, _ := os.Getwd()
	res, err := in.RunCommand(ctx, argv, dr.RunOptions{Force: *force, ResultFile: *resultFile, Dir: dir, Stdin: env.Stdin,
		Tee: func(stdout bool, p []byte) {
			if stdout {
				env.Stdout.Write(p)
			} else {
				env.Stderr.Write(p)
			}
		},
		Warn: func(err error) { fmt.Fprintf(env.Stderr, "casino: warning: journal the command's pid: %v\n", err) }})
	if rec := res.Restore; rec != nil {
		what := "restore"
		if rec.Facts.DryRun {
			what = "dry run (does not count for RPO)"
		}
		fmt.Fprintf(env.Stderr, "casino: journaled restore facts (%s): backup %s, snapshot_at %s, restore_id %s\n",
			what, rec.Facts.Backup.Name, rec.Facts.Backup.SnapshotAt.Format("2006-01-02T15:04:05Z07:00"), rec.Facts.RestoreID)
	}
	if err == nil && res.Restore != nil {
		// The restored database must keep the login freeze the incident set.
		open, dbName := freezeOpener(env)
		fz, ferr := in.CheckFreezeAfterRestore(ctx, res.Restore, open, dbName)
		if ferr != nil {
			return &exitError{code: 1, err: fmt.Errorf("dr run: the restore is journaled, but %s", in.Red.String(ferr.Error()))}
		}
		if fz != nil {
			fmt.Fprintf(env.Stderr, "casino: %s\n", in.Red.String(dr.FreezeLine(*fz)))
		}
	}
	var failed *dr.StepFailed
	switch {
	case res.FactsErr != nil && errors.As(err, &failed):
		return fmt.Errorf("dr run: restore facts: %w (journaled; the restore counts for nothing until its facts are)", res.FactsErr)
	case errors.As(err, &failed) && failed.Err != nil:
		return fmt.Errorf("dr run: %w", failed.Err)
	case errors.As(err, &failed):
		return &exitError{code: failed.ExitCode, err: fmt.Errorf("dr run: %s exited %d (journaled)", argv[0], failed.ExitCode)}
	}
	return err
}

// versionHistory reads the versions history straight from DATABASE_URL
// (the API may be down). A database that is down too costs at most 10s.
func versionHistory(ctx context.Context, env *Env) ([]casino.VersionRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	u := getenvDefault(env.Getenv, "DATABASE_URL", "")
	if u == "" {
		return nil, errors.New("DATABASE_URL is not set: run 'casino version history' where it is")
	}
	db, err := sqlstore.OpenExisting(ctx, u)
	if err != nil {
		return nil, errors.New(sqlstore.Redact(err.Error()))
	}
	defer db.Close()
	hist, err := db.Versions(ctx)
	if err != nil {
		return nil, errors.New(sqlstore.Redact(err.Error()))
	}
	return hist, nil
}
