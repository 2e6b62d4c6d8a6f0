package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDRContainKubernetesExactArgv(t *testing.T) {
	f := newDRFixture(t)
	log := standins(t)
	f.mustDR(t, "declare", "--severity", "SEV-2", "--ic", "ann", "--comms", "bo")

	// --dry-run prints the exact commands and runs nothing.
	out := f.mustDR(t, "contain", "--platform", "kubernetes", "--dry-run")
	for _, want := range []string{
		"kubectl get deploy frontend-admin -o 'jsonpath={.spec.replicas}'",
		"kubectl get deploy backend -o 'jsonpath={.spec.replicas}'",
		"kubectl scale deploy/frontend-admin --replicas=0",
		"kubectl scale deploy/backend --replicas=0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry-run output lacks %q:\n%s", want, out)
		}
	}
	if got := argvLog(t, log); got != nil {
		t.Fatalf("dry-run ran %q", got)
	}

	// Without --yes and without a terminal it refuses.
	if _, errOut, code := f.dr(t, "contain", "--platform", "kubernetes"); code != 2 || !strings.Contains(errOut, "--yes") {
		t.Fatalf("contain without --yes: exit %d, %s", code, errOut)
	}
	if got := argvLog(t, log); got != nil {
		t.Fatalf("refused contain ran %q", got)
	}

	f.mustDR(t, "contain", "--platform", "kubernetes", "--yes")
	want := []string{
		"kubectl|get|deploy|frontend-admin|-o|jsonpath={.spec.replicas}",
		"kubectl|get|deploy|backend|-o|jsonpath={.spec.replicas}",
		"kubectl|scale|deploy/frontend-admin|--replicas=0",
		"kubectl|scale|deploy/backend|--replicas=0",
	}
	if got := argvLog(t, log); !reflect.DeepEqual(got, want) {
		t.Fatalf("contain argv:\n got %q\nwant %q", got, want)
	}

	// Done: not again without --force.
	if _, errOut, code := f.dr(t, "contain", "--platform", "kubernetes", "--yes"); code == 0 || !strings.Contains(errOut, "--force") {
		t.Fatalf("second contain: exit %d, %s", code, errOut)
	}

	out = f.mustDR(t, "restore-traffic", "--dry-run")
	if !strings.Contains(out, "kubectl scale deploy/backend --replicas=2\n  kubectl scale deploy/frontend-admin --replicas=1") {
		t.Errorf("restore-traffic dry-run:\n%s", out)
	}
	f.mustDR(t, "restore-traffic", "--yes")
	// Scaled back up, then waited on until each deployment rolled out.
	want = []string{
		"kubectl|scale|deploy/backend|--replicas=2",
		"kubectl|scale|deploy/frontend-admin|--replicas=1",
		"kubectl|rollout|status|deploy/backend|--timeout=2m0s",
		"kubectl|rollout|status|deploy/frontend-admin|--timeout=2m0s",
	}
	if got := argvLog(t, log); !reflect.DeepEqual(got, want) {
		t.Fatalf("restore-traffic argv:\n got %q\nwant %q", got, want)
	}
	status := f.mustDR(t, "status")
	for _, want := range []string{"frontend-admin=1 backend=2", "DONE         contain", "DONE         restore-traffic"} {
		if !strings.Contains(status, want) {
			t.Errorf("status lacks %q:\n%s", want, status)
		}
	}
}

func TestDRContainComposeExactArgv(t *testing.T) {
	f := newDRFixture(t)
	log := standins(t)
	f.mustDR(t, "declare", "--severity", "SEV-1", "--ic", "ann", "--comms", "bo")
	f.mustDR(t, "contain", "--platform", "compose", "--yes")
	want := []string{
		"docker|compose|-f|docker-compose.prod.yml|ps|--all|--format|json|backend|frontend-admin",
		"docker|compose|-f|docker-compose.prod.yml|stop|backend|frontend-admin",
	}
	if got := argvLog(t, log); !reflect.DeepEqual(got, want) {
		t.Fatalf("contain argv:\n got %q\nwant %q", got, want)
	}
	f.mustDR(t, "restore-traffic", "--yes")
	// Started, then docker compose ps until both run and are healthy.
	want = []string{
		"docker|compose|-f|docker-compose.prod.yml|start|backend|frontend-admin",
		"docker|compose|-f|docker-compose.prod.yml|ps|--all|--format|json|backend|frontend-admin",
	}
	if got := argvLog(t, log); !reflect.DeepEqual(got, want) {
		t.Fatalf("restore-traffic argv:\n got %q\nwant %q", got, want)
	}
}

