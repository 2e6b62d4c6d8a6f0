package testtool

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestHelperNeedsTool is run as a child by TestMissingToolFailsInCI.
func TestHelperNeedsTool(t *testing.T) {
	if os.Getenv("CASINO_TESTTOOL_CHILD") != "1" {
		t.Skip("child of TestMissingToolFailsInCI")
	}
	Need(t, "casino-no-such-tool-7f3a")
}

// TestMissingToolFailsInCI: with CI=true a missing tool fails the test
// instead of skipping it; without CI it skips.
func TestMissingToolFailsInCI(t *testing.T) {
	for _, ci := range []string{"true", ""} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperNeedsTool$", "-test.v")
		cmd.Env = append(os.Environ(), "CASINO_TESTTOOL_CHILD=1", "CI="+ci)
		out, err := cmd.CombinedOutput()
		switch ci {
		case "true":
			if err == nil || !strings.Contains(string(out), "is required in CI") {
				t.Errorf("CI=true: want failure, got err=%v\n%s", err, out)
			}
		default:
			if err != nil || !strings.Contains(string(out), "SKIP") {
				t.Errorf("CI unset: want skip, got err=%v\n%s", err, out)
			}
		}
	}
}
