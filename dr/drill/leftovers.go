package drill

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"casino"
	"casino/dr"
	"casino/sqlstore"
)

// startGrace is how long a RUNNING row may lack a journaled step before it
// counts as interrupted: the drill journals its first step milliseconds
// after inserting the row.
const startGrace = 2 * time.Minute

// drillAlive reports whether the drill of a RUNNING row still runs: the
// process that journaled its proof's steps (pid and start time, so a
// reused pid is not taken for it) is alive.
func drillAlive(d casino.Drill, now time.Time) bool {
	in := &dr.Incident{Dir: filepath.Dir(d.ProofPath), ID: strings.TrimSuffix(filepath.Base(d.ProofPath), ".md")}
	if d.ProofPath == "" || in.Load() != nil || len(in.State.Order) == 0 {
		return now.Sub(d.StartedAt) < startGrace
	}
	for _, k := range in.State.Order {
		s := in.State.Steps[k]
		if dr.ProcessAliveSince(s.PID, s.PIDStart) {
			return true
		}
	}
	return false
}

// cleanLeftovers finds what interrupted drills left behind: RUNNING rows
// whose process is gone (marked FAILED, reason interrupted, and their open
// proofs closed), scratch databases <db>__drill_* and SQLite scratch
// folders of this database that no live drill owns (removed). It journals
// what it did in this drill's proof and returns it. A failure to clean is
// journaled and does not stop the drill.
func (r *run) cleanLeftovers(ctx context.Context) []string {
	o := r.o
	now := o.now()
	var done, problems []string
	ds, err := r.prod.Drills(ctx, 1000)
	if err != nil {
		problems = append(problems, "list drills: "+err.Error())
	}
	live := []string{r.d.Scratch}
	for _, d := range ds {
		if d.ID == r.d.ID || d.Verdict != casino.DrillRunning {
			continue
		}
		if drillAlive(d, now) {
			live = append(live, d.Scratch)
			continue
		}
		d.Verdict = casino.DrillFailed
		d.Reason = fmt.Sprintf("%s: the drill's process is gone (killed or its node lost); drill %s cleaned up after it", ReasonInterrupted, r.d.ID)
		fin := now.Truncate(time.Microsecond)
		d.FinishedAt = &fin
		if err := r.prod.FinishDrill(ctx, d); err != nil {
			problems = append(problems, err.Error())
			continue
		}
		done = append(done, fmt.Sprintf("drill %s (started %s, RUNNING) marked FAILED: interrupted", d.ID, d.StartedAt.Format(time.RFC3339)))
		if p := closeInterrupted(d, o, r.d.ID); p != "" {
			done = append(done, p)
		}
		// A scratch database named by --target is not found by its
		// pattern: drop it by the name the row recorded, when it lies on
		// the server this drill uses and is not production.
		if o.Production.Dialect == sqlstore.Postgres && d.Scratch != "" && d.Scratch != pgDBName(o.Production.URL) && strings.Contains(d.Scratch, drillTag) {
			if ok, _ := pgExists(ctx, r.sc.URL(), d.Scratch); ok {
				if err := pgDrop(ctx, r.sc.URL(), []string{d.Scratch}); err != nil {
					problems = append(problems, err.Error())
				} else {
					done = append(done, "dropped the interrupted drill's database "+d.Scratch)
				}
			}
		}
	}
	owned := func(name string) bool {
		for _, l := range live {
			if l == "" {
				continue
			}
			b := l
			if len(b) > 36 {
				b = b[:36]
			}
			if name == l || strings.HasPrefix(name, b+"__rs_") {
				return true
			}
		}
		return false
	}
	if o.Production.Dialect == sqlstore.Postgres {
		names, err := pgDatabases(ctx, r.sc.URL(), pgLeftoverPrefix(pgDBName(o.Production.URL)))
		if err != nil {
			problems = append(problems, "list scratch databases: "+err.Error())
		}
		var drop []string
		for _, n := range names {
			if !owned(n) {
				drop = append(drop, n)
			}
		}
		if err := pgDrop(ctx, r.sc.URL(), drop); err != nil {
			problems = append(problems, err.Error())
		} else if len(drop) > 0 {
			done = append(done, "dropped leftover scratch databases "+strings.Join(drop, ", "))
		}
	} else {
		root := o.ScratchDir
		if root == "" {
			root = os.TempDir()
		}
		ms, _ := filepath.Glob(filepath.Join(root, sqliteScratchPrefix(o.Production.Path)+"*"))
		for _, m := range ms {
			if owned(m) {
				continue
			}
			if err := os.RemoveAll(m); err != nil {
				problems = append(problems, err.Error())
			} else {
				done = append(done, "removed leftover scratch folder "+m)
			}
		}
	}
	// Work folders of dead drills (downloads, the restore's own folder).
	ws, _ := filepath.Glob(filepath.Join(orTemp(o.ScratchDir), "casino-drill-work-*"))
	for _, w := range ws {
		if pidFileDead(w) {
			if os.RemoveAll(w) == nil {
				done = append(done, "removed leftover work folder "+w)
			}
		}
	}
	text := "leftovers of interrupted drills: none"
	if len(done) > 0 {
		text = "leftovers of interrupted drills cleaned:\n- " + strings.Join(done, "\n- ")
	}
	if len(problems) > 0 {
		text += "\nnot cleaned:\n- " + strings.Join(problems, "\n- ")
	}
	if err := r.proof.AddNote(text); err != nil {
		o.logf("journal the leftovers: %v", err)
	}
	for _, d := range done {
		o.logf("cleaned: %s", d)
	}
	return done
}

