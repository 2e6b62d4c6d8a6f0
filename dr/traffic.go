package dr

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Errors of RestoreTraffic. Each message says what to do.
var (
	// ErrBinaryChanged: the binary at the recorded path is not the image
	// contain recorded (another build was installed there).
	ErrBinaryChanged = errors.New("the binary is not the one contain recorded")
	// ErrLivePidfile: the pidfile names a live process; it is not
	// overwritten and no second process is started.
	ErrLivePidfile = errors.New("the pidfile names a running process")
	// ErrPortInUse: something already accepts connections where the
	// process would listen.
	ErrPortInUse = errors.New("the port is already in use")
	// ErrDiedAtStart: the started process exited before it answered ready.
	ErrDiedAtStart = errors.New("the process exited at start")
	// ErrNotReady: the service did not answer ready (and the expected
	// version) within the timeout.
	ErrNotReady = errors.New("not ready within the timeout")
)

// RecordPlatform records the platform's state before containment and
// journals it. For local processes the clear-text record (environment and
// command line, secrets included) goes first to a 0600 secrets file in
// stateDir, which must lie outside the proof folder; the journal gets the
// file's path, the binary, its sha256 and the variables with secrets
// masked. Nothing is stopped by this call.
func (in *Incident) RecordPlatform(ctx context.Context, plat Platform, run Runner, stateDir string) (*PlatformState, []Output, error) {
	st, outs, err := plat.Record(ctx, run)
	if err != nil {
		return nil, outs, err
	}
	specs := false
	for _, c := range st.Components {
		if c.Spec != nil {
			specs = true
			learnSecrets(in.Red, c.Spec.Env)
			learnArgv(in.Red, c.Spec.Argv)
		}
	}
	if specs {
		abs, _ := filepath.Abs(in.Dir)
		sum := sha256.Sum256([]byte(abs))
		st.SecretsFile = filepath.Join(stateDir, fmt.Sprintf("%s-%s.restore-traffic.json", in.ID, hex.EncodeToString(sum[:4])))
		if err := saveSecrets(st.SecretsFile, in.Dir, in.ID, &st); err != nil {
			return nil, outs, err
		}
	}
	if err := in.Append(TypeState, st); err != nil {
		return nil, outs, err
	}
	return in.State.Platform, outs, nil
}

// TrafficOptions adjust RestoreTraffic.
type TrafficOptions struct {
	// Run runs kubectl and docker (ExecRunner in production).
	Run Runner
	// Binary (local) starts this binary instead of the recorded one: the
	// only way past ErrBinaryChanged.
	Binary string
	// URL is the backend's base URL to wait on. Local: default derived from
	// the recorded --addr or CASINO_ADDR. Kubernetes and compose: waited on
	// only when set.
	URL string
	// Version is the /api/version the backend must answer ("" skips it).
	Version string
	// Timeout bounds each wait (rollout, health, ready).
	Timeout time.Duration
	// Red learns the recorded secrets, so failure output is masked.
	Red *Redactor
	// Progress receives a line per action.
	Progress io.Writer
	// Sent, when set, receives the request ids the server echoed to the
	// readiness polls (journal them: the log checks leave them out).
	Sent *[]string
}

func (o *TrafficOptions) progress(format string, a ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", a...)
	}
}

// TrafficPlan returns the commands RestoreTraffic runs on st, for --dry-run
// and the journal: the scale-up or start commands, then the waits.
func TrafficPlan(st PlatformState, o TrafficOptions) [][]string {
	switch st.Platform {
	case "kubernetes":
		k := kubernetes{ns: st.Namespace}
		cmds := k.Restore(st)
		return append(cmds, k.rolloutWaits(st, o.Timeout)...)
	case "compose":
		c := compose{file: st.ComposeFile}
		cmds := c.Restore(st)
		if len(cmds) > 0 {
			cmds = append(cmds, c.psCommand())
		}
		return cmds
	case "local":
		return local{dir: st.PIDDir}.Restore(st)
	}
	return nil
}

