package dr

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// kubectlRunner stands in for kubectl (no cluster here): it records each
// argv and answers "get" with replicas, exiting failGet when set.
func kubectlRunner(argvs *[][]string, replicas string, failGet int) Runner {
	return func(_ context.Context, argv []string) Output {
		*argvs = append(*argvs, argv)
		if len(argv) > 1 && argv[1] == "get" {
			if failGet != 0 {
				return Output{Argv: argv, ExitCode: failGet, Stderr: "the server is unreachable"}
			}
			return Output{Argv: argv, Stdout: replicas}
		}
		return Output{Argv: argv}
	}
}

// TestContainRecordsThenStops: Contain journals the replica counts before
// it scales anything to 0; a resumed contain keeps them; PlanContain names
// the same commands without running any.
func TestContainRecordsThenStops(t *testing.T) {
	in := newIncident(t)
	k, _ := NewPlatform("kubernetes", PlatformOptions{})
	plan, err := in.PlanContain(context.Background(), k)
	if err != nil || plan.Recorded || len(plan.Record) != 2 || len(plan.Contain) != 2 {
		t.Fatalf("plan before contain = %+v, %v; want 2 record and 2 contain commands", plan, err)
	}
	var argvs [][]string
	var out bytes.Buffer
	if err := in.Contain(context.Background(), k, ContainOptions{Run: kubectlRunner(&argvs, "3", 0), Out: &out}); err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"kubectl", "get", "deploy", "frontend-admin", "-o", "jsonpath={.spec.replicas}"},
		{"kubectl", "get", "deploy", "backend", "-o", "jsonpath={.spec.replicas}"},
		{"kubectl", "scale", "deploy/frontend-admin", "--replicas=0"},
		{"kubectl", "scale", "deploy/backend", "--replicas=0"},
	}
	if !reflect.DeepEqual(argvs, want) {
		t.Fatalf("argv:\n got %q\nwant %q", argvs, want)
	}
	st := in.State.Platform
	if st == nil || len(st.Components) != 2 || st.Components[1].Replicas == nil || *st.Components[1].Replicas != 3 {
		t.Fatalf("recorded state = %+v, want backend=3", st)
	}
	if !strings.Contains(out.String(), "$ kubectl scale deploy/backend --replicas=0") || !strings.Contains(out.String(), "recorded state before containment") {
		t.Errorf("progress:\n%s", out.String())
	}

	// Done: not again without Force; with it, the first record is kept.
	if err := in.CheckContain(k, false); !errors.Is(err, ErrStepDone) {
		t.Fatalf("CheckContain after contain = %v, want ErrStepDone", err)
	}
	plan, err = in.PlanContain(context.Background(), k)
	if err != nil || !plan.Recorded || plan.Record != nil {
		t.Fatalf("plan after contain = %+v, %v; want the recorded state kept", plan, err)
	}
	argvs = nil
	if err := in.Contain(context.Background(), k, ContainOptions{Run: kubectlRunner(&argvs, "0", 0), Force: true}); err != nil {
		t.Fatal(err)
	}
	if len(argvs) != 2 || argvs[0][1] != "scale" || *in.State.Platform.Components[1].Replicas != 3 {
		t.Fatalf("forced contain ran %q and recorded %+v; want only the scale commands, backend=3 kept", argvs, in.State.Platform)
	}
	c, _ := NewPlatform("compose", PlatformOptions{})
	if err := in.CheckContain(c, true); err == nil || !strings.Contains(err.Error(), "--platform kubernetes") {
		t.Errorf("contain on compose after kubernetes = %v, want a refusal naming kubernetes", err)
	}
}

// TestContainStopsNothingWhenRecordFails: without a recorded state there
// is nothing to restore traffic to, so no containment command runs.
func TestContainStopsNothingWhenRecordFails(t *testing.T) {
	in := newIncident(t)
	k, _ := NewPlatform("kubernetes", PlatformOptions{})
	var argvs [][]string
	err := in.Contain(context.Background(), k, ContainOptions{Run: kubectlRunner(&argvs, "", 1)})
	var rf *RecordFailed
	if !errors.As(err, &rf) || !strings.Contains(err.Error(), "nothing was stopped") {
		t.Fatalf("Contain with kubectl failing = %v, want *RecordFailed", err)
	}
	for _, a := range argvs {
		if a[1] == "scale" {
			t.Fatalf("ran %q after the record failed", a)
		}
	}
	if in.State.Platform != nil {
		t.Errorf("state recorded after a failed record: %+v", in.State.Platform)
	}
}
