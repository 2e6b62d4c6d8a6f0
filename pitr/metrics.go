package pitr

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector exposes a stream folder's status as Prometheus metrics, read from
// the folder at each scrape:
//
//	casino_pitr_wal_lag_seconds                      now minus the last instant the folder held every commit
//	casino_pitr_window_start_timestamp_seconds       oldest instant a recovery can reach (0: no window)
//	casino_pitr_window_end_timestamp_seconds         newest instant a recovery can reach (0: no window)
//	casino_pitr_last_base_backup_timestamp_seconds   when the newest base backup finished (0: none)
//	casino_pitr_slot_retained_bytes                  WAL the replication slot keeps on the server
//	casino_pitr_receiving                            1 while pg_receivewal runs (as of the last fresh heartbeat)
type Collector struct {
	dir                                   string
	now                                   func() time.Time
	lag, start, end, base, retained, recv *prometheus.Desc
}

// NewCollector returns a collector for the stream folder dir.
func NewCollector(dir string) *Collector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return &Collector{
		dir: dir, now: time.Now,
		lag:      d("casino_pitr_wal_lag_seconds", "Seconds since the PITR stream folder last held every committed transaction (-1: never)."),
		start:    d("casino_pitr_window_start_timestamp_seconds", "Oldest instant a point-in-time recovery can reach (0: no window)."),
		end:      d("casino_pitr_window_end_timestamp_seconds", "Newest instant a point-in-time recovery can reach (0: no window)."),
		base:     d("casino_pitr_last_base_backup_timestamp_seconds", "When the newest PITR base backup finished (0: none)."),
		retained: d("casino_pitr_slot_retained_bytes", "Bytes of WAL the PITR replication slot keeps on the server."),
		recv:     d("casino_pitr_receiving", "1 while the stream reports pg_receivewal running."),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.lag, c.start, c.end, c.base, c.retained, c.recv} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st, err := ReadStatus(c.dir, c.now())
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.lag, err)
		return
	}
	g := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	unix := func(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
	g(c.lag, st.LagSeconds)
	var ws, we, lb float64
	if st.Window != nil {
		ws, we = unix(st.Window.Start), unix(st.Window.End)
	}
	if st.NewestBase != nil {
		lb = unix(st.NewestBase.FinishedAt)
	}
	g(c.start, ws)
	g(c.end, we)
	g(c.base, lb)
	g(c.retained, float64(st.RetainedBytes))
	recv := 0.0
	if st.Receiving && st.Fresh {
		recv = 1
	}
	g(c.recv, recv)
}

// LitestreamLagMetric is the Litestream replica's lag as `casino serve`
// exposes it (CASINO_PITR=litestream). It is not casino_pitr_wal_lag_seconds,
// which is a PostgreSQL stream folder's and has alerts of its own.
const LitestreamLagMetric = "casino_pitr_litestream_lag_seconds"

// NewLitestreamCollector exposes l.LagSeconds, read at each scrape, as
// casino_pitr_litestream_lag_seconds.
func NewLitestreamCollector(l *Litestream) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: LitestreamLagMetric,
		Help: "Seconds since the Litestream replica last confirmed it holds every change of the SQLite database (-1: never)."},
		func() float64 { return l.LagSeconds(time.Now()) })
}
