package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"casino/redact"
)

// newFlagSet returns a flag set that reports a bad flag as a one-line usage
// error and prints its usage (to stdout) only for -h. Defaults come from the
// environment, so the usage is redacted: a DATABASE_URL default must not
// show its password.
func newFlagSet(env *Env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		var b strings.Builder
		fmt.Fprintf(&b, "Usage: casino %s\n\n", usage)
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		io.WriteString(env.Stdout, redact.String(b.String()))
	}
	return fs
}

// errHelp means -h was asked for and answered; the command exits 0.
var errHelp = errors.New("help shown")

// parseOnly, set by tests, makes parseFlags stop every command right after
// its flags parsed: the docs tests use it to prove each documented command
// line names a real subcommand and real flags without running it.
var parseOnly bool

// errParseOnly is what parseFlags returns under parseOnly.
var errParseOnly = errors.New("flags parsed (parse-only mode)")

// parseFlags parses args, answering -h with the usage, and turning any other
// parse failure into a one-line usage error naming the command.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) { // flag has already printed the usage
		return errHelp
	} else if err != nil {
		msg := err.Error()
		if rest, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
			msg = "unknown flag " + rest
		}
		return usageErrorf("%s: %s (see 'casino %s -h')", fs.Name(), msg, fs.Name())
	}
	if parseOnly {
		return errParseOnly
	}
	return nil
}

// flagWasSet reports whether the named flag was given on the command line.
func flagWasSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

// helpOK turns errHelp into success.
func helpOK(err error) error {
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}