func orTemp(dir string) string {
	if dir == "" {
		return os.TempDir()
	}
	return dir
}

// pidFile names the drill process that owns a work folder.
const pidFile = "owner.pid"

func writePidFile(dir string) error {
	return os.WriteFile(filepath.Join(dir, pidFile), []byte(fmt.Sprintf("%d %s\n", os.Getpid(), dr.ProcStart(os.Getpid()))), 0o600)
}

// pidFileDead reports whether the work folder's owner is gone; a folder
// without a readable owner file is left alone.
func pidFileDead(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, pidFile))
	if err != nil {
		return false
	}
	var pid int
	var start string
	fmt.Sscanf(string(b), "%d %s", &pid, &start)
	return pid > 0 && !dr.ProcessAliveSince(pid, start)
}

// closeInterrupted closes the open proof of an interrupted drill, when it
// lies in this drill's proof folder, with a note naming what happened.
func closeInterrupted(d casino.Drill, o *Options, by string) string {
	if d.ProofPath == "" || absClean(filepath.Dir(d.ProofPath)) != absClean(o.ProofDir) {
		return ""
	}
	in := &dr.Incident{Dir: o.ProofDir, ID: strings.TrimSuffix(filepath.Base(d.ProofPath), ".md"), Red: o.Red}
	if in.Load() != nil || in.State.Closed || in.State.DrillID != d.ID {
		return ""
	}
	if err := in.AddNote(fmt.Sprintf("verdict: FAILED (%s: the drill's process is gone; drill %s closed this proof and cleaned its leftovers)", ReasonInterrupted, by)); err != nil {
		return ""
	}
	rep := dr.CloseReport{Scenario: o.Scenario, TargetsFile: o.TargetsName, Summary: "DRILL FAILED: interrupted before it finished.",
		RTO: &dr.Measure{Basis: "drill recovery time", NotKnown: "the drill was interrupted"},
		RPO: &dr.Measure{Basis: "backup age at drill start", NotKnown: "the drill was interrupted"}}
	if err := in.Append(dr.TypeClose, rep); err != nil {
		return ""
	}
	return "closed the interrupted drill's proof " + in.ProofPath()
}