// rolloutWaits are the kubectl rollout status commands for each deployment
// scaled back above zero, the API first.
func (k kubernetes) rolloutWaits(st PlatformState, timeout time.Duration) [][]string {
	var out [][]string
	for i := len(st.Components) - 1; i >= 0; i-- {
		c := st.Components[i]
		if c.Replicas == nil || *c.Replicas == 0 {
			continue
		}
		out = append(out, k.kubectl("rollout", "status", "deploy/"+c.Name, "--timeout="+timeout.String()))
	}
	return out
}

// RestoreTraffic brings back exactly what contain recorded and waits until
// it serves: kubectl scale, then kubectl rollout status per deployment;
// docker compose start, then docker compose ps until every started service
// runs and is healthy; local processes started with their recorded binary,
// arguments, folder and environment, each waited on at /api/ready (and the
// backend at the expected version). It fails, naming why, when a command
// fails, a process dies, a port is taken, a pidfile names a live process,
// the binary changed, or the wait times out.
func RestoreTraffic(ctx context.Context, st PlatformState, incident string, o TrafficOptions) ([]Output, error) {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	var outs []Output
	runAll := func(cmds [][]string) error {
		for _, c := range cmds {
			o.progress("$ %s", CommandLine(c))
			out := o.Run(ctx, c)
			outs = append(outs, out)
			if out.ExitCode != 0 {
				return fmt.Errorf("%s: exit %d: %s", CommandLine(c), out.ExitCode, strings.TrimSpace(out.Stderr))
			}
		}
		return nil
	}
	switch st.Platform {
	case "kubernetes":
		k := kubernetes{ns: st.Namespace}
		if err := runAll(k.Restore(st)); err != nil {
			return outs, err
		}
		if err := runAll(k.rolloutWaits(st, o.Timeout)); err != nil {
			return outs, fmt.Errorf("a deployment did not roll out: %w", err)
		}
	case "compose":
		c := compose{file: st.ComposeFile}
		cmds := c.Restore(st)
		if err := runAll(cmds); err != nil {
			return outs, err
		}
		if len(cmds) > 0 {
			wo, err := c.waitHealthy(ctx, st, o)
			outs = append(outs, wo)
			if err != nil {
				return outs, err
			}
		}
	case "local":
		if len(local{}.Restore(st)) == 0 {
			o.progress("contain recorded no running process: nothing to start")
			return outs, nil
		}
		specs, err := loadSecrets(&st, incident)
		if err != nil {
			return outs, err
		}
		for i := len(st.Components) - 1; i >= 0; i-- {
			c := st.Components[i]
			if c.State != "running" || specs[c.Name] == nil {
				continue
			}
			learnSecrets(o.Red, specs[c.Name].Env)
			learnArgv(o.Red, specs[c.Name].Argv)
			out, err := startLocal(ctx, c, specs[c.Name], o)
			outs = append(outs, out)
			if err != nil {
				return outs, fmt.Errorf("%s: %w", c.Name, err)
			}
		}
		return outs, nil
	default:
		return outs, fmt.Errorf("unknown platform %q", st.Platform)
	}
	if o.URL != "" {
		out, err := waitServing(ctx, o.URL, o.Version, o.Timeout, nil, o.Sent)
		outs = append(outs, out)
		if err != nil {
			return outs, err
		}
	}
	return outs, nil
}

func (c compose) psCommand() []string {
	return c.docker(append([]string{"ps", "--all", "--format", "json"}, composeServices...)...)
}

