package dr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Components are what contain stops, in the order the checklist stops them
// (the UI first, so no admin is left half-working against a stopped API).
var Components = []string{"frontend-admin", "backend"}

// ComponentState is one component as contain found it.
type ComponentState struct {
	Name string `json:"name"`
	// Replicas is the deployment's spec.replicas (kubernetes).
	Replicas *int `json:"replicas,omitempty"`
	// State is the compose service state ("running", "exited", ...) or,
	// for local, "running" or "stopped".
	State string `json:"state,omitempty"`
	// Local processes: pid, pidfile, working folder and command line.
	PID     int      `json:"pid,omitempty"`
	PIDFile string   `json:"pidfile,omitempty"`
	Cwd     string   `json:"cwd,omitempty"`
	Cmdline []string `json:"cmdline,omitempty"`
	// Exe is the binary a local process ran (resolved through
	// /proc/PID/exe) and ExeSHA256 the sha256 of that image: restore-traffic
	// starts only that binary again (or the one --binary names). Env is its
	// environment by name, secrets masked; the clear values are in the
	// secrets file (PlatformState.SecretsFile).
	Exe       string   `json:"exe,omitempty"`
	ExeSHA256 string   `json:"exe_sha256,omitempty"`
	Env       []EnvVar `json:"env,omitempty"`
	// Spec is the clear-text record, between Record and the secrets file;
	// it is never journaled.
	Spec *ProcessSpec `json:"-"`
}

// PlatformState is what contain records before it changes anything;
// restore-traffic brings back exactly this.
type PlatformState struct {
	Platform    string `json:"platform"`
	Namespace   string `json:"namespace,omitempty"`
	ComposeFile string `json:"compose_file,omitempty"`
	PIDDir      string `json:"pid_dir,omitempty"`
	// SecretsFile (local) is the 0600 file, outside the proof folder, that
	// holds each process's clear-text environment and command line.
	SecretsFile string           `json:"secrets_file,omitempty"`
	Components  []ComponentState `json:"components"`
}

// Runner runs one command and returns its output. ExecRunner is the real
// one; the platform code only ever builds argv and hands it to a Runner.
type Runner func(ctx context.Context, argv []string) Output

// OutputCap is how much of a command's stdout and of its stderr is kept.
const OutputCap = 64 << 10

