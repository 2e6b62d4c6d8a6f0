// Command casino runs the casino back office and its disaster-recovery tools:
// serve (backend, frontend-admin or both), migrate, backup, restore and dr.
//
// main only calls run; everything is testable by calling run with fake
// arguments, environment and writers.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"casino/redact"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// Env is what a command may touch of the outside world.
type Env struct {
	Getenv func(string) string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// command is one subcommand: its name, a one-line summary for help, and its
// Run function, which parses its own flags.
type command struct {
	Name    string
	Summary string
	Run     func(ctx context.Context, env *Env, args []string) error
}

// commands is the registry of subcommands, in the order help lists them.
// Each lives in its own file.
var commands []command

func register(c command) { commands = append(commands, c) }

func findCommand(name string) *command {
	for i := range commands {
		if commands[i].Name == name {
			return &commands[i]
		}
	}
	return nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	env := &Env{Getenv: getenv, Stdin: stdin, Stdout: stdout, Stderr: stderr}
	if len(args) == 0 {
		printHelp(stderr)
		return usageErrorf("no command given")
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c := findCommand(args[1]); c != nil {
				return c.Run(ctx, env, []string{"-h"})
			}
			return usageErrorf("unknown command %q", args[1])
		}
		printHelp(stdout)
		return nil
	}
	c := findCommand(name)
	if c == nil {
		return usageErrorf("unknown command %q (run 'casino help' for the list)", name)
	}
	return c.Run(ctx, env, args[1:])
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "casino: the casino back office and its disaster-recovery tools.")
	fmt.Fprintln(w, "\nUsage:\n  casino COMMAND [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.Name, c.Summary)
	}
	fmt.Fprintln(w, "\nRun 'casino COMMAND -h' for a command's flags. Settings come from the")
	fmt.Fprintln(w, "environment (DATABASE_URL, CASINO_ADDR, ...); flags override them.")
}

// usageError is a mistake in how casino was called; it exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitError carries a specific exit code (dr run passes the command's on).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

// errSilent is an error already reported to the user; it only sets the exit
// code.
var errSilent = errors.New("")

// exitCode prints err as one line, scrubbed by pattern (a flag's value can
// be quoted back in a parse error), and returns the process exit code:
// 0 success, 2 usage or configuration error, 1 anything else.
func exitCode(err error, stderr io.Writer) int {
	stderr = redactingWriter{stderr}
	if err == nil {
		return 0
	}
	var ue *usageError
	var ee *exitError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "casino: %s\n", ue.msg)
		return 2
	case errors.As(err, &ee):
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintf(stderr, "casino: %s\n", ee.err)
		}
		return ee.code
	case errors.Is(err, errSilent):
		return 1
	}
	fmt.Fprintf(stderr, "casino: %s\n", err)
	return 1
}

// redactingWriter scrubs secrets by pattern from each write.
type redactingWriter struct{ w io.Writer }

func (r redactingWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(r.w, redact.String(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
