package main

import (
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
	want = []string{
		"kubectl|scale|deploy/backend|--replicas=2",
		"kubectl|scale|deploy/frontend-admin|--replicas=1",
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
	want = []string{"docker|compose|-f|docker-compose.prod.yml|start|backend|frontend-admin"}
	if got := argvLog(t, log); !reflect.DeepEqual(got, want) {
		t.Fatalf("restore-traffic argv:\n got %q\nwant %q", got, want)
	}
}
