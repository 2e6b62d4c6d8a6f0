package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"casino/dr"
	"casino/redact"
	"casino/sqlstore"
)

const drContainUsage = `dr contain --platform kubernetes|compose|local [--dry-run] [--yes] [--force]

First records the current replica counts (kubernetes: kubectl get deploy ...
-o jsonpath={.spec.replicas}), service states (docker compose ps) or local
processes (pidfiles in --pid-dir) in the journal; then scales deploy/frontend-admin
and deploy/backend to 0, stops the compose services, or sends SIGTERM. A resumed
contain keeps the state recorded the first time. Needs --yes or a typed
confirmation on a terminal; --dry-run prints the exact commands.

Local processes are recorded whole: the binary they run (resolved, with its
sha256), arguments, working folder and environment. The clear values go to a
0600 secrets file in --state-dir (outside the proof folder, never journaled);
the journal holds the variable names with secrets masked.

Freeze admin logins first (casino dr login-freeze on): once traffic stops the
API cannot take the freeze.`

type platformFlags struct {
	platform, namespace, composeFile, pidDir string
	dryRun, yes, force                       bool
}

func bindPlatformFlags(fs *flag.FlagSet, p *platformFlags) {
	fs.StringVar(&p.platform, "platform", "", "kubernetes, compose or local")
	fs.StringVar(&p.namespace, "namespace", "", "kubernetes namespace (default: kubectl's current)")
	fs.StringVar(&p.composeFile, "compose-file", "docker-compose.prod.yml", "compose file")
	fs.StringVar(&p.pidDir, "pid-dir", "run", "local: folder of backend.pid and frontend-admin.pid")
	fs.BoolVar(&p.dryRun, "dry-run", false, "print the exact commands and change nothing")
	fs.BoolVar(&p.yes, "yes", false, "do not ask for confirmation")
	fs.BoolVar(&p.force, "force", false, "run the step again even though it is done")
}

func (p *platformFlags) adapter() (dr.Platform, error) {
	return dr.NewPlatform(p.platform, dr.PlatformOptions{Namespace: p.namespace, ComposeFile: p.composeFile, PIDDir: p.pidDir})
}

func runDRContain(ctx context.Context, env *Env, args []string) error {
	var f drFlags
	var p platformFlags
	fs := newFlagSet(env, "dr contain", drContainUsage)
	bindDRFlags(fs, env, &f)
	bindPlatformFlags(fs, &p)
	stateDir := fs.String("state-dir", dr.DefaultStateDir(env.Getenv), "local: folder of the 0600 secrets file (env CASINO_DR_STATE_DIR; default CASINO_DATA_DIR/dr, else data/dr)")
	if err := parseFlags(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("dr contain: unexpected argument %q", fs.Arg(0))
	}
	plat, err := p.adapter()
	if err != nil {
		return usageErrorf("dr contain: --platform: %v", err)
	}
	red := newRedactor(env)
	in, err := openIncident(&f, red, true)
	if err != nil {
		return err
	}
	if err := in.CheckContain(plat, p.force); err != nil {
		return fmt.Errorf("dr contain: %w", err)
	}
	if p.dryRun {
		plan, err := in.PlanContain(ctx, plat)
		if err != nil {
			return err
		}
		if plan.Recorded {
			fmt.Fprintln(env.Stdout, "state already recorded in the journal; it is kept")
		} else {
			printCommands(env.Stdout, "would record the current state with:", plan.Record)
		}
		printCommands(env.Stdout, "would contain with:", plan.Contain)
		return nil
	}
	if err := confirm(env, p.yes, "CONTAIN", fmt.Sprintf("dr contain stops backend and frontend-admin on %s.", plat.Name())); err != nil {
		return err
	}
	err = in.Contain(ctx, plat, dr.ContainOptions{Run: dr.ExecRunner(dr.ExecOptions{}), StateDir: *stateDir, Force: p.force, Out: env.Stdout, Err: env.Stderr})
	var recordFailed *dr.RecordFailed
	if errors.As(err, &recordFailed) {
		return fmt.Errorf("dr contain: %w", recordFailed)
	}
	if err != nil {
		return stepError("dr contain", err)
	}
	fmt.Fprintln(env.Stdout, "contained. next: "+in.State.Next())
	return nil
}

