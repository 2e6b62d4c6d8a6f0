package dr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Marker separates the proof's head (the journaled template, filled in)
// from the record of the incident.
const Marker = "<!-- casino dr: everything below this line is generated from the journal; edits are overwritten -->"

// RendererVersion is the version of the proof's layout. A journal records
// the version that rendered it; verify-proof refuses a journal from a newer
// renderer rather than report a difference the operator did not make, and
// an older journal re-renders as its version did. Version 3 names the
// runbook a scenario decision printed; version 4 shows a point-in-time
// restore's facts (target, time reached, the server's recovery lines, the
// base backup, unsigned WAL) and flags facts that contradict each other.
const RendererVersion = 4

// RenderBytes returns the proof as the journal alone determines it: the
// journaled template, filled in, then the record of every entry. Only
// pattern redaction (a function of the text alone) runs here: every entry
// was redacted by value when it was journaled. ok is false for a journal
// from before the template was journaled (renderer version 0), whose head
// only the file on disk holds.
func (in *Incident) RenderBytes() (proof []byte, ok bool) {
	if in.State.RendererVersion == 0 {
		return nil, false
	}
	var b strings.Builder
	b.WriteString(strings.TrimRight(in.proofHead(), "\n"))
	b.WriteString("\n\n" + Marker + "\n\n")
	in.renderBody(&b)
	return []byte(scrub(nil, b.String())), true
}

// Render rewrites the proof from the journal. A legacy proof (whose
// template the journal lacks) keeps its head as it is on disk.
func (in *Incident) Render() error {
	path := in.ProofPath()
	out, ok := in.RenderBytes()
	if !ok {
		old, err := os.ReadFile(path)
		if err != nil && !os.IsNotExist(err) {
			return err
		}
		head := old
		if i := bytes.Index(old, []byte(Marker)); i >= 0 {
			head = old[:i]
		}
		var b strings.Builder
		b.Write(bytes.TrimRight(head, "\n"))
		b.WriteString("\n\n" + Marker + "\n\n")
		in.renderBody(&b)
		out = []byte(scrub(in.Red, b.String()))
	}
	// A unique temp file and a rename: a concurrent status never sees, nor
	// interleaves with, a half-written proof.
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(out); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	os.Chmod(tmp.Name(), 0o644)
	return os.Rename(tmp.Name(), path)
}

func ts(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(time.RFC3339)
}

func fence(b *strings.Builder, s string) {
	s = strings.TrimRight(s, "\n")
	f := "```"
	for strings.Contains(s, f) {
		f += "`"
	}
	fmt.Fprintf(b, "%stext\n%s\n%s\n", f, s, f)
}

