// Package testtool finds the real command-line tools tests run (openssl,
// age, age-keygen). A missing tool skips the test, except under CI=true,
// where it fails: a CI run without the tool cannot pass as tested
// (scripts/ci/tools.sh installs them).
package testtool

import (
	"os"
	"os/exec"
	"testing"
)

// Need returns the path of the named tool, or skips the test (fails it
// under CI=true) when it is not on PATH.
func Need(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI (scripts/ci/tools.sh installs it): %v", name, err)
		}
		t.Skipf("%s not installed: %v (scripts/ci/tools.sh installs it)", name, err)
	}
	return p
}
