package dr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// StepSpec names a step of the checklist and what it is about to run.
type StepSpec struct {
	// Step is the step's key in the journal: "contain", "restore-traffic",
	// "login-freeze on", "run COMMAND LINE". A key that finished with exit
	// 0 is done and is not run again without Force.
	Step string
	// Kind groups steps: contain, restore-traffic, login-freeze, run.
	Kind string
	// Commands are journaled at the start, before anything changes.
	Commands [][]string
	// Dir is the working folder the commands run in.
	Dir   string
	Force bool
}

// StepResult is what a step's body reports: the commands it ran, with their
// outputs, and whether it failed (a non-zero ExitCode, or Err).
type StepResult struct {
	Outputs  []Output
	ExitCode int
	Err      error
}

// StepFailed is RunStep's error when the step ran and failed. The failure
// is journaled; ExitCode is what the CLI exits with.
type StepFailed struct {
	Step     string
	ExitCode int
	Err      error
}

func (e *StepFailed) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("step %q failed: %v", e.Step, e.Err)
	}
	return fmt.Sprintf("step %q failed: exit %d", e.Step, e.ExitCode)
}

func (e *StepFailed) Unwrap() error { return e.Err }

// StepRun is a step while it runs: what its body uses to journal what it
// learns before it ends.
type StepRun struct {
	in    *Incident
	Spec  StepSpec
	Start time.Time
}

// Child journals the pid of the process the step started, so a resume after
// the CLI was killed knows whether that command outlived it (a restore still
// running must not start twice).
func (s *StepRun) Child(pid int) error {
	return s.in.Append(TypeStepChild, StepChild{Step: s.Spec.Step, PID: pid, PIDStart: ProcStart(pid)})
}

// Record journals a typed entry the step produced (recorded platform state,
// restore facts).
func (s *StepRun) Record(typ string, data any) error { return s.in.Append(typ, data) }

// Incident returns the incident the step belongs to, with the state as of
// the last entry journaled.
func (s *StepRun) Incident() *Incident { return s.in }

// CheckStep says whether the step may start: the incident is open, and the
// step is neither done (unless force) nor still running in another process
// (unless force). Commands call it before they ask for a confirmation.
func (in *Incident) CheckStep(step string, force bool) error {
	if err := in.Writable(); err != nil {
		return err
	}
	// Keys are journaled redacted; look the step up the same way.
	old, ok := in.State.Steps[in.Red.String(step)]
	if !ok || force {
		return nil
	}
	if old.Done() {
		return fmt.Errorf("%w: %q finished at %s with exit 0 (journal entry %d); pass --force to run it again",
			ErrStepDone, old.Key, old.End.End.Format(time.RFC3339), old.StartSeq)
	}
	if who, pid, alive := old.StillRunning(); alive {
		return fmt.Errorf("%q is still running (%s, pid %d, started %s): wait for it, or pass --force",
			old.Key, who, pid, old.Started.Format(time.RFC3339))
	}
	return nil
}

// RunStep runs one step of the checklist through its whole lifecycle:
// CheckStep; a step_start entry, synced to disk before body changes
// anything, so a step cut short by kill -9 shows as interrupted; body; and a
// step_end entry with body's result. It returns *StepFailed when body
// failed (journaled), and other errors when the step may not start or the
// journal cannot be written.
func (in *Incident) RunStep(ctx context.Context, spec StepSpec, body func(ctx context.Context, s *StepRun) StepResult) error {
	if err := in.CheckStep(spec.Step, spec.Force); err != nil {
		return err
	}
	start := StepStart{Step: spec.Step, Kind: spec.Kind, Commands: spec.Commands, Dir: spec.Dir,
		PID: os.Getpid(), PIDStart: ProcStart(os.Getpid()), Force: spec.Force}
	run := &StepRun{in: in, Spec: spec, Start: in.now()}
	if err := in.Append(TypeStepStart, start); err != nil {
		return err
	}
	res := body(ctx, run)
	end := StepEnd{Step: spec.Step, Start: run.Start, End: in.now(), ExitCode: res.ExitCode, Outputs: res.Outputs}
	if res.Err != nil {
		end.Error = res.Err.Error()
		if end.ExitCode == 0 {
			end.ExitCode = 1
		}
	}
	if err := in.Append(TypeStepEnd, end); err != nil {
		if res.Err != nil {
			return errors.Join(res.Err, err)
		}
		return err
	}
	if end.ExitCode != 0 {
		return &StepFailed{Step: spec.Step, ExitCode: end.ExitCode, Err: res.Err}
	}
	return nil
}
