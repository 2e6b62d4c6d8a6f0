package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"casino/docs/ops"
	"casino/dr"
)

const drDeclareUsage = `dr declare --severity SEV-1|SEV-2|SEV-3 --ic NAME --comms NAME [--impact-start RFC3339] [--url URL] [--pitr off|litestream|wal] [--proof-dir DIR]

Opens an incident: fills the proof template (--template, else DIR/template.md,
else the one built into casino; its bytes are journaled) into
DIR/YYYY-MM-DD.md (-2, -3 ... when taken), marked INCIDENT PROOF (DRILL PROOF
with --drill), and starts the journal beside it
(YYYY-MM-DD.journal.jsonl). incident_start_utc is now; impact_start_utc is
--impact-start (default: the same). With --url, the running version is
recorded so validate can expect it back. --pitr (default CASINO_PITR)
records the point-in-time recovery configuration in force, with the window
it held: dr close judges RPO and RTO against that configuration's targets.`

func runDRDeclare(ctx context.Context, env *Env, args []string) error {
	var f drFlags
	fs := newFlagSet(env, "dr declare", drDeclareUsage)
	bindDRFlags(fs, env, &f)
	sev := fs.String("severity", "", "SEV-1, SEV-2 or SEV-3")
	ic := fs.String("ic", "", "incident commander")
	comms := fs.String("comms", "", "comms owner")
	impact := fs.String("impact-start", "", "when the impact started, RFC 3339 (default: incident start)")
	start := fs.String("incident-start", "", "incident start, RFC 3339 (default: now; for drills and late declarations)")
	tpl := fs.String("template", "", "proof template (default DIR/template.md when it exists, else the one built into casino)")
	drill := fs.Bool("drill", false, "a drill, not an incident: the proof says DRILL PROOF")
	url := fs.String("url", "", "base URL of the service: records /api/version and, with the owner's password, the data summary before the incident")
	var owner ownerFlags
	bindOwnerFlags(fs, &owner, " (for the data summary, with --url)")
	baseline := fs.Duration("baseline-p95", 0, "p95 request duration baseline validate compares with (e.g. 250ms)")
	var pf drPITRFlags
	bindDRPITRFlags(fs, env, &pf)
	if err := parseFlags(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("dr declare: unexpected argument %q", fs.Arg(0))
	}
	if !slices.Contains(dr.Severities, *sev) {
		return usageErrorf("dr declare: --severity must be one of %s", strings.Join(dr.Severities, ", "))
	}
	if *ic == "" || *comms == "" {
		return usageErrorf("dr declare: --ic and --comms name who commands and who communicates")
	}
	var err error
	now := time.Now().UTC()
	d := dr.Declaration{Severity: *sev, IC: *ic, Comms: *comms, IncidentStart: now, URL: *url, BaselineP95MS: float64(baseline.Microseconds()) / 1000}
	if *start != "" {
		t, err := time.Parse(time.RFC3339, *start)
		if err != nil {
			return usageErrorf("dr declare: --incident-start: %v", err)
		}
		d.IncidentStart = t.UTC()
	}
	d.ImpactStart = d.IncidentStart
	if *impact != "" {
		t, err := time.Parse(time.RFC3339, *impact)
		if err != nil {
			return usageErrorf("dr declare: --impact-start: %v", err)
		}
		d.ImpactStart = t.UTC()
	}
	if err := d.CheckTimes(now); err != nil {
		return usageErrorf("dr declare: %v", err)
	}
	password := owner.password(env)
	if *url != "" {
		d.ObserveService(ctx, *url, owner.email, password, "no owner password in $"+owner.pwEnv)
	}
	d.SetVersions(versionHistory(ctx, env))
	src, err := dr.LoadSource(*tpl, filepath.Join(f.proofDir, "template.md"), "template.md", ops.Template)
	if err != nil {
		return fmt.Errorf("dr declare: proof template: %w", err)
	}
	d.Drill = *drill
	red := newRedactor(env, password)
	if d.PITR, err = pf.config(ctx, fs, env, red); err != nil {
		return err
	}
	if prev, err := dr.Open(f.proofDir, "", red); err == nil {
		fmt.Fprintf(env.Stderr, "note: incident %s is still open in %s; later commands will need --incident\n", prev.ID, f.proofDir)
	}
	in, err := dr.Declare(f.proofDir, src, d, red, now)
	if err != nil {
		return err
	}
	if f.attachMirror(in) {
		if err := in.MirrorNow(); err != nil {
			in.MirrorFailed(err)
		} else {
			fmt.Fprintf(env.Stdout, "  mirror:  %s\n", in.Mirror.Where(in.ID))
		}
	}
	kind := "incident"
	if d.Drill {
		kind = "drill"
	}
	fmt.Fprintf(env.Stdout, "declared %s %s %s (template %s)\n  proof:   %s\n  journal: %s\n  incident_start_utc: %s\n  impact_start_utc:   %s\n",
		d.Severity, kind, in.ID, src.Name, in.ProofPath(), in.JournalPath(), d.IncidentStart.Format(time.RFC3339), d.ImpactStart.Format(time.RFC3339))
	if d.DataBefore != nil {
		fmt.Fprintf(env.Stdout, "  data before: restore_id %q, tenants %d, users %d\n", d.DataBefore.RestoreID, d.DataBefore.RowCounts["tenants"], d.DataBefore.RowCounts["users"])
	} else if *url != "" {
		fmt.Fprintf(env.Stdout, "  data before: not recorded (%s)\n", red.String(d.DataBeforeError))
	}
	fmt.Fprintf(env.Stdout, "  configuration:      %s\n", d.PITR.Describe())
	if d.VersionBefore != "" {
		fmt.Fprintf(env.Stdout, "  version running: %s\n", d.VersionBefore)
	} else if d.VersionError != "" {
		fmt.Fprintf(env.Stdout, "  version running: not recorded (%s)\n", d.VersionError)
	}
	if d.VersionPrevious != nil {
		fmt.Fprintf(env.Stdout, "  previous distinct version (rollback target): %s\n", dr.FormatVersion(*d.VersionPrevious))
	} else {
		fmt.Fprintf(env.Stdout, "  previous distinct version: not known (%s)\n", red.String(d.VersionPreviousError))
	}
	fmt.Fprintln(env.Stdout, "next: "+in.State.Next())
	return nil
}