// cappedBuffer keeps the first max bytes written to it.
type cappedBuffer struct {
	buf       bytes.Buffer
	max       int
	truncated bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room < len(p) {
		c.truncated = true
		if room > 0 {
			c.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return c.buf.Write(p)
}

// ExecOptions adjust ExecRunner.
type ExecOptions struct {
	// Dir is the working folder ("" for the current one).
	Dir string
	// Tee, when set, also receives stdout and stderr as they come.
	Tee func(stdout bool, p []byte)
	// Started, when set, is told the command's pid once it runs.
	Started func(pid int)
	// Stdin is the command's input; nil is /dev/null.
	Stdin io.Reader
}

// ExecRunner runs argv with the process environment and the program found
// on PATH, keeping stdout and stderr capped at OutputCap each.
func ExecRunner(opt ExecOptions) Runner {
	return func(ctx context.Context, argv []string) Output {
		o := Output{Argv: argv, Start: time.Now().UTC(), ExitCode: -1}
		defer func() { o.End = time.Now().UTC() }()
		var so, se = &cappedBuffer{max: OutputCap}, &cappedBuffer{max: OutputCap}
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Dir = opt.Dir
		cmd.Stdin = opt.Stdin
		cmd.Stdout, cmd.Stderr = teeWriter{so, opt.Tee, true}, teeWriter{se, opt.Tee, false}
		err := cmd.Start()
		if err == nil {
			if opt.Started != nil {
				opt.Started(cmd.Process.Pid)
			}
			err = cmd.Wait()
		}
		o.End = time.Now().UTC()
		o.Stdout, o.Stderr, o.Truncated = so.buf.String(), se.buf.String(), so.truncated || se.truncated
		var ee *exec.ExitError
		switch {
		case err == nil:
			o.ExitCode = 0
		case errors.As(err, &ee):
			o.ExitCode = ee.ExitCode()
			if o.ExitCode < 0 {
				o.ExitCode = 128 + 9 // killed by a signal
			}
		default:
			o.ExitCode = 127
			o.Stderr += err.Error()
		}
		return o
	}
}

type teeWriter struct {
	w      *cappedBuffer
	tee    func(bool, []byte)
	stdout bool
}

func (t teeWriter) Write(p []byte) (int, error) {
	if t.tee != nil {
		t.tee(t.stdout, p)
	}
	return t.w.Write(p)
}

// Platform is an adapter that records, contains and restores the serving
// components on one kind of platform. It only builds commands; a Runner runs
// them, so --dry-run prints exactly what would run.
type Platform interface {
	Name() string
	// Record finds the current replica counts or states; the outputs are
	// those of the commands it ran to find them.
	Record(ctx context.Context, run Runner) (PlatformState, []Output, error)
	// Contain returns the commands that stop traffic.
	Contain(st PlatformState) [][]string
	// Restore returns the commands that bring back exactly st.
	Restore(st PlatformState) [][]string
	// RecordCommands are the commands Record runs (for --dry-run).
	RecordCommands() [][]string
}

// PlatformOptions configure the adapters.
type PlatformOptions struct {
	Namespace   string // kubernetes
	ComposeFile string // compose, default docker-compose.prod.yml
	PIDDir      string // local, default run
}

// NewPlatform returns the adapter named kubernetes, compose or local.
func NewPlatform(name string, o PlatformOptions) (Platform, error) {
	switch name {
	case "kubernetes", "k8s":
		return kubernetes{ns: o.Namespace}, nil
	case "compose":
		f := o.ComposeFile
		if f == "" {
			f = "docker-compose.prod.yml"
		}
		return compose{file: f}, nil
	case "local":
		d := o.PIDDir
		if d == "" {
			d = "run"
		}
		// Restore starts processes from their own folder: the pidfile
		// paths it writes must not depend on where dr runs.
		if abs, err := filepath.Abs(d); err == nil {
			d = abs
		}
		return local{dir: d}, nil
	}
	return nil, fmt.Errorf("unknown platform %q: use kubernetes, compose or local", name)
}

type kubernetes struct{ ns string }

func (k kubernetes) Name() string { return "kubernetes" }

func (k kubernetes) kubectl(args ...string) []string {
	argv := []string{"kubectl"}
	if k.ns != "" {
		argv = append(argv, "-n", k.ns)
	}
	return append(argv, args...)
}

func (k kubernetes) getReplicas(name string) []string {
	return k.kubectl("get", "deploy", name, "-o", "jsonpath={.spec.replicas}")
}

func (k kubernetes) RecordCommands() [][]string {
	var out [][]string
	for _, c := range Components {
		out = append(out, k.getReplicas(c))
	}
	return out
}

func (k kubernetes) Record(ctx context.Context, run Runner) (PlatformState, []Output, error) {
	st := PlatformState{Platform: k.Name(), Namespace: k.ns}
	var outs []Output
	for _, c := range Components {
		o := run(ctx, k.getReplicas(c))
		outs = append(outs, o)
		if o.ExitCode != 0 {
			return st, outs, fmt.Errorf("%s: exit %d: %s", strings.Join(o.Argv, " "), o.ExitCode, strings.TrimSpace(o.Stderr))
		}
		n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(o.Stdout), "'"))
		if err != nil {
			return st, outs, fmt.Errorf("%s: replicas %q is not a number", strings.Join(o.Argv, " "), o.Stdout)
		}
		st.Components = append(st.Components, ComponentState{Name: c, Replicas: &n})
	}
	return st, outs, nil
}

func (k kubernetes) Contain(PlatformState) [][]string {
	var out [][]string
	for _, c := range Components {
		out = append(out, k.kubectl("scale", "deploy/"+c, "--replicas=0"))
	}
	return out
}

// Restore scales each deployment back to its recorded count, the API first.
// (kubectl rollout undo would change the image, not the replica count.)
func (k kubernetes) Restore(st PlatformState) [][]string {
	var out [][]string
	for i := len(st.Components) - 1; i >= 0; i-- {
		c := st.Components[i]
		if c.Replicas == nil {
			continue
		}
		out = append(out, k.kubectl("scale", "deploy/"+c.Name, fmt.Sprintf("--replicas=%d", *c.Replicas)))
	}
	return out
}

type compose struct{ file string }

func (c compose) Name() string { return "compose" }

func (c compose) docker(args ...string) []string {
	return append([]string{"docker", "compose", "-f", c.file}, args...)
}

// services in the checklist's order: backend frontend-admin.
var composeServices = []string{"backend", "frontend-admin"}

func (c compose) RecordCommands() [][]string {
	return [][]string{c.docker(append([]string{"ps", "--all", "--format", "json"}, composeServices...)...)}
}

