package drill

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casino"
	"casino/backup"
	"casino/docs/ops"
	"casino/dr"
	"casino/keys"
	"casino/sqlstore"
)

// TestPITRDrillRefusesContradictoryFacts: a point-in-time drill whose
// recovery reports an instant after its target (facts no recovery
// produces) is FAILED at select, naming the contradiction, and restores
// nothing; production is a real SQLite file, the recovered copy a real
// signed backup of it.
func TestPITRDrillRefusesContradictoryFacts(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	prod, err := sqlstore.ParseURL("sqlite:" + filepath.Join(dir, "casino.db"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlstore.Open(ctx, prod.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	db.Close()
	priv, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	k, err := backup.LoadKeys(backup.KeyConfig{SigningKey: string(priv.PEM())})
	if err != nil {
		t.Fatal(err)
	}
	targets, err := dr.ParseTargets(ops.Targets, "dr_targets.json")
	if err != nil {
		t.Fatal(err)
	}
	T := time.Now().UTC().Add(-time.Minute)
	recovered := false
	res, err := Run(ctx, Options{Production: prod, ProofDir: filepath.Join(dir, "proof"), ScratchDir: filepath.Join(dir, "scratch"),
		Template: dr.Source{Name: "template.md", Text: []byte("# Drill\n")}, Targets: targets, TargetsName: "dr_targets.json", Keys: k,
		PITR: &PITR{Target: &T, Config: &dr.PITRConfig{Mode: dr.PITRLitestream, From: "--to-time"},
			Recover: func(ctx context.Context, out string) (string, *casino.PITRFacts, *backup.Keys, error) {
				recovered = true
				cr, err := backup.Create(ctx, backup.CreateOptions{Target: prod, Dir: out, NoLock: true, Keys: k, SnapshotAt: T})
				if err != nil {
					return "", nil, nil, err
				}
				return cr.Path, &casino.PITRFacts{TargetTime: &T, ReachedAt: T.Add(30 * time.Second), Mode: "target_time", Source: "file:///replica"}, k, nil
			}}})
	if err != nil || res == nil {
		t.Fatalf("drill: %v", err)
	}
	d := res.Drill
	if !recovered || d.Verdict != casino.DrillFailed || !strings.HasPrefix(d.Reason, ReasonPick+": the recovery's facts contradict each other: pitr.reached_at") {
		t.Errorf("drill %s %q: want FAILED at pick naming the contradiction", d.Verdict, d.Reason)
	}
	for _, p := range d.Phases {
		if p.Name == casino.DrillPhaseRestore && p.OK {
			t.Errorf("the drill restored facts it refused")
		}
	}
}
