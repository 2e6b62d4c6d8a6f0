package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDRScenarioRunbookSection(t *testing.T) {
	f := newDRFixture(t)
	f.mustDR(t, "declare", "--severity", "SEV-3", "--ic", "a", "--comms", "b")
	rb := filepath.Join(f.Dir, "runbook.md")
	os.WriteFile(rb, []byte("# Runbook\n\n## 2. Scenario A: App-only\n\nroll back\n\n## 3. Scenario B: DB issue\n\n### 3.1 K8s\n\n```bash\n# not a heading\n./scripts/restore_postgres.sh FILE\n```\n\n## 4. Choosing a backup\n\nnewest good\n"), 0o644)
	out := f.mustDR(t, "scenario", "B", "--reason", "rows gone", "--runbook", rb)
	if !strings.Contains(out, "## 3. Scenario B: DB issue") || !strings.Contains(out, "restore_postgres.sh FILE") || strings.Contains(out, "Choosing a backup") || strings.Contains(out, "roll back") {
		t.Errorf("scenario B printed the wrong section:\n%s", out)
	}
	if _, errOut, code := f.dr(t, "scenario", "C", "--reason", "x", "--runbook", rb); code == 0 || !strings.Contains(errOut, `no heading naming "Scenario C"`) {
		t.Errorf("missing section: exit %d, %s", code, errOut)
	}
	if _, errOut, code := f.dr(t, "scenario", "A", "--reason", "x", "--runbook", filepath.Join(f.Dir, "nope.md")); code == 0 || !strings.Contains(errOut, "runbook") {
		t.Errorf("missing runbook: exit %d, %s", code, errOut)
	}
	if _, errOut, code := f.dr(t, "scenario", "B", "--runbook", rb); code != 2 || !strings.Contains(errOut, "--reason") {
		t.Errorf("no reason: exit %d, %s", code, errOut)
	}
	if st := f.mustDR(t, "status"); !strings.Contains(st, "scenario B: rows gone") {
		t.Errorf("status lacks the decision:\n%s", st)
	}
}

func TestDRDeclareTemplateSources(t *testing.T) {
	f := newDRFixture(t)
	os.Remove(filepath.Join(f.ProofDir, "template.md"))
	_, errOut, code := f.dr(t, "declare", "--severity", "SEV-1", "--ic", "a", "--comms", "b", "--template", filepath.Join(f.Dir, "nope.md"))
	if code == 0 || !strings.Contains(errOut, "nope.md does not exist") {
		t.Fatalf("a --template that does not exist: exit %d: %s", code, errOut)
	}
	// Without a file, the template built into casino.
	if out := f.mustDR(t, "declare", "--severity", "SEV-1", "--ic", "a", "--comms", "b"); !strings.Contains(out, "(template embedded:template.md)") {
		t.Fatalf("declare without a template file:\n%s", out)
	}
	if _, errOut, code := f.dr(t, "declare", "--severity", "SEV-9", "--ic", "a", "--comms", "b"); code != 2 || !strings.Contains(errOut, "SEV-1, SEV-2, SEV-3") {
		t.Fatalf("bad severity: exit %d: %s", code, errOut)
	}
}

func TestDRRunExitCodeAndCap(t *testing.T) {
	f := newDRFixture(t)
	f.mustDR(t, "declare", "--severity", "SEV-3", "--ic", "a", "--comms", "b")
	if _, _, code := f.dr(t, "run", "--", "sh", "-c", "exit 7"); code != 7 {
		t.Fatalf("dr run exit = %d, want the command's 7", code)
	}
	if _, _, code := f.dr(t, "run", "--", "no-such-command-xyz"); code != 127 {
		t.Fatalf("dr run of a missing command = %d, want 127", code)
	}
	f.mustDR(t, "run", "--", "sh", "-c", "head -c 200000 /dev/zero | tr '\\0' a")
	proof, _ := os.ReadFile(filepath.Join(f.ProofDir, time.Now().UTC().Format("2006-01-02")+".md"))
	if !strings.Contains(string(proof), "output capped at 65536 bytes") || len(proof) > 150000 {
		t.Errorf("output not capped: proof is %d bytes", len(proof))
	}
	for _, want := range []string{"FAILED `run sh -c 'exit 7'`, exit 7", "exit 127"} {
		if !strings.Contains(string(proof), want) {
			t.Errorf("proof lacks %q", want)
		}
	}
}

func TestDRVerifyProofNamesTheBreak(t *testing.T) {
	f := newDRFixture(t)
	f.mustDR(t, "declare", "--severity", "SEV-3", "--ic", "a", "--comms", "b")
	f.mustDR(t, "run", "--", "echo", "one")
	f.mustDR(t, "run", "--", "echo", "two")
	id := time.Now().UTC().Format("2006-01-02")
	proof := filepath.Join(f.ProofDir, id+".md")
	f.mustDR(t, "verify-proof", proof)
	j := filepath.Join(f.ProofDir, id+".journal.jsonl")
	b, _ := os.ReadFile(j)
	// a head recorded elsewhere: the journal must still contain it
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	last := lines[len(lines)-1]
	recorded := last[len(last)-66 : len(last)-50]
	if out := f.mustDR(t, "verify-proof", "--head", recorded, proof); !strings.Contains(out, "recorded head") {
		t.Fatalf("verify-proof --head: %s", out)
	}
	if out, _, code := f.dr(t, "verify-proof", "--head", "00000000deadbeef", proof); code != 1 || !strings.Contains(out, "journal was cut") {
		t.Fatalf("verify-proof with an unknown head: %d %s", code, out)
	}
	os.WriteFile(j, []byte(strings.Replace(string(b), `"stdout":"one\n"`, `"stdout":"uno\n"`, 1)), 0o600)
	out, _, code := f.dr(t, "verify-proof", proof)
	if code != 1 || !strings.Contains(out, "entry seq 4, step_end") || !strings.Contains(out, "entry edited") {
		t.Fatalf("tampered: exit %d: %s", code, out)
	}
	if _, errOut, code := f.dr(t, "status"); code == 0 || !strings.Contains(errOut, "entry seq 4") {
		t.Fatalf("status on a tampered journal: exit %d: %s", code, errOut)
	}
}

func TestDRValidateWithoutIncident(t *testing.T) {
	f := newDRFixture(t)
	srv, _ := serveSQLite(t)
	out, errOut, code := f.dr(t, "validate", "--url", srv.URL, "--checks", "health,ready")
	if code != 0 || !strings.Contains(errOut, "not recorded: no open incident") || !strings.Contains(out, "PASS: every must-pass check passed") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	// logs from stdin
	for range 5 {
		http.Get(srv.URL + "/api/health")
	}
	out, errOut, code = runCLI(t, f.Env, srv.Stdout.String(), "dr", "validate", "--checks", "logs_5xx,logs_p95", "--logs", "-", "--baseline-p95", "1s")
	if code != 0 || !strings.Contains(out, " requests) vs baseline 1000.000 ms") || !strings.Contains(out, "PASS: every must-pass check passed") {
		t.Fatalf("--logs -: exit %d\n%s\n%s", code, out, errOut)
	}
	if out := f.mustDR(t, "checks"); !strings.Contains(out, "logs_p95") || !strings.Contains(out, "browser") {
		t.Errorf("checks list:\n%s", out)
	}
}
