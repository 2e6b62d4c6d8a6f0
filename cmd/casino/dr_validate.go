package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"casino/dr"
)

const drValidateUsage = `dr validate --url URL [--email E] [--password-env VAR] [--expect-version V] [--logs FILE|-] [--browser] [--checks a,b] [--json]

Runs the must-pass checks of the checklist's section 5 (see 'casino dr
checks'): health, ready, version, owner login, is_owner, data (the service
answers the journaled restore's restore_id and at least its row counts in
the durable tables, or the counts recorded at declare), UI smoke over HTTP
(and in headless Chromium with --browser), and from request logs the 5xx
rate per minute, p95 duration_ms against the baseline, and the request_ids
of the remaining errors. Prints a PASS/FAIL table with each check's duration
and appends it to the open incident's proof. Exits 0 only when every
must-pass check passes, and names each one that failed.`

func runDRValidate(ctx context.Context, env *Env, args []string) error {
	var f drFlags
	fs := newFlagSet(env, "dr validate", drValidateUsage)
	bindDRFlags(fs, env, &f)
	url := fs.String("url", getenvDefault(env.Getenv, "CASINO_URL", ""), "base URL of the service (env CASINO_URL)")
	var owner ownerFlags
	bindOwnerFlags(fs, &owner, "")
	expect := fs.String("expect-version", "", "the version /api/version must answer (default: the one recorded at declare)")
	logs := fs.String("logs", "", "request log file following docs/ops/log_schema.md, or - for stdin")
	baseline := fs.Duration("baseline-p95", 0, "p95 duration_ms baseline (default: recorded at declare, else the logs before impact start)")
	tol := fs.Float64("p95-tolerance", 0.2, "allowed p95 excess over the baseline (0.2 = 20%)")
	window := fs.Duration("window", 5*time.Minute, "how much of the newest logs counts as now")
	browser := fs.Bool("browser", false, "also run the UI smoke in headless Chromium (CASINO_CHROMIUM or /usr/bin/chromium)")
	checks := fs.String("checks", "", "comma-separated checks to run (default all; see 'casino dr checks')")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up on the whole validation after this long")
	if err := parseFlags(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("dr validate: unexpected argument %q", fs.Arg(0))
	}
	selected, err := dr.Select(*checks)
	if err != nil {
		return usageErrorf("dr validate: --checks: %v", err)
	}
	password := owner.password(env)
	red := newRedactor(env, password)
	in, err := openIncident(&f, red, true)
	if err != nil && !(isNoIncident(err) && f.incident == "") {
		return err
	}
	v := &dr.Validator{URL: *url, Email: owner.email, Password: password, ExpectVersion: *expect, VersionSource: "--expect-version",
		BaselineP95MS: float64(baseline.Microseconds()) / 1000, P95Tolerance: *tol, Window: *window,
		Browser: *browser, ChromiumPath: dr.ChromiumPath(env.Getenv), Red: red}
	if in != nil {
		v.Expect(in.State)
	}
	switch *logs {
	case "":
	case "-":
		v.Logs, v.LogsName = env.Stdin, "stdin"
	default:
		lf, err := os.Open(*logs)
		if err != nil {
			return fmt.Errorf("dr validate: --logs: %w", err)
		}
		defer lf.Close()
		v.Logs, v.LogsName = lf, *logs
	}
	cctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	val := v.Run(cctx, selected)
	if *asJSON {
		// the same redaction as the proof: the JSON may be pasted anywhere
		raw, _ := json.Marshal(val)
		var generic any
		json.Unmarshal([]byte(red.String(string(raw))), &generic)
		writeJSON(env.Stdout, generic)
	} else {
		printValidation(env.Stdout, val, red)
	}
	if in != nil {
		if err := in.Append(dr.TypeValidate, val); err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "validation appended to %s\n", in.ProofPath())
	} else {
		fmt.Fprintf(env.Stderr, "not recorded: no open incident in %s\n", f.proofDir)
	}
	if !val.Passed {
		return &exitError{code: 1, err: fmt.Errorf("dr validate: FAIL: %s", strings.Join(val.Failed, ", "))}
	}
	return nil
}

