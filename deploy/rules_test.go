package deploy

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"casino/internal/testtool"
)

// TestPrometheusRules checks deploy/prometheus/casino-rules.yaml with
// `promtool check rules` and runs its unit tests (casino-rules*.test.yaml)
// with `promtool test rules`: each alert fires on the series serve exports
// and stays quiet on a healthy deployment.
func TestPrometheusRules(t *testing.T) {
	t.Parallel()
	promtool := testtool.Need(t, "promtool")
	dir := filepath.Join(root, "deploy", "prometheus")
	tests, err := filepath.Glob(filepath.Join(dir, "casino-rules*.test.yaml"))
	if err != nil || len(tests) < 2 {
		t.Fatalf("rule tests in %s: %v %v", dir, tests, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, promtool, "check", "rules", filepath.Join(dir, "casino-rules.yaml")).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	if out, err := exec.CommandContext(ctx, promtool, append([]string{"test", "rules"}, tests...)...).CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}
