package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"

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
	section, err := runbookSection(rb, sc)
	if err != nil {
		return err
	}
	red := newRedactor(env)
	in, err := openIncident(&f, red, true)
	if err != nil {
		return err
	}
	if prev := in.State.Scenario; prev != nil && prev.Scenario != sc {
		fmt.Fprintf(env.Stderr, "note: changing the decision from scenario %s to %s (both stay in the journal)\n", prev.Scenario, sc)
	}
	dec := dr.ScenarioDecision{Scenario: sc, Reason: *reason, Runbook: rb.Name}
	if sc == "A" {
		dec.RollbackTarget, dec.RollbackError = rollbackTarget(ctx, env, in.State.VersionBefore)
	}
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

var headingRe = regexp.MustCompile(`^(#{1,6})\s+(.*)$`)

// runbookSection returns the section of the runbook whose heading names the
// scenario ("Scenario B", "B)", "B:" ...), up to the next heading of the
// same or a higher level.
func runbookSection(src dr.Source, sc string) (string, error) {
	b, path := src.Text, src.Name
	named := regexp.MustCompile(`(?i)\bscenario\s+` + sc + `\b`)
	var out []string
	level := 0
	sc2 := bufio.NewScanner(bytes.NewReader(b))
	inFence := false
	for sc2.Scan() {
		line := sc2.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
		}
		if m := headingRe.FindStringSubmatch(line); m != nil && !inFence {
			if level > 0 && len(m[1]) <= level {
				break
			}
			if level == 0 && named.MatchString(m[2]) {
				level = len(m[1])
			}
		}
		if level > 0 {
			out = append(out, line)
		}
	}
	if level == 0 {
		return "", fmt.Errorf("dr scenario: %s has no heading naming \"Scenario %s\"", path, sc)
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n"), nil
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
	red := newRedactor(env)
	in, err := openIncident(&f, red, true)
	if err != nil {
		return err
	}
	dir, _ := os.Getwd()
	step := "run " + dr.CommandLine(argv)
	start, err := in.StartStep(dr.StepStart{Step: step, Kind: "run", Commands: [][]string{argv}, Dir: dir}, *force)
	if err != nil {
		return err
	}
	tee := func(stdout bool, p []byte) {
		if stdout {
			env.Stdout.Write(p)
		} else {
			env.Stderr.Write(p)
		}
	}
	started := func(pid int) {
		// journaled so that a resume after kill -9 knows if the command
		// outlived this CLI (a restore still running must not start twice)
		if err := in.Append(dr.TypeStepChild, dr.StepChild{Step: step, PID: pid, PIDStart: dr.ProcStart(pid)}); err != nil {
			fmt.Fprintf(env.Stderr, "casino: warning: journal the command's pid: %v\n", err)
		}
	}
	// The operator's input goes through, for commands that ask (psql, a
	// confirmation prompt); it is not journaled.
	o := dr.ExecRunner(dr.ExecOptions{Tee: tee, Started: started, Stdin: env.Stdin})(ctx, argv)
	rec, ferr := dr.CaptureRestore(step, o, *resultFile)
	if rec != nil {
		if err := in.Append(dr.TypeRestore, rec); err != nil {
			return err
		}
		what := "restore"
		if rec.Facts.DryRun {
			what = "dry run (does not count for RPO)"
		}
		fmt.Fprintf(env.Stderr, "casino: journaled restore facts (%s): backup %s, snapshot_at %s, restore_id %s\n",
			what, rec.Facts.Backup.Name, rec.Facts.Backup.SnapshotAt.Format("2006-01-02T15:04:05Z07:00"), rec.Facts.RestoreID)
	}
	// The restored database must keep the login freeze the incident set.
	open, dbName := freezeOpener(env)
	fz, freezeErr := in.CheckFreezeAfterRestore(ctx, rec, open, dbName)
	if fz != nil && freezeErr == nil {
		fmt.Fprintf(env.Stderr, "casino: %s\n", red.String(dr.FreezeLine(*fz)))
	}
	if err := in.EndStep(step, start, o.ExitCode, ferr, []dr.Output{o}); err != nil {
		return err
	}
	if ferr != nil {
		return fmt.Errorf("dr run: restore facts: %w (journaled; the restore counts for nothing until its facts are)", ferr)
	}
	if o.ExitCode != 0 {
		return &exitError{code: o.ExitCode, err: fmt.Errorf("dr run: %s exited %d (journaled)", argv[0], o.ExitCode)}
	}
	if freezeErr != nil {
		return &exitError{code: 1, err: fmt.Errorf("dr run: the restore is journaled, but %s", red.String(freezeErr.Error()))}
	}
	return nil
}

// rollbackTarget reads the versions history straight from DATABASE_URL (the
// API may be down) and returns the previous distinct version before running
// (the version recorded at declare, else the newest in the history).
func rollbackTarget(ctx context.Context, env *Env, running string) (target, problem string) {
	u := getenvDefault(env.Getenv, "DATABASE_URL", "")
	if u == "" {
		return "", "DATABASE_URL is not set: run 'casino version history' where it is"
	}
	if t, err := sqlstore.ParseURL(u); err != nil {
		return "", sqlstore.Redact(err.Error())
	} else if t.Dialect == sqlstore.SQLite {
		if err := requireExistingFile(t.Path); err != nil { // Open would create it
			return "", err.Error()
		}
	}
	db, err := sqlstore.Open(ctx, u)
	if err != nil {
		return "", sqlstore.Redact(err.Error())
	}
	defer db.Close()
	hist, err := db.Versions(ctx)
	if err != nil {
		return "", sqlstore.Redact(err.Error())
	}
	if running == "" && len(hist) > 0 {
		running = hist[0].Version
	}
	v, ok := dr.RollbackTarget(hist, running)
	if !ok {
		return "", "the versions history holds no version other than " + running
	}
	return fmt.Sprintf("%s (commit %s, last seen %s)", v.Version, v.Commit, v.LastSeen.Format("2006-01-02T15:04:05Z")), ""
}
