package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"casino/dr"
)

func init() {
	register(command{Name: "dr", Summary: "the 03:00 DR checklist as commands, with a redacted, tamper-evident proof", Run: runDR})
}

// drCommand is one 'casino dr' subcommand; each lives in a dr_*.go file.
type drCommand struct {
	Name    string
	Summary string
	Run     func(ctx context.Context, env *Env, args []string) error
}

var drCommands = []drCommand{
	{"declare", "open an incident: proof file from the template, journal beside it", runDRDeclare},
	{"status", "where the open incident stands, rebuilt from its files alone", runDRStatus},
	{"contain", "record replica counts or service states, then stop traffic", runDRContain},
	{"restore-traffic", "bring back exactly the recorded counts and states", runDRRestoreTraffic},
	{"login-freeze", "turn the backend's admin login freeze on or off", runDRLoginFreeze},
	{"scenario", "record the scenario decision (A, B or C) and print its runbook section", runDRScenario},
	{"run", "run an operator command and journal it: -- COMMAND ARGS...", runDRRun},
	{"record-pitr", "record a point-in-time recovery run by CloudNativePG or pgBackRest, for RPO and the data check", runDRRecordPITR},
	{"validate", "run the must-pass checks; PASS/FAIL table appended to the proof", runDRValidate},
	{"checks", "list the validation checks", runDRChecks},
	{"logs", "analyse request logs: 5xx per minute, p95 duration_ms, error request_ids", runDRLogs},
	{"note", "journal operator prose: dr note \"...\"", runDRNote},
	{"close", "compute RTO/RPO against targets, write the postmortem skeleton, make read-only, sign", runDRClose},
	{"addendum", "after close: add the postmortem or sign-off as a chained, signed addendum", runDRAddendum},
	{"drill", "restore drill: a backup into an isolated copy, casino booted on it, checks, timed, proved, torn down", runDRDrill},
	{"verify-proof", "re-render the proof from its journal, byte-compare, check the chain and signatures", runDRVerifyProof},
}

const drUsage = `Usage: casino dr COMMAND [flags]

The DR checklist (docs/ops/dr_checklist.md) as commands. Every command takes
--proof-dir DIR (default docs/ops/restore_drill_proof) and acts on the open
incident there, or on the one named with --incident ID.

Commands:
`

func runDR(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		w := env.Stdout
		if len(args) == 0 {
			w = env.Stderr
		}
		fmt.Fprint(w, drUsage)
		for _, c := range drCommands {
			fmt.Fprintf(w, "  %-16s %s\n", c.Name, c.Summary)
		}
		if len(args) == 0 {
			return usageErrorf("dr: no command given")
		}
		return nil
	}
	for _, c := range drCommands {
		if c.Name == args[0] {
			return c.Run(ctx, env, args[1:])
		}
	}
	return usageErrorf("dr: unknown command %q (run 'casino dr -h' for the list)", args[0])
}

// drFlags are the flags every dr command shares.
type drFlags struct {
	proofDir string
	incident string
	// remote is --remote: where the incident's record is mirrored (see
	// drMirror).
	remote *remoteFlag
	env    *Env
}

func bindDRFlags(fs *flag.FlagSet, env *Env, f *drFlags) {
	f.env = env
	fs.StringVar(&f.proofDir, "proof-dir", getenvDefault(env.Getenv, "CASINO_DR_PROOF_DIR", dr.DefaultProofDir), "folder of incident proofs and journals (env CASINO_DR_PROOF_DIR)")
	fs.StringVar(&f.incident, "incident", "", "incident ID (e.g. 2026-11-29-2); default: the only open incident")
	// A command that already takes --remote for its backups (dr drill)
	// shares it: the record is mirrored to the same remote.
	if fl := fs.Lookup("remote"); fl != nil {
		if r, ok := fl.Value.(*remoteFlag); ok {
			f.remote = r
			return
		}
	}
	f.remote = &remoteFlag{}
	fs.Var(f.remote, "remote", "mirror the incident's record to s3://bucket/prefix/proofs/ (default: the bucket in CASINO_BACKUP_REMOTE, when set); dr status --remote rebuilds it from there")
}

