package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"casino/dr"
)

const drContainUsage = `dr contain --platform kubernetes|compose|local [--dry-run] [--yes] [--force]

First records the current replica counts (kubernetes: kubectl get deploy ...
-o jsonpath={.spec.replicas}), service states (docker compose ps) or local
processes (pidfiles in --pid-dir) in the journal; then scales deploy/frontend-admin
and deploy/backend to 0, stops the compose services, or sends SIGTERM. A resumed
contain keeps the state recorded the first time. Needs --yes or a typed
confirmation on a terminal; --dry-run prints the exact commands.`

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

// runCommands runs cmds in order, stopping at the first failure.
func runCommands(ctx context.Context, env *Env, cmds [][]string) ([]dr.Output, int) {
	runner := dr.ExecRunner(dr.ExecOptions{})
	var outs []dr.Output
	for _, c := range cmds {
		fmt.Fprintf(env.Stdout, "$ %s\n", dr.CommandLine(c))
		o := runner(ctx, c)
		if s := strings.TrimSpace(o.Stdout); s != "" {
			fmt.Fprintln(env.Stdout, s)
		}
		if s := strings.TrimSpace(o.Stderr); s != "" {
			fmt.Fprintln(env.Stderr, s)
		}
		outs = append(outs, o)
		if o.ExitCode != 0 {
			return outs, o.ExitCode
		}
	}
	return outs, 0
}

func runDRContain(ctx context.Context, env *Env, args []string) error {
	var f drFlags
	var p platformFlags
	fs := newFlagSet(env, "dr contain", drContainUsage)
	bindDRFlags(fs, env, &f)
	bindPlatformFlags(fs, &p)
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
	st := in.State
	if st.Platform != nil && st.Platform.Platform != plat.Name() {
		return fmt.Errorf("dr contain: this incident recorded %s state; contain with --platform %s", st.Platform.Platform, st.Platform.Platform)
	}
	if err := in.CheckStep("contain", p.force); err != nil {
		return fmt.Errorf("dr contain: %w", err)
	}
	if p.dryRun {
		recorded := st.Platform
		if recorded == nil {
			printCommands(env.Stdout, "would record the current state with:", plat.RecordCommands())
			if plat.Name() == "local" {
				s, _, err := plat.Record(ctx, nil)
				if err != nil {
					return err
				}
				recorded = &s
			} else {
				recorded = &dr.PlatformState{Platform: plat.Name()}
			}
		} else {
			fmt.Fprintln(env.Stdout, "state already recorded in the journal; it is kept")
		}
		printCommands(env.Stdout, "would contain with:", plat.Contain(*recorded))
		return nil
	}
	if err := confirm(env, p.yes, "CONTAIN", fmt.Sprintf("dr contain stops backend and frontend-admin on %s.", plat.Name())); err != nil {
		return err
	}
	spec := dr.StepSpec{Step: "contain", Kind: "contain", Commands: append(plat.RecordCommands(), plat.Contain(dr.PlatformState{})...), Force: p.force}
	var recordErr error
	err = in.RunStep(ctx, spec, func(ctx context.Context, s *dr.StepRun) dr.StepResult {
		var outs []dr.Output
		if in.State.Platform == nil {
			recorded, routs, err := plat.Record(ctx, dr.ExecRunner(dr.ExecOptions{}))
			outs = append(outs, routs...)
			if err != nil {
				recordErr = fmt.Errorf("record state: %w", err)
				return dr.StepResult{Outputs: outs, ExitCode: 1, Err: recordErr}
			}
			if err := s.Record(dr.TypeState, recorded); err != nil {
				return dr.StepResult{Outputs: outs, Err: err}
			}
			fmt.Fprintf(env.Stdout, "recorded state before containment in %s\n", in.JournalPath())
		} else {
			fmt.Fprintln(env.Stdout, "resuming: keeping the state recorded before the first containment")
		}
		couts, code := runCommands(ctx, env, plat.Contain(*in.State.Platform))
		return dr.StepResult{Outputs: append(outs, couts...), ExitCode: code, Err: exitedErr("a containment command", code)}
	})
	if recordErr != nil {
		return fmt.Errorf("dr contain: %w (nothing was stopped)", recordErr)
	}
	if err != nil {
		return stepError("dr contain", err)
	}
	fmt.Fprintln(env.Stdout, "contained. next: "+in.State.Next())
	return nil
}