func (c compose) Record(ctx context.Context, run Runner) (PlatformState, []Output, error) {
	st := PlatformState{Platform: c.Name(), ComposeFile: c.file}
	o := run(ctx, c.RecordCommands()[0])
	outs := []Output{o}
	if o.ExitCode != 0 {
		return st, outs, fmt.Errorf("%s: exit %d: %s", strings.Join(o.Argv, " "), o.ExitCode, strings.TrimSpace(o.Stderr))
	}
	states, err := parseComposePS(o.Stdout)
	if err != nil {
		return st, outs, err
	}
	for _, s := range composeServices {
		state := states[s]
		if state == "" {
			state = "absent"
		}
		st.Components = append(st.Components, ComponentState{Name: s, State: state})
	}
	return st, outs, nil
}

// parseComposePS reads `docker compose ps --format json`: one JSON object
// per line (Compose v2.21+) or one JSON array (older).
func parseComposePS(out string) (map[string]string, error) {
	type ctr struct{ Service, State string }
	var list []ctr
	out = strings.TrimSpace(out)
	if strings.HasPrefix(out, "[") {
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			return nil, fmt.Errorf("docker compose ps: %w", err)
		}
	} else {
		for _, line := range strings.Split(out, "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			var c ctr
			if err := json.Unmarshal([]byte(line), &c); err != nil {
				return nil, fmt.Errorf("docker compose ps: %w", err)
			}
			list = append(list, c)
		}
	}
	m := map[string]string{}
	for _, c := range list {
		// A service with one running container counts as running.
		if m[c.Service] != "running" {
			m[c.Service] = strings.ToLower(c.State)
		}
	}
	return m, nil
}

func (c compose) Contain(PlatformState) [][]string {
	return [][]string{c.docker(append([]string{"stop"}, composeServices...)...)}
}

// Restore starts the services that were running, and only those.
func (c compose) Restore(st PlatformState) [][]string {
	var run []string
	for _, s := range st.Components {
		if s.State == "running" {
			run = append(run, s.Name)
		}
	}
	if len(run) == 0 {
		return nil
	}
	return [][]string{c.docker(append([]string{"start"}, run...)...)}
}

type local struct{ dir string }

func (l local) Name() string { return "local" }

func (l local) RecordCommands() [][]string { return nil }

func (l local) pidfile(c string) string { return filepath.Join(l.dir, c+".pid") }

// Record reads each component's pidfile and, for a live process, its
// binary (and that image's sha256), command line, working folder and
// environment from /proc, so restore-traffic can start exactly it again. A
// live process whose record cannot be read whole is an error: nothing is
// stopped then.
func (l local) Record(ctx context.Context, run Runner) (PlatformState, []Output, error) {
	st := PlatformState{Platform: l.Name(), PIDDir: l.dir}
	for _, c := range Components {
		cs := ComponentState{Name: c, State: "stopped", PIDFile: l.pidfile(c)}
		b, err := os.ReadFile(cs.PIDFile)
		if err == nil {
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			if ProcessAlive(pid) && pid != os.Getpid() {
				spec, err := readProcess(pid)
				if err != nil {
					return st, nil, fmt.Errorf("%s (%s): %w", c, cs.PIDFile, err)
				}
				cs.PID, cs.State, cs.Spec = pid, "running", spec
				cs.Cmdline, cs.Cwd, cs.Exe, cs.ExeSHA256 = spec.Argv, spec.Cwd, spec.Exe, spec.ExeSHA256
				cs.Env = envView(spec.Env)
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return st, nil, err
		}
		st.Components = append(st.Components, cs)
	}
	return st, nil, nil
}

func (l local) Contain(st PlatformState) [][]string {
	var out [][]string
	for _, c := range st.Components {
		if c.State == "running" && c.PID > 0 {
			out = append(out, []string{"kill", "-TERM", strconv.Itoa(c.PID)})
		}
	}
	return out
}

// Restore returns, for each process that was running, the binary and
// arguments restore-traffic starts (backend first), for --dry-run and the
// journal. RestoreTraffic starts them: with the recorded environment, in
// the recorded folder, never over a live pidfile.
func (l local) Restore(st PlatformState) [][]string {
	var out [][]string
	for i := len(st.Components) - 1; i >= 0; i-- {
		c := st.Components[i]
		if c.State != "running" || len(c.Cmdline) == 0 {
			continue
		}
		exe := c.Exe
		if exe == "" {
			exe = c.Cmdline[0]
		}
		out = append(out, append([]string{exe}, c.Cmdline[1:]...))
	}
	return out
}
