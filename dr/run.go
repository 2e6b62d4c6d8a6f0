package dr

import (
	"context"
	"io"
)

// RunOptions adjust RunCommand.
type RunOptions struct {
	Force bool
	// ResultFile is where the command writes its restore facts (casino
	// restore --result-file F); empty: they are looked for on stdout.
	ResultFile string
	// Dir is the working folder, journaled with the command line.
	Dir string
	// Stdin is the operator's input, passed through (not journaled).
	Stdin io.Reader
	// Tee receives stdout and stderr as they come.
	Tee func(stdout bool, p []byte)
	// Warn is told about a journal write that failed without failing the
	// step (the command's pid).
	Warn func(error)
}

// RunResult is what RunCommand ran and journaled.
type RunResult struct {
	Step   string
	Output Output
	// Restore is the typed restore facts captured from the command, nil
	// when it printed none.
	Restore *RestoreRecord
	// FactsErr: the command named or printed restore facts that did not
	// parse; the step is journaled as failed, and the restore counts for
	// nothing.
	FactsErr error
}

// RunCommand is the step of `dr run`: it runs an operator command as the
// step "run COMMAND LINE", journals the command's pid while it runs, its
// restore facts (typed, for dr close's RPO and validate's data check) and
// its end. It returns *StepFailed when the command exited non-zero or its
// facts did not parse.
func (in *Incident) RunCommand(ctx context.Context, argv []string, o RunOptions) (RunResult, error) {
	res := RunResult{Step: "run " + CommandLine(argv)}
	spec := StepSpec{Step: res.Step, Kind: "run", Commands: [][]string{argv}, Dir: o.Dir, Force: o.Force}
	err := in.RunStep(ctx, spec, func(ctx context.Context, s *StepRun) StepResult {
		started := func(pid int) {
			if err := s.Child(pid); err != nil && o.Warn != nil {
				o.Warn(err)
			}
		}
		res.Output = ExecRunner(ExecOptions{Tee: o.Tee, Started: started, Stdin: o.Stdin})(ctx, argv)
		rec, ferr := CaptureRestore(res.Step, res.Output, o.ResultFile)
		res.FactsErr = ferr
		if rec != nil {
			if err := s.Record(TypeRestore, rec); err != nil {
				return StepResult{Outputs: []Output{res.Output}, ExitCode: res.Output.ExitCode, Err: err}
			}
			res.Restore = rec
		}
		return StepResult{Outputs: []Output{res.Output}, ExitCode: res.Output.ExitCode, Err: ferr}
	})
	return res, err
}
