package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"casino/redact"
)

// newFlagSet returns a flag set that reports a bad flag as a one-line usage
// error and prints its usage (to stdout) only for -h. The usage passes the
// redactor first: flag defaults come from the environment, and
// --database-url's default is DATABASE_URL, password and all.
func newFlagSet(env *Env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		var b bytes.Buffer
		fmt.Fprintf(&b, "Usage: casino %s\n\n", usage)
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		io.WriteString(env.Stdout, usageRedactor(env, fs).String(b.String()))
	}
	return fs
}

// usageRedactor knows every secret a usage text may show: the secret-named
// variables of the process and of env, and the default of every flag whose
// name looks secret (a value from CASINO_JWT_SECRET shows as --jwt-secret's
// default without a name the patterns would recognise).
func usageRedactor(env *Env, fs *flag.FlagSet) *redact.Redactor {
	environ := os.Environ()
	for _, k := range secretEnvNames {
		if v := env.Getenv(k); v != "" {
			environ = append(environ, k+"="+v)
		}
	}
	red := redact.New(environ)
	fs.VisitAll(func(f *flag.Flag) {
		if redact.IsSecretName(f.Name) {
			red.Add(f.DefValue)
		}
		// a URL default (DATABASE_URL) teaches the redactor its password
		red.Learn(f.DefValue)
	})
	return red
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