const drRestoreTrafficUsage = `dr restore-traffic [--dry-run] [--yes] [--force]

Brings back exactly the replica counts or service states that contain
recorded (kubectl rollout undo would not restore replica counts). Needs --yes
or a typed confirmation on a terminal; --dry-run prints the exact commands.`

func runDRRestoreTraffic(ctx context.Context, env *Env, args []string) error {
	var f drFlags
	var p platformFlags
	fs := newFlagSet(env, "dr restore-traffic", drRestoreTrafficUsage)
	bindDRFlags(fs, env, &f)
	bindPlatformFlags(fs, &p)
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
	plat, err := dr.NewPlatform(rec.Platform, dr.PlatformOptions{Namespace: rec.Namespace, ComposeFile: rec.ComposeFile, PIDDir: rec.PIDDir})
	if err != nil {
		return err
	}
	cmds := plat.Restore(*rec)
	if p.dryRun {
		printCommands(env.Stdout, "would restore traffic with:", cmds)
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
			outs, code := runCommands(ctx, env, cmds)
			return dr.StepResult{Outputs: outs, ExitCode: code, Err: exitedErr("a restore command", code)}
		})
	if err != nil {
		return stepError("dr restore-traffic", err)
	}
	fmt.Fprintln(env.Stdout, "traffic restored to the recorded state. next: "+in.State.Next())
	return nil
}

const drLoginFreezeUsage = `dr login-freeze on|off --url URL [--email E] [--password-env VAR] [--reason TEXT] [--dry-run] [--yes]

Logs in as the owner and drives the backend's admin login freeze
(POST /api/v1/admin/login-freeze), recording it in the journal.`

func runDRLoginFreeze(ctx context.Context, env *Env, args []string) error {
	var f drFlags
	fs := newFlagSet(env, "dr login-freeze", drLoginFreezeUsage)
	bindDRFlags(fs, env, &f)
	url := fs.String("url", getenvDefault(env.Getenv, "CASINO_URL", ""), "base URL of the backend (env CASINO_URL)")
	email := fs.String("email", "admin@casino.com", "owner email")
	pwEnv := fs.String("password-env", "CASINO_OWNER_PASSWORD", "name of the environment variable holding the owner password")
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
	if *url == "" {
		return usageErrorf("dr login-freeze: --url is required")
	}
	on := fs.Arg(0) == "on"
	password := env.Getenv(*pwEnv)
	if password == "" {
		password = os.Getenv(*pwEnv)
	}
	red := newRedactor(env, password)
	in, err := openIncident(&f, red, true)
	if err != nil {
		return err
	}
	reqs := [][]string{
		{"POST", strings.TrimRight(*url, "/") + "/api/v1/auth/login", fmt.Sprintf(`{"email":%q,"password":"***"}`, *email)},
		{"POST", strings.TrimRight(*url, "/") + dr.LoginFreezePath, fmt.Sprintf(`{"enabled":%v,"reason":%q}`, on, *reason)},
	}
	if *dry {
		printCommands(env.Stdout, "would send:", reqs)
		return nil
	}
	if password == "" {
		return usageErrorf("dr login-freeze: $%s is empty: --password-env names the variable holding the owner password", *pwEnv)
	}
	if err := confirm(env, *yes, "FREEZE", fmt.Sprintf("dr login-freeze %s changes who can log in to production.", fs.Arg(0))); err != nil {
		return err
	}
	err = in.RunStep(ctx, dr.StepSpec{Step: "login-freeze " + fs.Arg(0), Kind: "login-freeze", Commands: reqs, Force: *force},
		func(ctx context.Context, s *dr.StepRun) dr.StepResult {
			outs, err := dr.LoginFreeze(ctx, *url, *email, password, on, *reason, red)
			return dr.StepResult{Outputs: outs, Err: err}
		})
	if err != nil {
		return stepError("dr login-freeze", err)
	}
	fmt.Fprintf(env.Stdout, "admin login freeze is %s\n", fs.Arg(0))
	return nil
}

// exitedErr is the error of a step whose command exited code (nil for 0).
func exitedErr(what string, code int) error {
	if code == 0 {
		return nil
	}
	return fmt.Errorf("%s exited %d", what, code)
}