const drRestoreTrafficUsage = `dr restore-traffic [--dry-run] [--yes] [--force] [--timeout D] [--url URL] [--expect-version V] [--binary PATH]

Brings back exactly the replica counts, service states or local processes
that contain recorded, and waits until they serve (kubectl rollout undo would
not restore replica counts):
  kubernetes  kubectl scale, then kubectl rollout status per deployment;
  compose     docker compose start, then docker compose ps until every
              started service runs and is healthy;
  local       each process started with its recorded binary (refused when
              the file there changed, unless --binary PATH), arguments,
              folder and environment (from the secrets file, so a shell
              without DATABASE_URL starts it on the recorded database),
              never over a pidfile that names a live process, then waited
              on at /api/ready and, for the backend, /api/version.
It fails, and the journal says why, when a process dies at start, its port is
taken, or the wait times out. With --url the backend is also waited on there
(kubernetes, compose). The expected version is --expect-version, else the
version recorded at declare (not with --binary). Needs --yes or a typed
confirmation on a terminal; --dry-run prints the exact commands.`

func runDRRestoreTraffic(ctx context.Context, env *Env, args []string) error {
	var f drFlags
	var p platformFlags
	fs := newFlagSet(env, "dr restore-traffic", drRestoreTrafficUsage)
	bindDRFlags(fs, env, &f)
	bindPlatformFlags(fs, &p)
	binary := fs.String("binary", "", "local: start this binary instead of the recorded one (whose file changed)")
	url := fs.String("url", "", "the backend's base URL to wait on (local: default from its recorded --addr or CASINO_ADDR)")
	expect := fs.String("expect-version", "", "the version /api/version must answer (default: the one recorded at declare)")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long each wait (rollout, health, ready) may take")
	if err := parseFlags(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("dr restore-traffic: unexpected argument %q", fs.Arg(0))
	}
	red := newRedactor(env)
	in, err := openIncident(&f, red, true)
	if err != nil {
		return err
	}
	rec := in.State.Platform
	if rec == nil {
		return fmt.Errorf("dr restore-traffic: no state recorded in %s: nothing was contained by casino dr contain", in.JournalPath())
	}
	if p.platform != "" && p.platform != rec.Platform {
		return usageErrorf("dr restore-traffic: the recorded state is for %s, not %s", rec.Platform, p.platform)
	}
	if *binary != "" && rec.Platform != "local" {
		return usageErrorf("dr restore-traffic: --binary is for --platform local; %s brings back its own images", rec.Platform)
	}
	opts := dr.TrafficOptions{Run: dr.ExecRunner(dr.ExecOptions{}), Binary: *binary, URL: *url, Version: *expect,
		Timeout: *timeout, Red: red, Progress: env.Stdout}
	if opts.Version == "" && *binary == "" {
		opts.Version = in.State.VersionBefore
	}
	cmds := dr.TrafficPlan(*rec, opts)
	if p.dryRun {
		printCommands(env.Stdout, "would restore traffic with:", cmds)
		if rec.Platform == "local" && len(cmds) > 0 {
			fmt.Fprintf(env.Stdout, "each with its recorded folder and environment (from %s), then waiting for /api/ready", rec.SecretsFile)
			if opts.Version != "" {
				fmt.Fprintf(env.Stdout, " and version %s", opts.Version)
			}
			fmt.Fprintln(env.Stdout)
		}
		return nil
	}
	if err := in.CheckStep("restore-traffic", p.force); err != nil {
		return fmt.Errorf("dr restore-traffic: %w", err)
	}
	if err := confirm(env, p.yes, "RESTORE", fmt.Sprintf("dr restore-traffic brings %s back to the recorded state.", rec.Platform)); err != nil {
		return err
	}
	err = in.RunStep(ctx, dr.StepSpec{Step: "restore-traffic", Kind: "restore-traffic", Commands: cmds, Force: p.force},
		func(ctx context.Context, s *dr.StepRun) dr.StepResult {
			var sent []string
			opts.Sent = &sent
			outs, err := dr.RestoreTraffic(ctx, *rec, in.ID, opts)
			if len(sent) > 0 {
				if jerr := s.Record(dr.TypeSentRequests, dr.SentRequests{Step: "restore-traffic", IDs: sent}); jerr != nil && err == nil {
					err = jerr
				}
			}
			return dr.StepResult{Outputs: outs, Err: err}
		})
	if err != nil {
		var failed *dr.StepFailed
		if errors.As(err, &failed) && failed.Err != nil {
			return &exitError{code: 1, err: fmt.Errorf("dr restore-traffic: traffic is NOT restored: %s", red.String(failed.Err.Error()))}
		}
		return stepError("dr restore-traffic", err)
	}
	fmt.Fprintln(env.Stdout, "traffic restored to the recorded state and serving. next: "+in.State.Next())
	return nil
}