func cmdline(argv []string) string {
	var parts []string
	for _, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n'\"$`\\|&;<>(){}*?![]") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// CommandLine renders argv as a shell would need it typed.
func CommandLine(argv []string) string { return cmdline(argv) }

func (in *Incident) renderBody(b *strings.Builder) {
	st := in.State
	status := "OPEN"
	if st.Closed {
		status = "CLOSED " + ts(st.ClosedAt)
	}
	fmt.Fprintf(b, "## Incident record `%s` (generated)\n\n", in.ID)
	fmt.Fprintf(b, "| field | value |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(b, "| %s | %s |\n", k, strings.ReplaceAll(v, "|", `\|`)) }
	row("status", status)
	row("severity", st.Severity)
	row("incident_commander", st.IC)
	row("comms_owner", st.Comms)
	row("incident_start_utc", ts(st.IncidentStart))
	row("impact_start_utc", ts(st.ImpactStart))
	if st.VersionBefore != "" {
		row("version_before", st.VersionBefore)
	}
	if st.VersionPrevious != nil {
		row("version_previous", FormatVersion(*st.VersionPrevious))
	}
	if st.PITR != nil {
		row("pitr_configuration", st.PITR.Describe())
	}
	if st.Scenario != nil {
		row("scenario", st.Scenario.Scenario+": "+st.Scenario.Reason)
	}
	if st.LoginFrozen != "" {
		row("login_freeze", st.LoginFrozen)
	}
	if n := len(in.Entries); n > 0 {
		h := in.Entries[n-1]
		row("journal", fmt.Sprintf("`%s`, %d entries, head seq %d sha256 `%s`", filepath.Base(in.JournalPath()), n, h.Seq, h.Hash))
	}
	b.WriteString("\nVerify with `casino dr verify-proof " + filepath.Base(in.ProofPath()) + "`.\n")

	b.WriteString("\n## Timeline (generated from the journal)\n\n")
	for _, e := range in.Entries {
		in.renderEntry(b, e)
	}
	if st.Closed && st.Close != nil {
		renderClose(b, st, in)
	}
	for _, e := range in.Entries {
		if e.Type != TypeAddendum {
			continue
		}
		var a Addendum
		json.Unmarshal(e.Data, &a)
		fmt.Fprintf(b, "\n## Addendum %d: %s (after close, journal entry %d)\n\n%s\n", e.Seq, a.Section, e.Seq, strings.TrimRight(a.Text, "\n"))
	}
}

func (in *Incident) renderEntry(b *strings.Builder, e Entry) {
	head := func(title string) { fmt.Fprintf(b, "### %d. %s — %s\n\n", e.Seq, ts(e.TS), title) }
	switch e.Type {
	case TypeDeclare:
		var d Declaration
		json.Unmarshal(e.Data, &d)
		head("declared " + d.Severity)
		fmt.Fprintf(b, "IC %s, comms %s. incident_start_utc %s, impact_start_utc %s.", d.IC, d.Comms, ts(d.IncidentStart), ts(d.ImpactStart))
		if d.URL != "" {
			fmt.Fprintf(b, " Version before at %s: %s%s.", d.URL, d.VersionBefore, d.VersionError)
		}
		if d.VersionSource != "" {
			fmt.Fprintf(b, " Running version %s, from %s.", d.VersionBefore, d.VersionSource)
		}
		if d.VersionPrevious != nil {
			fmt.Fprintf(b, " Previous distinct version (Scenario A's rollback target): %s.", FormatVersion(*d.VersionPrevious))
		} else if d.VersionPreviousError != "" {
			fmt.Fprintf(b, " Previous version not known: %s.", d.VersionPreviousError)
		}
		if d.BaselineP95MS > 0 {
			fmt.Fprintf(b, " Baseline p95 %.3f ms.", d.BaselineP95MS)
		}
		if d.DataBefore != nil {
			fmt.Fprintf(b, " Data before: restore_id %q, %s.", d.DataBefore.RestoreID, formatCounts(d.DataBefore.RowCounts))
		} else if d.DataBeforeError != "" {
			fmt.Fprintf(b, " Data before not recorded: %s.", d.DataBeforeError)
		}
		if d.PITR != nil {
			fmt.Fprintf(b, " Configuration in force: %s.", d.PITR.Describe())
		}
		b.WriteString("\n\n")
	case TypeState:
		var ps PlatformState
		json.Unmarshal(e.Data, &ps)
		head("recorded state before containment (" + ps.Platform + ")")
		for _, c := range ps.Components {
			switch {
			case c.Replicas != nil:
				fmt.Fprintf(b, "- `%s`: %d replicas\n", c.Name, *c.Replicas)
			case c.PID > 0:
				fmt.Fprintf(b, "- `%s`: %s, pid %d, `%s`\n", c.Name, c.State, c.PID, cmdline(c.Cmdline))
				if c.Exe != "" {
					fmt.Fprintf(b, "  - binary `%s` sha256 `%s`, folder `%s`\n", c.Exe, c.ExeSHA256, c.Cwd)
					var names []string
					for _, v := range c.Env {
						if v.Secret {
							names = append(names, v.Name+"="+v.Value)
						} else {
							names = append(names, v.Name)
						}
					}
					fmt.Fprintf(b, "  - environment (%d variables; values in the secrets file, secrets masked here): %s\n", len(c.Env), strings.Join(names, " "))
				}
			default:
				fmt.Fprintf(b, "- `%s`: %s\n", c.Name, c.State)
			}
		}
		if ps.SecretsFile != "" {
			fmt.Fprintf(b, "\nClear-text environment and command lines: `%s` (0600, outside the proof folder, never journaled).\n", ps.SecretsFile)
		}
		b.WriteString("\n")
	case TypeFreeze:
		var f FreezeRecord
		json.Unmarshal(e.Data, &f)
		head(FreezeLine(f))
		if f.APIProblem != "" && f.Path == FreezeViaDatabase && f.Trigger == FreezeTriggerCommand {
			fmt.Fprintf(b, "The API was not used: %s.\n\n", f.APIProblem)
		}
		if f.Remedy != "" {
			fmt.Fprintf(b, "**To do:** %s\n\n", f.Remedy)
		}
	case TypeStepStart:
		var d StepStart
		json.Unmarshal(e.Data, &d)
		head("started `" + d.Step + "`")
		if len(d.Commands) > 0 {
			var lines []string
			for _, c := range d.Commands {
				lines = append(lines, "$ "+cmdline(c))
			}
			fence(b, strings.Join(lines, "\n"))
			b.WriteString("\n")
		}
		if s := in.State.Steps[d.Step]; s != nil && !s.Ended && s.StartSeq == e.Seq {
			fmt.Fprintf(b, "**No end recorded** (pid %d): the step was interrupted or is still running.\n\n", d.PID)
		}
	case TypeStepChild:
		var d StepChild
		json.Unmarshal(e.Data, &d)
		head(fmt.Sprintf("`%s` running as pid %d", d.Step, d.PID))
	case TypeStepEnd:
		var d StepEnd
		json.Unmarshal(e.Data, &d)
		verdict := "done"
		if d.ExitCode != 0 || d.Error != "" {
			verdict = "FAILED"
		}
		head(fmt.Sprintf("%s `%s`, exit %d, %s → %s (%s)", verdict, d.Step, d.ExitCode, ts(d.Start), ts(d.End), d.End.Sub(d.Start).Round(time.Millisecond)))
		if d.Error != "" {
			fmt.Fprintf(b, "Error: %s\n\n", d.Error)
		}
		for _, o := range d.Outputs {
			fmt.Fprintf(b, "`$ %s` exit %d, %s → %s\n\n", cmdline(o.Argv), o.ExitCode, ts(o.Start), ts(o.End))
			if o.Stdout != "" {
				b.WriteString("stdout:\n")
				fence(b, o.Stdout)
			}
			if o.Stderr != "" {
				b.WriteString("stderr:\n")
				fence(b, o.Stderr)
			}
			if o.Truncated {
				fmt.Fprintf(b, "(output capped at %d bytes per stream)\n", OutputCap)
			}
			b.WriteString("\n")
		}
	case TypeScenario:
		var d ScenarioDecision
		json.Unmarshal(e.Data, &d)
		head("decided scenario " + d.Scenario)
		fmt.Fprintf(b, "Reason: %s\n\n", d.Reason)
		if d.Runbook != "" && in.State.RendererVersion >= 3 {
			fmt.Fprintf(b, "Runbook section printed from `%s`.\n\n", d.Runbook)
		}
		if d.RollbackTarget != "" {
			fmt.Fprintf(b, "Rollback target (previous distinct version): %s\n\n", d.RollbackTarget)
		} else if d.RollbackError != "" {
			fmt.Fprintf(b, "Rollback target not known: %s\n\n", d.RollbackError)
		}
	case TypeValidate:
		var v Validation
		json.Unmarshal(e.Data, &v)
		verdict := "PASSED"
		if !v.Passed {
			verdict = "FAILED (" + strings.Join(v.Failed, ", ") + ")"
		}
		if !v.Complete {
			verdict += ", incomplete (did not run: " + strings.Join(v.Skipped, ", ") + ")"
		}
		head("validation of " + v.URL + ": " + verdict)
		b.WriteString(ValidationTable(v))
		b.WriteString("\n")
	case TypeRestore:
		var r RestoreRecord
		json.Unmarshal(e.Data, &r)
		f := r.Facts
		verdict := "restored"
		v4 := in.State.RendererVersion >= 4
		problems := PITRProblems(&f)
		switch {
		case f.DryRun:
			verdict = "dry run of a restore (does not count)"
		case r.ExitCode != 0:
			verdict = fmt.Sprintf("restore FAILED (exit %d, does not count)", r.ExitCode)
		case v4 && len(problems) > 0:
			verdict = "restore facts CONTRADICT each other (does not count)"
		}
		head(fmt.Sprintf("%s `%s` (facts from %s)", verdict, f.Backup.Name, r.Source))
		row := func(k, v string) {
			if v != "" {
				fmt.Fprintf(b, "- %s: %s\n", k, v)
			}
		}
		row("restore_id", "`"+f.RestoreID+"`")
		row("backup sha256", f.Backup.SHA256)
		row("snapshot_at", ts(f.Backup.SnapshotAt))
		row("signing key", f.Backup.KeyFingerprint)
		row("target", strings.TrimSpace(f.Target.Engine+" "+f.Target.Database+" "+f.Target.SystemIdentifier+" "+f.Target.Path))
		row("overrides", strings.Join(f.Overrides, ", "))
		row("kept aside", f.KeptAside)
		switch {
		case f.PITR != nil && v4:
			renderPITRFacts(row, &f)
		case f.PITR != nil:
			row("point in time reached", ts(f.PITR.ReachedAt))
		}
		if len(f.RowCounts) > 0 {
			row("row counts", formatCounts(f.RowCounts))
		}
		if v4 && len(problems) > 0 {
			b.WriteString("\n**These point-in-time facts are impossible together; no RPO is measured from them and the data check does not expect them:**\n\n")
			for _, p := range problems {
				fmt.Fprintf(b, "- %s\n", p)
			}
		}
		b.WriteString("\n")
	case TypeNote:
		var n Note
		json.Unmarshal(e.Data, &n)
		head("note")
		b.WriteString(strings.TrimRight(n.Text, "\n") + "\n\n")
	case TypeAddendum:
		var a Addendum
		json.Unmarshal(e.Data, &a)
		head(fmt.Sprintf("addendum: %s from `%s` (sha256 %s), below", a.Section, a.File, a.SHA256))
	case TypeSignature:
		var sg Signature
		json.Unmarshal(e.Data, &sg)
		head(fmt.Sprintf("signed entry %d (sha256 `%s`) with key %s", sg.Seq, sg.Hash, sg.KeyFingerprint))
	case TypeSentRequests:
		var d SentRequests
		json.Unmarshal(e.Data, &d)
		head(fmt.Sprintf("`%s` sent %d requests (their ids are left out of the log checks)", d.Step, len(d.IDs)))
	case TypeClose:
		head("closed")
	default:
		head(e.Type)
	}
}

// ValidationTable renders a validation as a Markdown table.
func ValidationTable(v Validation) string {
	var b strings.Builder
	b.WriteString("| check | result | must-pass | duration | detail |\n|---|---|---|---|---|\n")
	for _, c := range v.Checks {
		mp := "yes"
		if !c.MustPass {
			mp = "no"
		}
		fmt.Fprintf(&b, "| %s | **%s** | %s | %.1f ms | %s |\n", c.Name, c.Status, mp, c.DurationMS, strings.ReplaceAll(strings.ReplaceAll(c.Detail, "|", `\|`), "\n", " "))
	}
	return b.String()
}

func renderMeasure(b *strings.Builder, name string, m *Measure) {
	if m == nil {
		return
	}
	val := m.Value
	if val == "" {
		val = "not known: " + m.NotKnown
	}
	target := m.Target
	if target == "" {
		target = "none"
	}
	met := "n/a"
	if m.Met != nil {
		met = map[bool]string{true: "MET", false: "NOT MET"}[*m.Met]
	}
	fmt.Fprintf(b, "| %s | %s | %s | %s | %s → %s | %s |\n", name, val, target, met, ts(m.From), ts(m.To), m.Basis)
}

func renderClose(b *strings.Builder, st *State, in *Incident) {
	c := st.Close
	b.WriteString("\n## RTO / RPO (generated at close)\n\n")
	if c.Configuration != "" {
		fmt.Fprintf(b, "Scenario %s, targets from `%s`, %s.\n\n", c.Scenario, c.TargetsFile, c.Configuration)
	} else {
		fmt.Fprintf(b, "Scenario %s, targets from `%s`.\n\n", c.Scenario, c.TargetsFile)
	}
	b.WriteString("| measure | value | target | verdict | from → to | basis |\n|---|---|---|---|---|---|\n")
	renderMeasure(b, "RTO", c.RTO)
	renderMeasure(b, "RPO", c.RPO)
	b.WriteString("\n## Postmortem (skeleton, generated at close)\n\n### Summary\n\n")
	if c.Summary != "" {
		b.WriteString(c.Summary + "\n\n")
	}
	fmt.Fprintf(b, "%s incident declared %s by IC %s (comms %s); impact from %s; scenario %s.", st.Severity, ts(st.IncidentStart), st.IC, st.Comms, ts(st.ImpactStart), c.Scenario)
	if c.RTO != nil && c.RTO.Value != "" {
		fmt.Fprintf(b, " Service validated after %s (RTO target %s).", c.RTO.Value, c.RTO.Target)
	}
	if c.RPO != nil && c.RPO.Value != "" {
		fmt.Fprintf(b, " Data restored to %s, %s before impact (RPO target %s).", ts(c.RPO.From), c.RPO.Value, c.RPO.Target)
	}
	if len(c.Unmet) > 0 {
		fmt.Fprintf(b, " Targets not met: %s.", strings.Join(c.Unmet, ", "))
	}
	b.WriteString("\n\n### Timeline\n\n")
	for _, e := range in.Entries {
		fmt.Fprintf(b, "- %s — %s\n", ts(e.TS), timelineLine(e, st.RendererVersion))
	}
	b.WriteString("\n### Root cause\n\n_TODO_\n\n### Corrective actions\n\n- [ ] _TODO_\n\n### Follow-ups\n\n- [ ] _TODO_ (owner, due date)\n")
}

// timelineLine is one entry in the postmortem's timeline, as renderer
// version v wrote it.
func timelineLine(e Entry, v int) string {
	switch e.Type {
	case TypeDeclare:
		var d Declaration
		json.Unmarshal(e.Data, &d)
		return "declared " + d.Severity
	case TypeState:
		return "recorded platform state before containment"
	case TypeFreeze:
		var f FreezeRecord
		json.Unmarshal(e.Data, &f)
		return FreezeLine(f)
	case TypeStepStart:
		var d StepStart
		json.Unmarshal(e.Data, &d)
		return "started " + d.Step
	case TypeStepChild:
		var d StepChild
		json.Unmarshal(e.Data, &d)
		return fmt.Sprintf("%s running as pid %d", d.Step, d.PID)
	case TypeStepEnd:
		var d StepEnd
		json.Unmarshal(e.Data, &d)
		return fmt.Sprintf("%s ended, exit %d", d.Step, d.ExitCode)
	case TypeScenario:
		var d ScenarioDecision
		json.Unmarshal(e.Data, &d)
		return "scenario " + d.Scenario + ": " + d.Reason
	case TypeValidate:
		var v Validation
		json.Unmarshal(e.Data, &v)
		if v.Passed {
			return "validation passed"
		}
		return "validation failed: " + strings.Join(v.Failed, ", ")
	case TypeRestore:
		var r RestoreRecord
		json.Unmarshal(e.Data, &r)
		if r.ExitCode != 0 || r.Facts.DryRun {
			return "restore facts of " + r.Facts.Backup.Name + " (dry run or failed: does not count)"
		}
		if v < 4 {
			return "restored " + r.Facts.Backup.Name + " (snapshot_at " + ts(r.Facts.Backup.SnapshotAt) + ")"
		}
		if !r.Counts() {
			return "restore facts of " + r.Facts.Backup.Name + " (point-in-time facts that contradict each other: does not count)"
		}
		if p := r.Facts.PITR; p != nil {
			to := "latest"
			if p.TargetTime != nil {
				to = p.TargetTime.UTC().Format(time.RFC3339Nano)
			}
			return "restored " + r.Facts.Backup.Name + " to " + to + " (reached " + p.ReachedAt.UTC().Format(time.RFC3339Nano) + ")"
		}
		return "restored " + r.Facts.Backup.Name + " (snapshot_at " + ts(r.Facts.Backup.SnapshotAt) + ")"
	case TypeNote:
		var n Note
		json.Unmarshal(e.Data, &n)
		first, _, _ := strings.Cut(n.Text, "\n")
		return "note: " + first
	case TypeSentRequests:
		var d SentRequests
		json.Unmarshal(e.Data, &d)
		return fmt.Sprintf("%s sent %d requests", d.Step, len(d.IDs))
	case TypeClose:
		return "closed"
	}
	return e.Type
}

// formatCounts renders row counts sorted by table: "tenants=2 users=5".
func formatCounts(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// FreezeLine is one line about a login_freeze entry.
func FreezeLine(f FreezeRecord) string {
	where := "through the API"
	switch f.Path {
	case FreezeViaDatabase:
		where = "in the database " + f.Database
	case FreezeViaFacts:
		where = "per the restore's facts"
	}
	if f.Trigger == FreezeTriggerRestore {
		verdict := "holds"
		switch {
		case f.Reapplied:
			verdict = "was " + f.Found + ", re-applied"
		case !f.OK:
			verdict = "FAILED: " + f.Error
		}
		return fmt.Sprintf("login freeze %s after restore %s, checked %s: %s", f.Want, f.RestoreID, where, verdict)
	}
	if !f.OK {
		return fmt.Sprintf("login freeze %s %s FAILED: %s", f.Want, where, f.Error)
	}
	return fmt.Sprintf("login freeze %s %s", f.Want, where)
}