func printValidation(w io.Writer, val dr.Validation, red *dr.Redactor) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tMUST\tDURATION\tDETAIL")
	var long []dr.CheckResult
	for _, c := range val.Checks {
		must := "yes"
		if !c.MustPass {
			must = "no"
		}
		detail := c.Detail
		if len(detail) > 160 {
			detail = detail[:160] + "… (whole detail below)"
			long = append(long, c)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.1fms\t%s\n", c.Name, c.Status, must, c.DurationMS, red.String(detail))
	}
	tw.Flush()
	for _, c := range long {
		fmt.Fprintf(w, "%s: %s\n", c.Name, red.String(c.Detail))
	}
	if val.Passed {
		fmt.Fprintf(w, "PASS: every must-pass check passed (%s)\n", val.End.Sub(val.Start).Round(time.Millisecond))
		if !val.Complete {
			fmt.Fprintf(w, "note: must-pass checks that did not run: %s (RTO counts a complete validation first)\n", strings.Join(val.Skipped, ", "))
		}
	} else {
		fmt.Fprintf(w, "FAIL: %s\n", strings.Join(val.Failed, ", "))
	}
}

const drChecksUsage = `dr checks

Lists the validation checks: name, must-pass, what it proves.`

func runDRChecks(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "dr checks", drChecksUsage)
	if err := parseFlags(fs, args); err != nil {
		return helpOK(err)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tMUST-PASS\tTITLE")
	for _, c := range dr.Registry {
		fmt.Fprintf(tw, "%s\t%v\t%s\n", c.Name, c.MustPass, c.Title)
	}
	return tw.Flush()
}

const drLogsUsage = `dr logs [--json] [--window 5m] FILE|-

Analyses request logs (docs/ops/log_schema.md) as validate does: 5xx and
total per minute, p95 duration_ms (as the schema's jq computes it), and the
5xx verdict, and the request_ids of the newest 5xx. Needs no incident.`

func runDRLogs(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "dr logs", drLogsUsage)
	asJSON := fs.Bool("json", false, "print JSON")
	window := fs.Duration("window", 5*time.Minute, "how much of the newest logs the 5xx detail and request_ids cover")
	if err := parseFlags(fs, positionalsLast(args)); err != nil {
		return helpOK(err)
	}
	if fs.NArg() != 1 {
		return usageErrorf("dr logs: give one log file, or - for stdin")
	}
	var r io.Reader = env.Stdin
	if fs.Arg(0) != "-" {
		lf, err := os.Open(fs.Arg(0))
		if err != nil {
			return err
		}
		defer lf.Close()
		r = lf
	}
	t0 := time.Now()
	s, err := dr.AnalyzeLogs(r)
	if err != nil {
		return err
	}
	el := time.Since(t0)
	verdict, detail := dr.FiveXX(s, dr.FiveXXOptions{Window: *window, Now: time.Now()})
	if *asJSON {
		return writeJSON(env.Stdout, map[string]any{"stats": s, "five_xx_dropping": verdict, "detail": detail,
			"seconds": el.Seconds(), "mb_per_s": float64(s.Bytes) / 1e6 / el.Seconds()})
	}
	fmt.Fprintf(env.Stdout, "%s\n5xx dropping: %s (%s)\nread %.1f MB in %s (%.0f MB/s)\n", s, verdict, detail,
		float64(s.Bytes)/1e6, el.Round(time.Millisecond), float64(s.Bytes)/1e6/el.Seconds())
	if refs := s.ErrorsSince(s.Last().Add(-*window + time.Minute)); len(refs) > 0 {
		fmt.Fprintf(env.Stdout, "5xx in the last %s (newest 20 of %d, kept up to %d per minute):\n", *window, len(refs), 50)
		if len(refs) > 20 {
			refs = refs[len(refs)-20:]
		}
		for _, r := range refs {
			fmt.Fprintf(env.Stdout, "  %s %s %d %s\n", r.TS.Format(time.RFC3339Nano), r.RequestID, r.Status, r.Route)
		}
	}
	return nil
}
