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
	r := p.Restore(st)
	if len(r) != 1 || !reflect.DeepEqual(r[0][len(r[0])-2:], []string{"sleep", "300"}) {
		t.Fatalf("restore = %q", r)
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
