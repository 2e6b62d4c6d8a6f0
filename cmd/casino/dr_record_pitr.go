package main

import (
	"context"
	"fmt"
	"time"

	"casino"
	"casino/dr"
	"casino/sqlstore"
)

const drRecordPITRUsage = `dr record-pitr --tool cnpg|pgbackrest --target-time RFC3339 --reached-at RFC3339 --database-url URL [--source NAME] [--recovery-end LINE]

Records a point-in-time recovery run outside casino (a CloudNativePG Cluster
with bootstrap.recovery and recoveryTarget.targetTime, or pgBackRest
restore --type=time) as the incident's typed restore: dr close measures the
RPO as impact_start_utc minus --reached-at (the last recovered commit, from
the server log's "last completed transaction was at log time" line), and
dr validate expects the service to answer the recovered database's
restore_id and row counts, read now from --database-url.`

func runDRRecordPITR(ctx context.Context, env *Env, args []string) error {
	var f drFlags
	fs := newFlagSet(env, "dr record-pitr", drRecordPITRUsage)
	bindDRFlags(fs, env, &f)
	tool := fs.String("tool", "", "cnpg or pgbackrest")
	source := fs.String("source", "", "what was recovered from: the Cluster, stanza or object store")
	target := fs.String("target-time", "", "the recovery target time, RFC 3339")
	reached := fs.String("reached-at", "", "the last recovered commit, RFC 3339 (server log)")
	end := fs.String("recovery-end", "", "the server's recovery end line, as logged")
	dbURL := fs.String("database-url", "", "the recovered database (postgres://...)")
	if err := parseFlags(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("dr record-pitr: unexpected argument %q", fs.Arg(0))
	}
	var x dr.ExternalPITR
	x.Tool, x.Source, x.RecoveryEnd = *tool, *source, *end
	for _, p := range []struct {
		name string
		v    string
		t    *time.Time
	}{{"--target-time", *target, &x.Target}, {"--reached-at", *reached, &x.ReachedAt}} {
		if p.v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, p.v)
		if err != nil {
			return usageErrorf("dr record-pitr: %s: %v", p.name, err)
		}
		*p.t = t
	}
	if err := x.Check(time.Now()); err != nil {
		return usageErrorf("dr record-pitr: %v", err)
	}
	if *dbURL == "" {
		return usageErrorf("dr record-pitr: --database-url names the recovered database: its restore_id and row counts become what validate expects")
	}
	red := newRedactor(env, *dbURL)
	in, err := openIncident(&f, red, true)
	if err != nil {
		return err
	}
	db, err := sqlstore.Open(ctx, *dbURL)
	if err != nil {
		return fmt.Errorf("dr record-pitr: open the recovered database: %s", red.String(err.Error()))
	}
	defer db.Close()
	x.Data, err = db.DataSummary(casino.NewBreakGlassContext(ctx))
	if err != nil {
		return fmt.Errorf("dr record-pitr: read the recovered database: %s", red.String(err.Error()))
	}
	rec, err := x.RestoreRecord("record-pitr", time.Now())
	if err != nil {
		return usageErrorf("dr record-pitr: %v", err)
	}
	if err := in.Append(dr.TypeRestore, rec); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "recorded %s point-in-time recovery: target %s, reached %s\n  recovered database: restore_id %q, %d tables counted\nnext: point the service at it, then casino dr validate\n",
		x.Tool, x.Target.UTC().Format(time.RFC3339Nano), x.ReachedAt.UTC().Format(time.RFC3339Nano), x.Data.RestoreID, len(x.Data.RowCounts))
	return nil
}
