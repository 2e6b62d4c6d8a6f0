package dr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func newIncident(t *testing.T) *Incident {
	t.Helper()
	dir := t.TempDir()
	tpl := filepath.Join(dir, "template.md")
	os.WriteFile(tpl, []byte("# Proof template\n"), 0o644)
	start := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	in, err := Declare(dir, Source{Name: tpl, Text: []byte("# Proof template\n")}, Declaration{Severity: "SEV-1", IC: "ic", Comms: "cm", IncidentStart: start, ImpactStart: start.Add(-10 * time.Minute)}, &Redactor{}, start)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestJournalChainDetectsTampering(t *testing.T) {
	in := newIncident(t)
	for i := range 4 {
		if err := in.Append(TypeScenario, ScenarioDecision{Scenario: "B", Reason: fmt.Sprint("r", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := VerifyFile(in.ProofPath()); err != nil || n != 5 {
		t.Fatalf("VerifyFile = %d, %v; want 5, nil", n, err)
	}
	orig, _ := os.ReadFile(in.JournalPath())
	lines := strings.Split(strings.TrimSuffix(string(orig), "\n"), "\n")
	cases := []struct {
		name     string
		mutate   func([]string) []string
		wantLine int
		want     string
	}{
		{"edit entry 3", func(l []string) []string { l[2] = strings.Replace(l[2], `"r1"`, `"rX"`, 1); return l }, 3, "entry edited"},
		{"remove entry 2", func(l []string) []string { return append(l[:1:1], l[2:]...) }, 2, "prev_hash"},
		{"swap 3 and 4", func(l []string) []string { l[2], l[3] = l[3], l[2]; return l }, 3, "prev_hash"},
		{"truncate tail", func(l []string) []string { return l[:4] }, 0, "does not name the journal head"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := c.mutate(append([]string{}, lines...))
			os.WriteFile(in.JournalPath(), []byte(strings.Join(l, "\n")+"\n"), 0o600)
			defer os.WriteFile(in.JournalPath(), orig, 0o600)
			_, err := VerifyFile(in.ProofPath())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
			var ce *ChainError
			if c.wantLine > 0 && (!errors.As(err, &ce) || ce.Line != c.wantLine) {
				t.Fatalf("err = %v, want the break at line %d", err, c.wantLine)
			}
		})
	}
}

func TestClosedIncidentIsReadOnly(t *testing.T) {
	in := newIncident(t)
	in.Append(TypeScenario, ScenarioDecision{Scenario: "A", Reason: "bad image"})
	if err := in.Append(TypeClose, CloseReport{Scenario: "A"}); err != nil {
		t.Fatal(err)
	}
	if err := in.Append(TypeScenario, ScenarioDecision{Scenario: "B"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v, want ErrClosed", err)
	}
	if _, err := Open(in.Dir, "", nil); !errors.Is(err, ErrNoIncident) {
		t.Fatalf("Open without id after close: %v, want ErrNoIncident", err)
	}
	again, err := Open(in.Dir, in.ID, nil)
	if err != nil || !again.State.Closed {
		t.Fatalf("Open(%s) = %v, closed=%v", in.ID, err, again != nil && again.State.Closed)
	}
}

func TestDeclareSuffixes(t *testing.T) {
	in := newIncident(t)
	tpl := filepath.Join(in.Dir, "template.md")
	var ids []string
	for range 2 {
		n, err := Declare(in.Dir, Source{Name: tpl, Text: []byte("# t\n")}, Declaration{Severity: "SEV-2", IncidentStart: in.State.IncidentStart, ImpactStart: in.State.IncidentStart}, &Redactor{}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, n.ID)
	}
	if want := []string{"2026-11-29-2", "2026-11-29-3"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("ids = %v, want %v", ids, want)
	}
	if _, err := Open(in.Dir, "", nil); err == nil || !strings.Contains(err.Error(), "several open incidents") {
		t.Fatalf("Open with three open: %v", err)
	}
	_, err := LoadSource(filepath.Join(in.Dir, "missing.md"), "", "template.md", nil)
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing template: %v", err)
	}
}

func TestRedactor(t *testing.T) {
	r := NewRedactor([]string{
		"CASINO_OWNER_PASSWORD=hunter2-canary",
		"MY_API_KEY=k3y-canary",
		"DATABASE_URL=postgres://casino:db%2Fpw-canary@db:5432/casino",
		"HOME=/root",
		"SHORT_TOKEN=abc", // too short to scrub
	})
	r.Add("flag-pw-canary")
	in := `pw hunter2-canary key=k3y-canary url=postgres://casino:db%2Fpw-canary@db/x raw db/pw-canary ` +
		`Authorization: Bearer tok.en-canary-123 {"access_token":"at-canary-456"} later: tok.en-canary-123 at-canary-456 ` +
		`jwt eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl flag-pw-canary other://u:p4ss-canary@h home /root abc`
	out := r.String(in)
	if strings.Contains(out, "canary") {
		t.Fatalf("canary leaked: %s", out)
	}
	if got := r.String("use a bearer credential: Bearer authentication"); got != "use a bearer credential: Bearer authentication" {
		t.Errorf("prose about bearer tokens was redacted: %s", got)
	}
	for _, keep := range []string{"/root", " abc", "postgres://casino:***@db"} {
		if !strings.Contains(out, keep) {
			t.Errorf("redacted too much: %q missing in %s", keep, out)
		}
	}
}

func TestRedactValueJSONEscapes(t *testing.T) {
	r := &Redactor{}
	r.Add(`q"uo\te-canary`)
	v, err := redactValue(r, map[string]any{"out": `x q"uo\te-canary y`})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(v); strings.Contains(got, "canary") {
		t.Fatalf("leaked: %s", got)
	}
}

func TestPlatformArgv(t *testing.T) {
	n2, n1 := 2, 1
	st := PlatformState{Components: []ComponentState{{Name: "frontend-admin", Replicas: &n1}, {Name: "backend", Replicas: &n2}}}
	k, _ := NewPlatform("kubernetes", PlatformOptions{})
	want := [][]string{{"kubectl", "scale", "deploy/frontend-admin", "--replicas=0"}, {"kubectl", "scale", "deploy/backend", "--replicas=0"}}
	if got := k.Contain(st); !reflect.DeepEqual(got, want) {
		t.Errorf("k8s contain = %q, want %q", got, want)
	}
	want = [][]string{{"kubectl", "scale", "deploy/backend", "--replicas=2"}, {"kubectl", "scale", "deploy/frontend-admin", "--replicas=1"}}
	if got := k.Restore(st); !reflect.DeepEqual(got, want) {
		t.Errorf("k8s restore = %q, want %q", got, want)
	}
	c, _ := NewPlatform("compose", PlatformOptions{})
	cst := PlatformState{Components: []ComponentState{{Name: "backend", State: "running"}, {Name: "frontend-admin", State: "exited"}}}
	if got, want := c.Contain(cst), [][]string{{"docker", "compose", "-f", "docker-compose.prod.yml", "stop", "backend", "frontend-admin"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("compose contain = %q, want %q", got, want)
	}
	if got, want := c.Restore(cst), [][]string{{"docker", "compose", "-f", "docker-compose.prod.yml", "start", "backend"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("compose restore = %q, want %q (only what was running)", got, want)
	}
	m, err := parseComposePS(`{"Service":"backend","State":"running"}` + "\n" + `{"Service":"frontend-admin","State":"exited"}`)
	if err != nil || m["backend"] != "running" || m["frontend-admin"] != "exited" {
		t.Errorf("parseComposePS lines = %v, %v", m, err)
	}
	m, err = parseComposePS(`[{"Service":"backend","State":"running"}]`)
	if err != nil || m["backend"] != "running" {
		t.Errorf("parseComposePS array = %v, %v", m, err)
	}
}

func TestLocalPlatformRecordsAndRestores(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	// A real process to contain: sleep, with its pidfile.
	out := ExecRunner(ExecOptions{Dir: dir})(ctx, []string{"sh", "-c", `nohup sleep 300 >/dev/null 2>&1 & echo $! > backend.pid`})
	if out.ExitCode != 0 {
		t.Fatal(out)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "backend.pid"))
	var pid int
	fmt.Sscan(string(b), &pid)
	t.Cleanup(func() { killPID(pid) })
	// the child may not have exec'd sleep yet
	for i := 0; i < 200; i++ {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); strings.HasPrefix(string(b), "sleep") {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	p, _ := NewPlatform("local", PlatformOptions{PIDDir: dir})
	st, _, err := p.Record(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Components[1].State != "running" || st.Components[1].PID != pid || st.Components[0].State != "stopped" {
		t.Fatalf("recorded %+v", st.Components)
	}
	if got, want := p.Contain(st), [][]string{{"kill", "-TERM", fmt.Sprint(pid)}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("contain = %q, want %q", got, want)
	}
	be := st.Components[1]
	if !filepath.IsAbs(be.Exe) || filepath.Base(be.Exe) != "sleep" || len(be.ExeSHA256) != 64 || be.Cwd != dir || len(be.Env) == 0 || be.Spec == nil {
		t.Fatalf("recorded exe %q sha %q cwd %q env %d", be.Exe, be.ExeSHA256, be.Cwd, len(be.Env))
	}
	r := p.Restore(st)
	if want := [][]string{{be.Exe, "300"}}; !reflect.DeepEqual(r, want) {
		t.Fatalf("restore = %q, want %q", r, want)
	}
}

// TestEnvViewMasksSecrets: the journal's view of a recorded environment
// masks secret-named variables whole and passwords inside URLs.
func TestEnvViewMasksSecrets(t *testing.T) {
	got := envView([]string{"PGPASSWORD=hunter2hunter2", "DATABASE_URL=postgres://u:pw-in-url-77@h/db", "HOME=/home/x", "CASINO_JWT_KEY=", "CASINO_TOKEN_TTL=30m"})
	want := []EnvVar{
		{Name: "CASINO_JWT_KEY", Value: ""},
		{Name: "CASINO_TOKEN_TTL", Value: "30m"},
		{Name: "DATABASE_URL", Value: "postgres://u:***@h/db", Secret: true},
		{Name: "HOME", Value: "/home/x"},
		{Name: "PGPASSWORD", Value: Redacted, Secret: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("envView:\n got %+v\nwant %+v", got, want)
	}
}

// TestSecretsFileRefusals: the secrets file is written 0600 outside the
// proof folder only; one edited since (a clear value changed, a variable
// added), or readable by others, is refused.
func TestSecretsFileRefusals(t *testing.T) {
	dir := t.TempDir()
	proof := filepath.Join(dir, "proof")
	spec := &ProcessSpec{Exe: "/bin/casino", ExeSHA256: strings.Repeat("ab", 32), Argv: []string{"casino", "serve"}, Cwd: "/srv",
		Env: []string{"DATABASE_URL=sqlite:data/casino.db", "CASINO_JWT_KEY=jwt-secret-value-1234"}}
	st := PlatformState{Platform: "local", Components: []ComponentState{{Name: "backend", State: "running", Exe: spec.Exe, ExeSHA256: spec.ExeSHA256,
		Cmdline: spec.Argv, Cwd: spec.Cwd, Env: envView(spec.Env), Spec: spec}}}
	if err := saveSecrets(filepath.Join(proof, "x.json"), proof, "2026-12-02", &st); !errors.Is(err, ErrSecretsInProof) {
		t.Fatalf("secrets file inside the proof folder: %v", err)
	}
	st.SecretsFile = filepath.Join(dir, "state", "x.json")
	if err := saveSecrets(st.SecretsFile, proof, "2026-12-02", &st); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(st.SecretsFile); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	if specs, err := loadSecrets(&st, "2026-12-02"); err != nil || specs["backend"].Env[1] != "CASINO_JWT_KEY=jwt-secret-value-1234" {
		t.Fatalf("load: %v %+v", err, specs)
	}
	if _, err := loadSecrets(&st, "2026-12-03"); err == nil {
		t.Error("a secrets file of another incident was accepted")
	}
	raw, _ := os.ReadFile(st.SecretsFile)
	for name, edit := range map[string]string{
		"clear value changed": strings.Replace(string(raw), "sqlite:data/casino.db", "sqlite:/tmp/empty.db", 1),
		"variable added":      strings.Replace(string(raw), `"CASINO_JWT_KEY=`, `"EXTRA=1", "CASINO_JWT_KEY=`, 1),
		"binary changed":      strings.Replace(string(raw), "/bin/casino", "/tmp/casino", 1),
	} {
		os.WriteFile(st.SecretsFile, []byte(edit), 0o600)
		if _, err := loadSecrets(&st, "2026-12-02"); err == nil || !strings.Contains(err.Error(), "refusing") {
			t.Errorf("%s: %v, want a refusal", name, err)
		}
	}
	os.WriteFile(st.SecretsFile, raw, 0o600)
	os.Chmod(st.SecretsFile, 0o644)
	if _, err := loadSecrets(&st, "2026-12-02"); err == nil || !strings.Contains(err.Error(), "want 0600") {
		t.Errorf("world-readable secrets file: %v", err)
	}
}

// TestListenURL: where restore-traffic waits for a recorded casino serve.
func TestListenURL(t *testing.T) {
	for _, tc := range []struct {
		argv, env []string
		want      string
	}{
		{[]string{"casino", "serve"}, nil, "http://127.0.0.1:8080"},
		{[]string{"casino", "serve"}, []string{"CASINO_ADDR=127.0.0.1:9000"}, "http://127.0.0.1:9000"},
		{[]string{"casino", "serve", "--addr", ":7000"}, []string{"CASINO_ADDR=127.0.0.1:9000"}, "http://127.0.0.1:7000"},
		{[]string{"casino", "serve", "-addr=0.0.0.0:7001"}, nil, "http://127.0.0.1:7001"},
		{[]string{"casino", "serve"}, []string{"CASINO_ADDR=[::1]:7002"}, "http://[::1]:7002"},
	} {
		if got := listenURL(&ProcessSpec{Argv: tc.argv, Env: tc.env}); got != tc.want {
			t.Errorf("listenURL(%q, %q) = %s, want %s", tc.argv, tc.env, got, tc.want)
		}
	}
}

func killPID(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		p.Kill()
	}
}

func TestConcurrentAppendsKeepTheChain(t *testing.T) {
	in := newIncident(t)
	done := make(chan error)
	for w := range 4 {
		go func() {
			// each writer loads its own view, as separate dr processes do
			mine, err := Open(in.Dir, in.ID, &Redactor{})
			if err != nil {
				done <- err
				return
			}
			for i := range 10 {
				if err := mine.Append(TypeScenario, ScenarioDecision{Scenario: "B", Reason: fmt.Sprint(w, i)}); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n, err := VerifyFile(in.ProofPath()); err != nil || n != 41 {
		t.Fatalf("VerifyFile = %d, %v; want 41 entries and an intact chain", n, err)
	}
}

func TestFillTemplate(t *testing.T) {
	tpl := "**Kind:** <INCIDENT PROOF | DRILL>\n\n| Field | Value |\n|---|---|\n| Severity | <SEV-1 / SEV-2 / SEV-3> |\n| `incident_start_utc` | <YYYY-MM-DDTHH:MM:SSZ> (declared; RTO starts here) |\n| Version before the incident | <`curl -s <URL>/api/version`> |\n| Ops / responder | <name> |\n"
	start := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	got := fillTemplate(tpl, "2026-11-29", Declaration{Severity: "SEV-1", IncidentStart: start, VersionBefore: "v1.2.3"})
	want := "**Kind:** INCIDENT PROOF\n\n| Field | Value |\n|---|---|\n| Severity | SEV-1 |\n| `incident_start_utc` | 2026-11-29T03:00:00Z (declared; RTO starts here) |\n| Version before the incident | v1.2.3 |\n| Ops / responder | <name> |\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestRenderRebuildsALostProof(t *testing.T) {
	in := newIncident(t)
	in.Append(TypeScenario, ScenarioDecision{Scenario: "B", Reason: "rows gone"})
	os.Remove(in.ProofPath())
	again, err := Open(in.Dir, "", &Redactor{})
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Render(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(in.ProofPath())
	for _, want := range []string{"# INCIDENT PROOF", "# Proof template", Marker, "decided scenario B"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("rebuilt proof lacks %q:\n%s", want, b)
		}
	}
	if _, err := VerifyFile(in.ProofPath()); err != nil {
		t.Fatal(err)
	}
}

// TestTornPrivateKeyIsMasked: output capped mid-key still hides the key.
func TestTornPrivateKeyIsMasked(t *testing.T) {
	in := "before\n-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIHtornkeybodyline0123456789abcdef\n"
	got := scrub(&Redactor{}, in)
	if strings.Contains(got, "tornkeybody") || !strings.HasPrefix(got, "before\n") {
		t.Errorf("scrub(torn PEM) = %q", got)
	}
	whole := "x -----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEApublic\n-----END PUBLIC KEY-----\n"
	if got := scrub(&Redactor{}, whole); got != whole {
		t.Errorf("a public key was masked: %q", got)
	}
}

// TestLearnArgvMasksFlagSecrets: a secret passed as --password X on the
// recorded command line is masked wherever the line appears.
func TestLearnArgvMasksFlagSecrets(t *testing.T) {
	red := NewRedactor(nil)
	learnArgv(red, []string{"casino", "serve", "--password", "argv-secret-9911", "--addr", ":8080"})
	if got := red.String("casino serve --password argv-secret-9911 --addr :8080"); strings.Contains(got, "argv-secret-9911") {
		t.Fatalf("not masked: %s", got)
	}
	if got := red.String(`["casino","argv-secret-9911"]`); strings.Contains(got, "argv-secret-9911") {
		t.Fatalf("not masked by value: %s", got)
	}
}
