package drill

import (
	"strings"
	"testing"

	"casino/sqlstore"
)

// TestPGScratchNamesDistinctInOneSecond: two drills of one database started
// in the same second (a retry after a killed drill, two CronJob pods) get
// two scratch databases. When the name was <db>__drill_<yymmddhhmmss> the
// second drill found the first's database and failed "already exists", or
// waited on its restore lock. Each name stays within the 36 bytes the
// restore's own scratch names keep, and under the leftover prefix.
func TestPGScratchNamesDistinctInOneSecond(t *testing.T) {
	for _, db := range []string{"casino", "casino_production_eu_west_1"} {
		prod := sqlstore.Target{Dialect: sqlstore.Postgres, URL: "postgres://casino@db.example:5432/" + db + "?sslmode=disable"}
		seen := map[string]bool{}
		for i := 0; i < 2; i++ {
			sc, err := newScratch(prod, "", "", NewID()[:12])
			if err != nil {
				t.Fatal(err)
			}
			name := sc.Name()
			if seen[name] {
				t.Fatalf("two drills of %s got the same scratch database %s", db, name)
			}
			seen[name] = true
			if len(name) > 36 || !strings.HasPrefix(name, pgLeftoverPrefix(db)) {
				t.Errorf("scratch %q: want at most 36 bytes under the leftover prefix %q", name, pgLeftoverPrefix(db))
			}
			if got := pgDBName(sc.URL()); got != name {
				t.Errorf("scratch URL names database %q, want %q", got, name)
			}
		}
	}
}
