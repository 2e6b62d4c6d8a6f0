package testpg

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestHelperNeedsPostgres is run as a child by TestUnreachableFailsInCI.
func TestHelperNeedsPostgres(t *testing.T) {
	if os.Getenv("CASINO_TESTPG_CHILD") != "1" {
		t.Skip("child of TestUnreachableFailsInCI")
	}
	NewDatabase(t)
}

// TestUnreachableFailsInCI: with CI=true an unreachable PostgreSQL fails the
// test instead of skipping it, so a run without PostgreSQL cannot pass as
// tested; without CI it skips.
func TestUnreachableFailsInCI(t *testing.T) {
	for _, ci := range []string{"true", ""} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperNeedsPostgres$", "-test.v")
		cmd.Env = append(os.Environ(), "CASINO_TESTPG_CHILD=1", "CI="+ci,
			"CASINO_TEST_PG_URL=postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2")
		out, err := cmd.CombinedOutput()
		switch ci {
		case "true":
			if err == nil || !strings.Contains(string(out), "PostgreSQL is required in CI") {
				t.Errorf("CI=true: want failure, got err=%v\n%s", err, out)
			}
		default:
			if err != nil || !strings.Contains(string(out), "SKIP") {
				t.Errorf("CI unset: want skip, got err=%v\n%s", err, out)
			}
		}
	}
}
