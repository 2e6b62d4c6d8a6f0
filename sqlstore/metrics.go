package sqlstore

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Collector exports the pool's statistics (go_sql_* with db_name=name), the
// same series client_golang's DBStats collector gives any *sql.DB.
func (db *DB) Collector(name string) prometheus.Collector {
	return collectors.NewDBStatsCollector(db.sql, name)
}
