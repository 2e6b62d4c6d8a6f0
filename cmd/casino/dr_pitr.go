package main

import (
	"context"
	"flag"
	"slices"
	"strings"
	"time"

	"casino/dr"
	"casino/pitr"
)

// drPITRFlags are dr declare's point-in-time recovery settings: which
// configuration is in force decides the targets dr close judges against.
type drPITRFlags struct{ mode, replica, dir string }

func bindDRPITRFlags(fs *flag.FlagSet, env *Env, p *drPITRFlags) {
	stringSetting(fs, env, &p.mode, "pitr", "CASINO_PITR", dr.PITROff, "point-in-time recovery in force: off, litestream (SQLite) or wal (PostgreSQL, casino pitr stream); chooses the targets dr close uses")
	stringSetting(fs, env, &p.replica, "pitr-replica", "CASINO_PITR_REPLICA", "", "Litestream replica (with --pitr litestream), recorded with its window")
	stringSetting(fs, env, &p.dir, "pitr-dir", "CASINO_PITR_DIR", "pitr", "WAL stream folder (with --pitr wal), recorded with its window")
}

// config checks the mode and reads the window as evidence; a window that
// cannot be read is recorded, not refused: the configuration in force is
// what the deployment promised, and the incident may be why it is broken.
func (p *drPITRFlags) config(ctx context.Context, fs *flag.FlagSet, env *Env, red *dr.Redactor) (*dr.PITRConfig, error) {
	if p.mode == "" {
		p.mode = dr.PITROff
	}
	from := settingName(fs, "pitr", "CASINO_PITR")
	if !slices.Contains(dr.PITRModes, p.mode) {
		return nil, usageErrorf("dr declare: %s %q: want one of %s", from, p.mode, strings.Join(dr.PITRModes, ", "))
	}
	c := &dr.PITRConfig{Mode: p.mode, From: from}
	var replica pitr.Replica
	var dir string
	switch p.mode {
	case dr.PITROff:
		return c, nil
	case dr.PITRLitestream:
		if p.replica == "" {
			return nil, usageErrorf("dr declare: --pitr litestream needs --pitr-replica (or CASINO_PITR_REPLICA)")
		}
		replica, c.Source = pitr.Replica{URL: p.replica, Getenv: env.Getenv}, red.String(p.replica)
	case dr.PITRWAL:
		dir, c.Source = p.dir, p.dir
	}
	w, err := pitr.ObservedWindow(ctx, replica, dir, time.Now())
	if w != nil {
		c.Window = &dr.PITRWindow{Start: w.Start, End: w.End}
	}
	if err != nil {
		c.WindowError = red.String(err.Error())
	}
	return c, nil
}
