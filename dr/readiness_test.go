package dr_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"casino/docs/ops"
	"casino/dr"
	"casino/internal/testdb"
	"casino/sqlstore"
)

// TestReadinessTargetsFollowPITR: serve exports the targets in force for
// its PITR setting, so the alert rules tighten with it: scenario B's RPO is
// 1h without PITR and the targets file's pitr RPO with it.
func TestReadinessTargetsFollowPITR(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, sqlstore.SQLite)
	targets, err := dr.ParseTargets(ops.Targets, "embedded:dr_targets.json")
	if err != nil {
		t.Fatal(err)
	}
	wantB := map[string]float64{"": 3600, dr.PITROff: 3600, dr.PITRWAL: 60, dr.PITRLitestream: 60}
	for mode, want := range wantB {
		r := &dr.Readiness{Drills: db, Verifications: db, Targets: targets, PITR: mode}
		reg := prometheus.NewRegistry()
		reg.MustRegister(r.Collector())
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				key := mf.GetName()
				for _, l := range m.GetLabel() {
					key += "," + l.GetName() + "=" + l.GetValue()
				}
				got[key] = m.GetGauge().GetValue()
			}
		}
		if v := got["casino_dr_target_rpo_seconds,scenario=B"]; v != want {
			t.Errorf("PITR %q: scenario B RPO %v, want %v", mode, v, want)
		}
		wantMode := mode
		if wantMode == "" {
			wantMode = dr.PITROff
		}
		for _, m := range dr.PITRModes {
			want := 0.0
			if m == wantMode {
				want = 1
			}
			if v, ok := got["casino_dr_pitr_mode,mode="+m]; !ok || v != want {
				t.Errorf("PITR %q: casino_dr_pitr_mode{mode=%q} = %v (present %v), want %v", mode, m, v, ok, want)
			}
		}
		if got["casino_dr_readiness_up"] != 1 {
			t.Errorf("PITR %q: readiness not up on an empty database", mode)
		}
	}
}