const drLoginFreezeUsage = `dr login-freeze on|off [--url URL] [--email E] [--password-env VAR] [--reason TEXT] [--dry-run] [--yes]

Drives the backend's admin login freeze and records it in the journal: as
the owner through the API (POST /api/v1/admin/login-freeze) when --url
answers, else straight in the database at DATABASE_URL (the same
system_state switch, audited as "cli", read back). The journal says which
path was used. Run 'on' before containment: the checklist freezes logins
before traffic stops. After each restore, dr run checks that the restored
database still has the state set here, and re-applies it.`

func runDRLoginFreeze(ctx context.Context, env *Env, args []string) error {
	var f drFlags
	fs := newFlagSet(env, "dr login-freeze", drLoginFreezeUsage)
	bindDRFlags(fs, env, &f)
	url := fs.String("url", getenvDefault(env.Getenv, "CASINO_URL", ""), "base URL of the backend (env CASINO_URL)")
	var owner ownerFlags
	bindOwnerFlags(fs, &owner, "")
	reason := fs.String("reason", "", "why (recorded, and sent to the backend)")
	dry := fs.Bool("dry-run", false, "print the exact requests and change nothing")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	force := fs.Bool("force", false, "run the step again even though it is done")
	if err := parseFlags(fs, positionalsLast(args)); err != nil {
		return helpOK(err)
	}
	if fs.NArg() != 1 || (fs.Arg(0) != "on" && fs.Arg(0) != "off") {
		return usageErrorf("dr login-freeze: say on or off")
	}
	open, dbName := freezeOpener(env)
	if *url == "" && open == nil {
		return usageErrorf("dr login-freeze: give --url (the API) or set DATABASE_URL (the database, when the API is down)")
	}
	on := fs.Arg(0) == "on"
	password := owner.password(env)
	red := newRedactor(env, password)
	in, err := openIncident(&f, red, true)
	if err != nil {
		return err
	}
	fo := dr.FreezeOptions{On: on, URL: *url, Email: owner.email, Password: password, Reason: *reason, Open: open, Database: dbName, Red: red}
	reqs := fo.Plan()
	if *dry {
		printCommands(env.Stdout, "would send:", reqs)
		return nil
	}
	if err := confirm(env, *yes, "FREEZE", fmt.Sprintf("dr login-freeze %s changes who can log in to production.", fs.Arg(0))); err != nil {
		return err
	}
	var rec dr.FreezeRecord
	err = in.RunStep(ctx, dr.StepSpec{Step: "login-freeze " + fs.Arg(0), Kind: "login-freeze", Commands: reqs, Force: *force},
		func(ctx context.Context, s *dr.StepRun) dr.StepResult {
			var outs []dr.Output
			var err error
			rec, outs, err = dr.SetFreeze(ctx, fo)
			if jerr := s.Record(dr.TypeFreeze, rec); jerr != nil && err == nil {
				err = jerr
			}
			return dr.StepResult{Outputs: outs, Err: err}
		})
	if err != nil {
		return stepError("dr login-freeze", err)
	}
	via := "through the API"
	if rec.Path == dr.FreezeViaDatabase {
		via = "in the database (" + red.String(rec.APIProblem) + ")"
	}
	fmt.Fprintf(env.Stdout, "admin login freeze is %s, set %s\n", fs.Arg(0), via)
	return nil
}

// freezeOpener opens DATABASE_URL for the login freeze when the API does
// not answer; nil when DATABASE_URL is not set. A SQLite file that does
// not exist is an error, not a new empty database.
func freezeOpener(env *Env) (dr.FreezeOpener, string) {
	u := getenvDefault(env.Getenv, "DATABASE_URL", "")
	if u == "" {
		return nil, ""
	}
	return func(ctx context.Context) (dr.FreezeStore, func(), error) {
		db, err := sqlstore.OpenExisting(ctx, u)
		if err != nil {
			return nil, nil, errors.New(sqlstore.Redact(err.Error()))
		}
		return db, func() { db.Close() }, nil
	}, redact.DatabaseURL(u)
}