const drStatusUsage = `dr status [--proof-dir DIR] [--incident ID] [--json] [--remote[=s3://bucket/prefix]]

Rebuilds where the incident stands from its journal alone (verifying the hash
chain), re-renders the proof's generated part, and prints the state: steps
done, failed, or interrupted (started, never ended: the CLI was killed or is
still running).

With a remote (CASINO_BACKUP_REMOTE, or --remote), every dr command mirrors
the journal and proof to s3://bucket/prefix/proofs/INCIDENT/ after each
journal entry, under new names only. On a new host, dr status --remote
rebuilds the open incident from there (chain and proof verified first) and
the next dr command continues it.`

func runDRStatus(ctx context.Context, env *Env, args []string) error {
	var f drFlags
	fs := newFlagSet(env, "dr status", drStatusUsage)
	bindDRFlags(fs, env, &f)
	asJSON := fs.Bool("json", false, "print the state as JSON")
	if err := parseFlags(fs, args); err != nil {
		return helpOK(err)
	}
	red := newRedactor(env)
	if f.remote.set {
		w := env.Stdout
		if *asJSON {
			w = env.Stderr // stdout carries only the JSON
		}
		if err := rebuildFromRemote(ctx, w, &f); err != nil {
			return err
		}
	}
	in, err := openIncident(&f, red, false)
	if err != nil {
		return err
	}
	st := in.State
	if !st.Closed {
		if err := in.Render(); err != nil {
			return fmt.Errorf("re-render proof: %w", err)
		}
		// A mirror missed earlier (the remote was down) is caught up here.
		if in.Mirror != nil {
			if err := in.MirrorNow(); err != nil {
				in.MirrorFailed(err)
			} else if !*asJSON {
				fmt.Fprintf(env.Stdout, "mirrored: %s (entry %d)\n", in.Mirror.Where(in.ID), len(in.Entries))
			}
		}
	}
	status := in.Status()
	if *asJSON {
		return writeJSON(env.Stdout, status)
	}
	w := env.Stdout
	fmt.Fprintf(w, "incident %s: %s, %s, IC %s, comms %s\n", in.ID, strings.ToUpper(status.State), st.Severity, st.IC, st.Comms)
	fmt.Fprintf(w, "  proof %s, journal %d entries (chain verified)\n", in.ProofPath(), len(in.Entries))
	fmt.Fprintf(w, "  incident_start_utc %s, impact_start_utc %s\n", st.IncidentStart.Format(time.RFC3339), st.ImpactStart.Format(time.RFC3339))
	if st.Platform != nil {
		var parts []string
		for _, c := range st.Platform.Components {
			if c.Replicas != nil {
				parts = append(parts, fmt.Sprintf("%s=%d", c.Name, *c.Replicas))
			} else {
				parts = append(parts, c.Name+"="+c.State)
			}
		}
		fmt.Fprintf(w, "  recorded before containment (%s): %s\n", st.Platform.Platform, strings.Join(parts, " "))
	}
	if st.Scenario != nil {
		fmt.Fprintf(w, "  scenario %s: %s\n", st.Scenario.Scenario, st.Scenario.Reason)
	}
	if st.LoginFrozen != "" {
		fmt.Fprintf(w, "  login freeze: %s\n", st.LoginFrozen)
	}
	fmt.Fprintln(w, "steps:")
	if len(status.Steps) == 0 {
		fmt.Fprintln(w, "  (none yet)")
	}
	for _, s := range status.Steps {
		extra := ""
		switch s.State {
		case "done", "failed":
			extra = fmt.Sprintf("exit %d", *s.ExitCode)
		case "interrupted":
			extra = fmt.Sprintf("started %s by pid %d, no end recorded: run it again to resume", s.Started.Format(time.RFC3339), s.PID)
		case "running":
			extra = fmt.Sprintf("no end recorded: %s; wait for it before running it again", s.Running)
		}
		fmt.Fprintf(w, "  %-12s %s  %s\n", strings.ToUpper(s.State), s.Step, extra)
	}
	if n := len(st.Validations); n > 0 {
		v := st.Validations[n-1]
		verdict := "PASSED"
		if !v.Passed {
			verdict = "FAILED: " + strings.Join(v.Failed, ", ")
		}
		fmt.Fprintf(w, "validations: %d, last %s %s\n", n, v.End.Format(time.RFC3339), verdict)
	}
	if status.Next != "" {
		fmt.Fprintln(w, "next: "+status.Next)
	}
	if st.Closed && st.Close != nil {
		for _, m := range []struct {
			n string
			m *dr.Measure
		}{{"RTO", st.Close.RTO}, {"RPO", st.Close.RPO}} {
			if m.m != nil {
				fmt.Fprintf(w, "%s %s (target %s)%s\n", m.n, m.m.Value, m.m.Target, m.m.NotKnown)
			}
		}
	}
	return nil
}

var errNoOpen = dr.ErrNoIncident

func isNoIncident(err error) bool { return errors.Is(err, errNoOpen) }
