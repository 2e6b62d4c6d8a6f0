package pitr

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"casino/internal/testpg"
)

// TestAlertRules checks the PITR rules of deploy/prometheus/casino-rules.yaml
// (the one rules file) with promtool and
// proves each alert fires on the metric this package exports (the stream
// folder's, and serve's Litestream lag), and stays quiet on a healthy
// stream or replica.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is required in CI")
		}
		t.Skip("promtool not installed")
	}
	rules := filepath.Join(testpg.RepoRoot(), "deploy", "prometheus", "casino-rules.yaml")
	if out, err := exec.Command(promtool, "check", "rules", rules).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	test := `rule_files: [` + rules + `]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: casino_pitr_slot_retained_bytes
        values: 0+1000000000x20
      - series: casino_pitr_wal_lag_seconds
        values: 0.4x5 300x10
      - series: casino_pitr_last_base_backup_timestamp_seconds
        values: 0x20
    alert_rule_test:
      - eval_time: 4m
        alertname: CasinoPITRSlotRetainsTooMuchWAL
        exp_alerts: []
      - eval_time: 20m
        alertname: CasinoPITRSlotRetainsTooMuchWAL
        exp_alerts:
          - exp_labels: {severity: critical}
            exp_annotations:
              summary: "The PITR replication slot retains 18.63GiB of WAL on the primary"
              description: "casino pitr stream is not consuming WAL. Check it (casino pitr status); before max_slot_wal_keep_size is reached, fix it or drop the slot."
      - eval_time: 4m
        alertname: CasinoPITRWALLag
        exp_alerts: []
      - eval_time: 10m
        alertname: CasinoPITRWALLag
        exp_alerts:
          - exp_labels: {severity: critical}
            exp_annotations:
              summary: "PITR WAL streaming is 300s behind"
              description: "Transactions committed in the last 300s are not in the stream folder: a point-in-time restore would lose them."
  # SQLite with Litestream (serve's casino_pitr_litestream_lag_seconds):
  # caught up, then the replica stops confirming for five minutes against
  # an RPO target of 60s; a replica that never synced (-1) fires too.
  - interval: 1m
    input_series:
      - series: casino_dr_pitr_mode{mode="litestream"}
        values: 1x30
      - series: casino_dr_target_rpo_seconds{scenario="B"}
        values: 60x30
      - series: casino_pitr_litestream_lag_seconds
        values: 0.4x5 30 90 150 210 270 330 390 450x10
    alert_rule_test:
      - eval_time: 6m
        alertname: CasinoNoLitestreamWithinRPO
        exp_alerts: []
      - eval_time: 9m
        alertname: CasinoNoLitestreamWithinRPO
        exp_alerts:
          - exp_labels: {severity: critical}
            exp_annotations:
              summary: "The Litestream replica is 3m 30s behind, beyond the RPO target"
              description: "serve's SQLite changes are not confirmed in the Litestream replica (CASINO_PITR_REPLICA) for longer than scenario B's RPO target (or never were): a restore --to-time now would lose them. Check serve's log for litestream errors (replica unreachable, full, or refusing writes)."
  - interval: 1m
    input_series:
      - series: casino_dr_pitr_mode{mode="litestream"}
        values: 1x10
      - series: casino_dr_target_rpo_seconds{scenario="B"}
        values: 60x10
      - series: casino_pitr_litestream_lag_seconds
        values: -1x10
    alert_rule_test:
      - eval_time: 1m
        alertname: CasinoNoLitestreamWithinRPO
        exp_alerts: []
      - eval_time: 3m
        alertname: CasinoNoLitestreamWithinRPO
        exp_alerts:
          - exp_labels: {severity: critical}
            exp_annotations:
              summary: "The Litestream replica is -1s behind, beyond the RPO target"
              description: "serve's SQLite changes are not confirmed in the Litestream replica (CASINO_PITR_REPLICA) for longer than scenario B's RPO target (or never were): a restore --to-time now would lose them. Check serve's log for litestream errors (replica unreachable, full, or refusing writes)."
  # PostgreSQL PITR: a Litestream rule never fires on a wal deployment.
  - interval: 1m
    input_series:
      - series: casino_dr_pitr_mode{mode="litestream"}
        values: 0x10
      - series: casino_dr_target_rpo_seconds{scenario="B"}
        values: 60x10
      - series: casino_pitr_litestream_lag_seconds
        values: 500x10
    alert_rule_test:
      - eval_time: 8m
        alertname: CasinoNoLitestreamWithinRPO
        exp_alerts: []
`
	f := filepath.Join(t.TempDir(), "pitr_rules_test.yml")
	if err := os.WriteFile(f, []byte(test), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "test", "rules", f).CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}