// positionalsLast moves the positional arguments that come before the first
// flag to the end, so 'dr scenario B --reason x' parses like
// 'dr scenario --reason x B' (the flag package stops at the first positional).
func positionalsLast(args []string) []string {
	i := 0
	for i < len(args) && !strings.HasPrefix(args[i], "-") {
		i++
	}
	if i == 0 || i == len(args) {
		return args
	}
	out := append([]string{}, args[i:]...)
	return append(out, args[:i]...)
}

// secretEnvNames are the variables casino reads that may hold a secret, and
// PGPASSWORD, which the PostgreSQL tools casino starts read. They are looked
// up through getenv as well as taken from the process environment, so an
// in-process caller's values are redacted too. TestSecretEnvNames keeps the
// list true: each name is read somewhere, and every CASINO_ variable named
// like a secret is listed.
var secretEnvNames = []string{"CASINO_OWNER_PASSWORD", "CASINO_JWT_KEY", "DATABASE_URL", "CASINO_BACKEND_URL", "PGPASSWORD", "CASINO_DR_SIGNING_KEY", "CASINO_BACKUP_SIGNING_KEY", "CASINO_BACKUP_IDENTITY", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}

// newRedactor collects the secrets that must never reach a proof: every
// value of a variable named like a secret, passwords in URLs, plus extra
// values (the --password-env value).
func newRedactor(env *Env, extra ...string) *dr.Redactor {
	environ := os.Environ()
	for _, k := range secretEnvNames {
		if v := env.Getenv(k); v != "" {
			environ = append(environ, k+"="+v)
		}
	}
	red := dr.NewRedactor(environ)
	for _, s := range extra {
		red.Add(s)
	}
	return red
}

// openIncident opens the incident the flags name, refusing a closed one
// when write is true.
func openIncident(f *drFlags, red *dr.Redactor, write bool) (*dr.Incident, error) {
	in, err := dr.Open(f.proofDir, f.incident, red)
	if err != nil {
		return nil, err
	}
	f.attachMirror(in)
	if write {
		if err := in.Writable(); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// confirm asks for a typed confirmation on a TTY unless --yes was given;
// without a TTY it refuses.
func confirm(env *Env, yes bool, word, what string) error {
	if yes {
		return nil
	}
	if !isTerminal(env.Stdin) {
		return usageErrorf("%s changes production: pass --yes (stdin is not a terminal, so it cannot ask)", what)
	}
	fmt.Fprintf(env.Stderr, "%s\nType %s to proceed: ", what, word)
	line, _ := bufio.NewReader(env.Stdin).ReadString('\n')
	if strings.TrimSpace(line) != word {
		return fmt.Errorf("not confirmed: nothing changed")
	}
	return nil
}

func printCommands(w io.Writer, title string, cmds [][]string) {
	fmt.Fprintln(w, title)
	if len(cmds) == 0 {
		fmt.Fprintln(w, "  (nothing to run)")
	}
	for _, c := range cmds {
		fmt.Fprintln(w, "  "+dr.CommandLine(c))
	}
}

// stepError turns a step that ran and failed (journaled) into the CLI's
// exit 1 with the step's reason; other errors pass through.
func stepError(cmd string, err error) error {
	var failed *dr.StepFailed
	if errors.As(err, &failed) {
		if failed.Err != nil {
			return &exitError{code: 1, err: fmt.Errorf("%s: %w", cmd, failed.Err)}
		}
		return &exitError{code: 1, err: fmt.Errorf("%s: %w", cmd, failed)}
	}
	return err
}

// ownerFlags are --email and --password-env: the owner the DR commands log
// in to the API as.
type ownerFlags struct{ email, pwEnv string }

// bindOwnerFlags adds them; purpose ends their help texts.
func bindOwnerFlags(fs *flag.FlagSet, o *ownerFlags, purpose string) {
	fs.StringVar(&o.email, "email", "admin@casino.com", "owner email"+purpose)
	fs.StringVar(&o.pwEnv, "password-env", "CASINO_OWNER_PASSWORD", "name of the environment variable holding the owner password"+purpose)
}

// password is the owner password from the variable --password-env names:
// the command's environment first, then the process's.
func (o *ownerFlags) password(env *Env) string {
	if p := env.Getenv(o.pwEnv); p != "" {
		return p
	}
	return os.Getenv(o.pwEnv)
}
