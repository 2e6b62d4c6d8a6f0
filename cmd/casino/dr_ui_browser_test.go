package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"casino"
	"casino/dr"
	"casino/internal/browsertest"
	"casino/sqlstore"
)

// TestDRPageBrowser renders /dr in Chromium from real drill rows (written
// through the drills store, as casino dr drill writes them), a real backup
// and a real proof folder: one SVG point per drill in each chart, both
// target lines, the last drill's phases, proof link and journal head, the
// open incident; screenshots at laptop and phone width. A tenant admin gets
// neither the link nor the page.
func TestDRPageBrowser(t *testing.T) {
	b := browsertest.Start(t)
	dir := t.TempDir()
	proofs, backups := filepath.Join(dir, "proofs"), filepath.Join(dir, "backups")
	if err := os.MkdirAll(proofs, 0o700); err != nil {
		t.Fatal(err)
	}
	env := uiEnv(t)
	env["CASINO_DR_PROOF_DIR"], env["CASINO_BACKUP_DIR"] = proofs, backups
	srv := startServe(t, env, true)
	seedTenants(t, srv.URL)
	if out, errOut, code := runCLI(t, env, "", "backup", "create", "--dir", backups); code != 0 {
		t.Fatalf("backup create: exit %d\n%s\n%s", code, out, errOut)
	}

	db, err := sqlstore.Open(context.Background(), env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// 12 weekly drills: mostly successful, one failed, one timed out, one
	// slower than the 60m RTO, one on a backup older than the 1h RPO.
	now := time.Now().UTC().Truncate(time.Second)
	var ids []string
	for i := range 12 {
		id := fmt.Sprintf("%032x", i+1)
		verdict, recovery, age := casino.DrillSuccessful, 300+float64(i)*40, 600+float64(i%4)*500
		switch i {
		case 4:
			verdict = casino.DrillFailed
		case 7:
			verdict, recovery = casino.DrillTimedOut, 4200
		case 9:
			recovery = 3900
		case 10:
			age = 5400
		}
		recordTestDrill(t, db, id, now.Add(-time.Duration(11-i)*7*24*time.Hour-time.Hour), verdict, recovery, age)
		ids = append(ids, id)
	}
	last := ids[len(ids)-1]
	if err := os.WriteFile(filepath.Join(proofs, last+".md"), []byte("# DRILL PROOF "+last+"\n\nEvery phase passed.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := dr.Declare(proofs, dr.Source{Name: "t", Text: []byte("# t\n")}, dr.Declaration{Severity: "SEV-2", IC: "ic", Comms: "cm", IncidentStart: now.Add(-30 * time.Minute), ImpactStart: now.Add(-time.Hour)}, &dr.Redactor{}, now); err != nil {
		t.Fatal(err)
	}

	shots := browsertest.NewShots(t)
	tab := b.NewTab(t)
	tab.Do(t, "log in as the owner", chromedp.Navigate(srv.URL+"/login"),
		chromedp.SendKeys(chromedp.ID("email"), "admin@casino.com"),
		chromedp.SendKeys(chromedp.ID("password"), uiOwnerPassword),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("tenants")))
	tab.Do(t, "open DR", chromedp.EmulateViewport(1280, 900), chromedp.Click(chromedp.ID("nav-dr")), chromedp.WaitVisible(chromedp.ID("dr")))

	for _, chart := range []string{"recovery", "age"} {
		got := browsertest.Eval[[]string](t, tab, `[...document.querySelectorAll('svg[data-chart="`+chart+`"] circle.pt')].map(c => c.dataset.drill)`)
		if !slices.Equal(got, ids) {
			t.Errorf("chart %s: points %v, want one per drill, oldest first: %v", chart, got, ids)
		}
	}
	for chart, target := range map[string]string{"recovery": "rto", "age": "rpo"} {
		if n := browsertest.Eval[int](t, tab, `document.querySelectorAll('svg[data-chart="`+chart+`"] line.target[data-target="`+target+`"]').length`); n != 1 {
			t.Errorf("chart %s: %d %s target lines, want 1", chart, n, target)
		}
	}
	// The points sit where their values say: the drill over the RTO is
	// above the RTO line, the others below it.
	above := browsertest.Eval[[]string](t, tab, `(() => { const l = document.querySelector('svg[data-chart="recovery"] line.target'); const y = +l.getAttribute('y1');
		return [...document.querySelectorAll('svg[data-chart="recovery"] circle.pt')].filter(c => +c.getAttribute('cy') < y).map(c => c.dataset.drill) })()`)
	if want := []string{ids[7], ids[9]}; !slices.Equal(above, want) {
		t.Errorf("points above the RTO line: %v, want %v", above, want)
	}
	if n := browsertest.Eval[int](t, tab, `document.querySelectorAll('svg[data-chart="recovery"] circle.pt.fail').length`); n != 2 {
		t.Errorf("%d points marked not successful, want 2 (FAILED, TIMED_OUT)", n)
	}
	if got := tab.Text(t, "#last-drill-verdict"); got != "SUCCESSFUL" {
		t.Errorf("last drill verdict %q", got)
	}
	phases := browsertest.Eval[[]string](t, tab, `[...document.querySelectorAll('#phases tr[data-phase]')].map(r => r.dataset.phase)`)
	if !slices.Equal(phases, []string{"select", "verify", "restore", "boot", "validate"}) {
		t.Errorf("phases %v", phases)
	}
	if got := tab.Text(t, "#journal-head"); got != "sha256:"+strings.Repeat("0f", 32) {
		t.Errorf("journal head %q", got)
	}
	if got := tab.Text(t, "#compared"); got != "local" {
		t.Errorf("compared %q, want local (serve has no remote settings)", got)
	}
	if got := tab.Text(t, "#rpo-status"); !strings.Contains(got, "within the RPO of 1h") || !strings.Contains(got, "no remote settings") {
		t.Errorf("RPO status %q: want the fresh local backup within the RPO, saying it is the local one", got)
	}
	if got := browsertest.Eval[[]string](t, tab, `[...document.querySelectorAll('#incidents li[data-incident]')].map(l => l.textContent)`); len(got) != 1 || !strings.Contains(got[0], "SEV-2") {
		t.Errorf("open incidents %v, want the SEV-2", got)
	}
	if n := browsertest.Eval[int](t, tab, `document.querySelectorAll('script, link[href^="http"], img[src^="http"]').length`); n != 0 {
		t.Errorf("the page loads %d scripts or external assets", n)
	}
	shots.Take(t, tab, "dr-laptop")

	// Phone width: no sideways scroll, the charts fit and keep their points.
	tab.Do(t, "phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(srv.URL+"/dr"), chromedp.WaitVisible(chromedp.ID("dr")))
	if w := browsertest.Eval[int](t, tab, `document.documentElement.scrollWidth`); w > 392 {
		t.Errorf("at 390px the page is %dpx wide", w)
	}
	if w := browsertest.Eval[float64](t, tab, `document.querySelector('svg[data-chart="recovery"]').getBoundingClientRect().width`); w < 300 || w > 390 {
		t.Errorf("at 390px the chart is %.0fpx wide, want it to fill the column", w)
	}
	// Chart text renders at a readable size: at least 10 CSS pixels.
	if h := browsertest.Eval[float64](t, tab, `Math.min(...[...document.querySelectorAll('svg[data-chart="recovery"] text')].map(t => t.getBoundingClientRect().height))`); h < 10 {
		t.Errorf("chart text is %.1fpx tall at phone width", h)
	}
	shots.Take(t, tab, "dr-phone")
	tab.Do(t, "laptop width", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(srv.URL+"/dr"), chromedp.WaitVisible(chromedp.ID("proof-link")))

	// The proof link shows the proof, as plain text.
	tab.Do(t, "open the proof", chromedp.Click(chromedp.ID("proof-link")), chromedp.WaitVisible(chromedp.CSS("pre")))
	if got := tab.Text(t, "pre"); !strings.HasPrefix(got, "# DRILL PROOF "+last) {
		t.Errorf("proof page %q", got)
	}
	shots.Take(t, tab, "dr-proof")
	tab.AssertSameHost(t, srv.URL)

	// A tenant admin: no DR link, and /dr is refused.
	admin := b.NewTab(t)
	admin.Do(t, "log in as a tenant admin", chromedp.Navigate(srv.URL+"/login"),
		chromedp.SendKeys(chromedp.ID("email"), uiAdminEmail),
		chromedp.SendKeys(chromedp.ID("password"), uiAdminPassword),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("tenants")))
	if n := browsertest.Eval[int](t, admin, `document.querySelectorAll('#nav-dr').length`); n != 0 {
		t.Errorf("a tenant admin sees the DR link")
	}
	admin.Do(t, "open /dr", chromedp.Navigate(srv.URL+"/dr"), chromedp.WaitVisible(chromedp.ID("status-code")))
	if got := admin.Text(t, "#status-code"); got != "403" {
		t.Errorf("tenant admin at /dr: %s, want 403", got)
	}
	admin.Do(t, "open a proof", chromedp.Navigate(srv.URL+"/dr/drills/"+last+"/proof"), chromedp.WaitVisible(chromedp.ID("status-code")))
	if got := admin.Text(t, "#status-code"); got != "403" {
		t.Errorf("tenant admin at a proof: %s, want 403", got)
	}
	// A stranger is sent to the login page, the proof unseen.
	resp, err := noRedirect.Get(srv.URL + "/dr/drills/" + last + "/proof")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
		t.Errorf("stranger at a proof: %d %q, want 303 to the login page", resp.StatusCode, loc)
	}
}
