package dr

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// ContainOptions adjust Contain.
type ContainOptions struct {
	// Run runs the record and containment commands (ExecRunner in
	// production).
	Run Runner
	// StateDir is the folder of the local 0600 secrets file; it must lie
	// outside the proof folder (RecordPlatform).
	StateDir string
	// Force runs the step again although it is done.
	Force bool
	// Out receives each containment command line, its stdout and a line
	// per action; Err receives the commands' stderr. Either may be nil.
	Out, Err io.Writer
}

// RecordFailed is Contain's error when the state could not be recorded
// before containment: nothing was stopped.
type RecordFailed struct{ Err error }

func (e *RecordFailed) Error() string {
	return fmt.Sprintf("record state: %v (nothing was stopped)", e.Err)
}

func (e *RecordFailed) Unwrap() error { return e.Err }

// CheckContain says whether contain may start on plat: the incident did
// not record another platform's state, and the step may start (CheckStep).
func (in *Incident) CheckContain(plat Platform, force bool) error {
	if st := in.State.Platform; st != nil && st.Platform != plat.Name() {
		return fmt.Errorf("this incident recorded %s state; contain with --platform %s", st.Platform, st.Platform)
	}
	return in.CheckStep("contain", force)
}

// ContainPlan is what Contain would run, for --dry-run.
type ContainPlan struct {
	// Recorded is true when the journal already holds the state, which a
	// resumed contain keeps; else Record are the commands that record it.
	Recorded bool
	Record   [][]string
	// Contain are the containment commands.
	Contain [][]string
}

// PlanContain returns what Contain would run on plat. Local processes are
// read (not changed) to name the pids contain would signal.
func (in *Incident) PlanContain(ctx context.Context, plat Platform) (ContainPlan, error) {
	if st := in.State.Platform; st != nil {
		return ContainPlan{Recorded: true, Contain: plat.Contain(*st)}, nil
	}
	st := PlatformState{Platform: plat.Name()}
	if plat.Name() == "local" {
		var err error
		if st, _, err = plat.Record(ctx, nil); err != nil {
			return ContainPlan{}, err
		}
	}
	return ContainPlan{Record: plat.RecordCommands(), Contain: plat.Contain(st)}, nil
}

// Contain runs the contain step: it records the platform's state first
// (RecordPlatform; a resumed contain keeps the state recorded the first
// time), then runs the containment commands in order, stopping at the
// first failure. A failure to record is *RecordFailed; a failed command is
// *StepFailed.
func (in *Incident) Contain(ctx context.Context, plat Platform, o ContainOptions) error {
	spec := StepSpec{Step: "contain", Kind: "contain", Commands: append(plat.RecordCommands(), plat.Contain(PlatformState{})...), Force: o.Force}
	var recordErr error
	err := in.RunStep(ctx, spec, func(ctx context.Context, s *StepRun) StepResult {
		var outs []Output
		if in.State.Platform == nil {
			// Journaled through the incident, as s.Record would; local
			// secrets go to the 0600 file first.
			recorded, routs, err := in.RecordPlatform(ctx, plat, o.Run, o.StateDir)
			outs = append(outs, routs...)
			if err != nil {
				recordErr = &RecordFailed{Err: err}
				return StepResult{Outputs: outs, ExitCode: 1, Err: fmt.Errorf("record state: %w", err)}
			}
			say(o.Out, "recorded state before containment in %s", in.JournalPath())
			if recorded.SecretsFile != "" {
				say(o.Out, "recorded environments (secrets included) in %s (0600)", recorded.SecretsFile)
			}
		} else {
			say(o.Out, "resuming: keeping the state recorded before the first containment")
		}
		couts, code := RunCommands(ctx, o.Run, plat.Contain(*in.State.Platform), o.Out, o.Err)
		res := StepResult{Outputs: append(outs, couts...), ExitCode: code}
		if code != 0 {
			res.Err = fmt.Errorf("a containment command exited %d", code)
		}
		return res
	})
	if recordErr != nil {
		return recordErr
	}
	return err
}

// RunCommands runs cmds in order through run, stopping at the first
// failure, and returns their outputs and the exit code of the last one run.
// Each command line and its stdout go to out, its stderr to errw.
func RunCommands(ctx context.Context, run Runner, cmds [][]string, out, errw io.Writer) ([]Output, int) {
	var outs []Output
	for _, c := range cmds {
		say(out, "$ %s", CommandLine(c))
		o := run(ctx, c)
		if s := strings.TrimSpace(o.Stdout); s != "" {
			say(out, "%s", s)
		}
		if s := strings.TrimSpace(o.Stderr); s != "" {
			say(errw, "%s", s)
		}
		outs = append(outs, o)
		if o.ExitCode != 0 {
			return outs, o.ExitCode
		}
	}
	return outs, 0
}

// say writes one line to w when there is a w.
func say(w io.Writer, format string, a ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", a...)
	}
}