// waitHealthy polls docker compose ps until every service st recorded as
// running is running again and, where it has a healthcheck, healthy. A
// service that exited or turned unhealthy fails at once.
func (c compose) waitHealthy(ctx context.Context, st PlatformState, o TrafficOptions) (Output, error) {
	argv := c.psCommand()
	o.progress("$ %s (until healthy, at most %s)", CommandLine(argv), o.Timeout)
	deadline := time.Now().Add(o.Timeout)
	last := Output{Argv: argv, Start: time.Now().UTC()}
	for {
		out := o.Run(ctx, argv)
		out.Start = last.Start
		last = out
		if out.ExitCode != 0 {
			return out, fmt.Errorf("%s: exit %d: %s", CommandLine(argv), out.ExitCode, strings.TrimSpace(out.Stderr))
		}
		states, err := parseComposeStatus(out.Stdout)
		if err != nil {
			return out, err
		}
		waiting := ""
		for _, comp := range st.Components {
			if comp.State != "running" {
				continue
			}
			s := states[comp.Name]
			switch {
			case s.State == "exited" || s.State == "dead" || s.Health == "unhealthy":
				return out, fmt.Errorf("service %s is %s %s after start: see docker compose -f %s logs %s", comp.Name, s.State, s.Health, c.file, comp.Name)
			case s.State != "running" || (s.Health != "" && s.Health != "healthy"):
				waiting = fmt.Sprintf("%s is %s %s", comp.Name, s.State, s.Health)
			}
		}
		if waiting == "" {
			return out, nil
		}
		if time.Now().After(deadline) {
			return out, fmt.Errorf("%w (%s): %s", ErrNotReady, o.Timeout, waiting)
		}
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

type composeStatus struct{ State, Health string }

// parseComposeStatus reads `docker compose ps --format json` (one object
// per line, or one array) into each service's state and health.
func parseComposeStatus(out string) (map[string]composeStatus, error) {
	type ctr struct{ Service, State, Health string }
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
	m := map[string]composeStatus{}
	for _, c := range list {
		if m[c.Service].State != "running" {
			m[c.Service] = composeStatus{strings.ToLower(c.State), strings.ToLower(c.Health)}
		}
	}
	return m, nil
}

// listenURL is the base URL a recorded casino serve listens on: its --addr
// argument, else CASINO_ADDR, else :8080 (casino's default); an empty or
// wildcard host is reached on 127.0.0.1.
func listenURL(spec *ProcessSpec) string {
	addr := ""
	for i, a := range spec.Argv {
		for _, f := range []string{"--addr", "-addr"} {
			if a == f && i+1 < len(spec.Argv) {
				addr = spec.Argv[i+1]
			} else if v, ok := strings.CutPrefix(a, f+"="); ok {
				addr = v
			}
		}
	}
	if addr == "" {
		for _, kv := range spec.Env {
			if v, ok := strings.CutPrefix(kv, "CASINO_ADDR="); ok {
				addr = v
			}
		}
	}
	if addr == "" {
		addr = ":8080"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// startLocal starts one recorded process and waits until it serves.
func startLocal(ctx context.Context, c ComponentState, spec *ProcessSpec, o TrafficOptions) (Output, error) {
	exe := spec.Exe
	argv := append([]string{exe}, spec.Argv[1:]...)
	out := Output{Argv: argv, Start: time.Now().UTC(), ExitCode: 1}
	fail := func(err error) (Output, error) {
		out.End = time.Now().UTC()
		out.Stderr = err.Error()
		return out, err
	}
	var note []string
	if o.Binary != "" {
		abs, err := filepath.Abs(o.Binary)
		if err != nil {
			return fail(err)
		}
		sum, err := fileSHA256(abs)
		if err != nil {
			return fail(fmt.Errorf("--binary: %w", err))
		}
		exe = abs
		argv[0] = exe
		out.Argv = argv
		note = append(note, fmt.Sprintf("--binary %s (sha256 %s) in place of the recorded %s (sha256 %s)", abs, sum, spec.Exe, spec.ExeSHA256))
	} else {
		sum, err := fileSHA256(exe)
		if err != nil {
			return fail(fmt.Errorf("%w: %s: %v; pass --binary PATH to start another binary on purpose", ErrBinaryChanged, exe, err))
		}
		if sum != spec.ExeSHA256 {
			return fail(fmt.Errorf("%w: %s has sha256 %s, contain recorded %s (another build was installed there); pass --binary PATH to start a different binary on purpose", ErrBinaryChanged, exe, sum, spec.ExeSHA256))
		}
		note = append(note, fmt.Sprintf("binary %s, sha256 %s as recorded", exe, sum))
	}
	if pid, alive := livePidfile(c.PIDFile); alive {
		return fail(fmt.Errorf("%w: %s names pid %d, which is running: not starting a second process and not overwriting the pidfile (stop that process first, or remove the pidfile if it is not casino)", ErrLivePidfile, c.PIDFile, pid))
	}
	url := listenURL(spec)
	if c.Name == "backend" && o.URL != "" {
		url = o.URL
	}
	if hostport := strings.TrimPrefix(strings.TrimPrefix(url, "http://"), "https://"); hostport != "" {
		hostport, _, _ = strings.Cut(hostport, "/")
		if conn, err := net.DialTimeout("tcp", hostport, time.Second); err == nil {
			conn.Close()
			return fail(fmt.Errorf("%w: %s already accepts connections before %s was started: another process holds the port (find it with ss -ltnp), stop it, then run restore-traffic again", ErrPortInUse, hostport, c.Name))
		}
	}
	logPath := strings.TrimSuffix(c.PIDFile, ".pid") + ".log"
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fail(fmt.Errorf("log file: %w", err))
	}
	logStart, _ := logf.Seek(0, io.SeekEnd)
	cmd := &exec.Cmd{Path: exe, Args: append([]string{spec.Argv[0]}, spec.Argv[1:]...), Env: spec.Env, Dir: spec.Cwd,
		Stdout: logf, Stderr: logf, SysProcAttr: &syscall.SysProcAttr{Setsid: true}}
	o.progress("starting %s: %s (in %s, %d recorded variables, log %s)", c.Name, CommandLine(argv), spec.Cwd, len(spec.Env), logPath)
	err = cmd.Start()
	logf.Close()
	if err != nil {
		return fail(fmt.Errorf("start %s: %w", exe, err))
	}
	pid := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	version := ""
	if c.Name == "backend" {
		version = o.Version
	}
	// The pidfile is written once the process serves (or, at a timeout,
	// still runs): a process that died at start never replaces it.
	wo, werr := waitServing(ctx, url, version, o.Timeout, exited, o.Sent)
	out.End = time.Now().UTC()
	if werr != nil && errors.Is(werr, ErrDiedAtStart) {
		out.Stdout = strings.Join(append(note, fmt.Sprintf("started pid %d, which exited; pidfile %s left as it was", pid, c.PIDFile)), "\n")
		out.Stderr = werr.Error() + "\nlast lines of " + logPath + ":\n" + logTail(logPath, logStart)
		return out, werr
	}
	if err := writePidfile(c.PIDFile, pid); err != nil {
		cmd.Process.Kill()
		return fail(fmt.Errorf("pidfile: %w (the process started, pid %d, was killed)", err, pid))
	}
	note = append(note, fmt.Sprintf("started pid %d (pidfile %s, log %s)", pid, c.PIDFile, logPath))
	if werr != nil {
		out.Stdout = strings.Join(note, "\n")
		out.Stderr = werr.Error() + fmt.Sprintf("\npid %d is still running (pidfile %s); see its log %s", pid, c.PIDFile, logPath)
		return out, werr
	}
	out.ExitCode = 0
	out.Stdout = strings.Join(append(note, wo.Stdout), "\n")
	o.progress("%s is serving: %s", c.Name, wo.Stdout)
	return out, nil
}

// livePidfile reports the pid a pidfile names when that process runs.
func livePidfile(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, ProcessAlive(pid) && pid != os.Getpid()
}

// writePidfile writes pid to path through a temporary file and a rename,
// refusing (again, just before) when path names another live process.
func writePidfile(path string, pid int) error {
	if old, alive := livePidfile(path); alive && old != pid {
		return fmt.Errorf("%w: %s now names pid %d", ErrLivePidfile, path, old)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// logTail returns the log written since offset, at most its last 4 KiB.
func logTail(path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil || int64(len(b)) < offset {
		return ""
	}
	b = b[offset:]
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return strings.TrimSpace(string(b))
}

// waitServing polls base/api/ready until it answers 200 and, when version
// is set, base/api/version until it answers that version. exited, when
// set, reports the started process's end: it ending first is
// ErrDiedAtStart, whatever answers on the port. The ids the server echoed
// go to sent, when set.
func waitServing(ctx context.Context, base, version string, timeout time.Duration, exited <-chan error, sent *[]string) (Output, error) {
	base = strings.TrimRight(base, "/")
	start := time.Now()
	out := Output{Argv: []string{"GET", base + "/api/ready"}, Start: start.UTC(), ExitCode: 1}
	if version != "" {
		out.Argv = append(out.Argv, "GET", base+"/api/version", "(expect "+version+")")
	}
	client := &http.Client{Timeout: 3 * time.Second}
	get := func(path string) (int, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return 0, nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		if id := resp.Header.Get("X-Request-Id"); id != "" && sent != nil {
			*sent = append(*sent, id)
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		return resp.StatusCode, b, nil
	}
	died := func() error {
		select {
		case err := <-exited:
			how := "exit status 0"
			if err != nil {
				how = err.Error()
			}
			return fmt.Errorf("%w (%s) after %s, before it answered ready", ErrDiedAtStart, how, time.Since(start).Round(time.Millisecond))
		default:
			return nil
		}
	}
	last := "no answer yet"
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if err := died(); err != nil {
			out.End, out.Stderr = time.Now().UTC(), err.Error()
			return out, err
		}
		ok := false
		if code, b, err := get("/api/ready"); err != nil {
			last = "GET /api/ready: " + err.Error()
		} else if code != http.StatusOK {
			last = fmt.Sprintf("GET /api/ready: %d %s", code, short(b))
		} else if version == "" {
			ok = true
		} else if code, b, err := get("/api/version"); err != nil {
			last = "GET /api/version: " + err.Error()
		} else {
			var v struct {
				Version string `json:"version"`
			}
			json.Unmarshal(b, &v)
			if code == http.StatusOK && v.Version == version {
				ok = true
			} else {
				last = fmt.Sprintf("GET /api/version: %d, version %q, expected %q", code, v.Version, version)
			}
		}
		if ok {
			// The answer must come from the process just started, not
			// from another that holds the port.
			if err := died(); err != nil {
				out.End, out.Stderr = time.Now().UTC(), err.Error()
				return out, err
			}
			out.End, out.ExitCode = time.Now().UTC(), 0
			out.Stdout = fmt.Sprintf("%s/api/ready 200", base)
			if version != "" {
				out.Stdout += ", version " + version
			}
			out.Stdout += fmt.Sprintf(" after %s", out.End.Sub(start).Round(time.Millisecond))
			return out, nil
		}
		select {
		case <-ctx.Done():
			out.End, out.Stderr = time.Now().UTC(), ctx.Err().Error()
			return out, ctx.Err()
		case <-deadline.C:
			err := fmt.Errorf("%w: %s did not answer ready within %s (last: %s)", ErrNotReady, base, timeout, last)
			out.End, out.Stderr = time.Now().UTC(), err.Error()
			return out, err
		case err := <-exited:
			// put it back for died() to report
			ch := make(chan error, 1)
			ch <- err
			exited = ch
		case <-tick.C:
		}
	}
}

// TypeSentRequests is the journal entry of the request ids a step's
// requests got (restore-traffic's readiness polls): the log checks leave
// them out, as they leave out validate's own.
const TypeSentRequests = "sent_requests"

// SentRequests is the data of a sent_requests entry.
type SentRequests struct {
	Step string   `json:"step"`
	IDs  []string `json:"ids"`
}