// TestDRRestoreTrafficWaitsAndFailsLoudly: restore-traffic does not report
// traffic restored while a deployment has not rolled out, or while a
// compose service is unhealthy or exited; the journal says which.
func TestDRRestoreTrafficWaitsAndFailsLoudly(t *testing.T) {
	t.Run("kubernetes", func(t *testing.T) {
		f := newDRFixture(t)
		log := standins(t)
		f.mustDR(t, "declare", "--severity", "SEV-2", "--ic", "ann", "--comms", "bo")
		f.mustDR(t, "contain", "--platform", "kubernetes", "--yes")
		argvLog(t, log)
		os.WriteFile(filepath.Join(filepath.Dir(log), "rollout-fails.backend"), nil, 0o644)
		out, errOut, code := f.dr(t, "restore-traffic", "--yes", "--timeout", "30s")
		if code == 0 || !strings.Contains(errOut, "traffic is NOT restored") || !strings.Contains(errOut, "did not roll out") || strings.Contains(out, "traffic restored") {
			t.Fatalf("restore-traffic with a failing rollout: exit %d\n%s\n%s", code, out, errOut)
		}
		want := []string{
			"kubectl|scale|deploy/backend|--replicas=2",
			"kubectl|scale|deploy/frontend-admin|--replicas=1",
			"kubectl|rollout|status|deploy/backend|--timeout=30s",
		}
		if got := argvLog(t, log); !reflect.DeepEqual(got, want) {
			t.Fatalf("argv:\n got %q\nwant %q", got, want)
		}
		proof := readProof(t, f)
		if !strings.Contains(proof, "FAILED `restore-traffic`") || !strings.Contains(proof, "exceeded its progress deadline") {
			t.Errorf("the proof does not say the rollout failed:\n%s", proof)
		}
	})
	for _, tc := range []struct{ name, ps, want string }{
		{"compose exited", `{"Service":"backend","State":"exited","Health":""}` + "\n" + `{"Service":"frontend-admin","State":"running","Health":"healthy"}`, "service backend is exited"},
		{"compose unhealthy", `{"Service":"backend","State":"running","Health":"unhealthy"}` + "\n" + `{"Service":"frontend-admin","State":"running","Health":"healthy"}`, "service backend is running unhealthy"},
		{"compose still starting", `{"Service":"backend","State":"running","Health":"starting"}` + "\n" + `{"Service":"frontend-admin","State":"running","Health":"healthy"}`, "not ready within the timeout (1s): backend is running starting"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newDRFixture(t)
			log := standins(t)
			f.mustDR(t, "declare", "--severity", "SEV-2", "--ic", "ann", "--comms", "bo")
			f.mustDR(t, "contain", "--platform", "compose", "--yes")
			os.WriteFile(filepath.Join(filepath.Dir(log), "ps.json"), []byte(tc.ps), 0o644)
			out, errOut, code := f.dr(t, "restore-traffic", "--yes", "--timeout", "1s")
			if code == 0 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("restore-traffic: exit %d, want %q\n%s\n%s", code, tc.want, out, errOut)
			}
			if !strings.Contains(readProof(t, f), "FAILED `restore-traffic`") {
				t.Errorf("the proof does not record the failure")
			}
		})
	}
}

// readProof returns the fixture's one proof file.
func readProof(t *testing.T, f *drFixture) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.ProofDir, listProof(t, f.ProofDir)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
