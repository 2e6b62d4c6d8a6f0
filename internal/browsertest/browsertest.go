// Package browsertest runs Debian's Chromium headless for the admin UI's
// browser tests, through chromedp: it finds the browser (failing under
// CI=true rather than skipping), gives each user an isolated browser context,
// records every request a tab makes, and saves screenshots into a folder the
// test log names.
package browsertest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Path returns the Chromium to run: $CASINO_CHROMIUM, else chromium on the
// PATH. When there is none the test is skipped, except under CI=true, where
// it fails: CI must never pass by skipping the browser.
// scripts/ci/chromium.sh installs Debian's package.
func Path(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CASINO_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
		t.Fatalf("CASINO_CHROMIUM=%s does not exist", p)
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "chromium not found: install it with 'bash scripts/ci/chromium.sh' (Debian's chromium) or set CASINO_CHROMIUM"
	if ci := os.Getenv("CI"); ci == "true" || ci == "1" {
		t.Fatal(msg + " (CI=true: a browser test must not be skipped)")
	}
	t.Skip(msg)
	return ""
}

// Browser is one headless Chromium process, closed when the test ends.
type Browser struct {
	ctx context.Context
}

// Start launches Chromium with a fresh profile; extra options are appended
// (for example chromedp.IgnoreCertErrors for a test TLS server).
func Start(t testing.TB, extra ...chromedp.ExecAllocatorOption) *Browser {
	t.Helper()
	path := Path(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,AutofillServerCommunication"),
		chromedp.WindowSize(1280, 900),
	)
	opts = append(opts, extra...)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium %s: %v", path, err)
	}
	return &Browser{ctx: ctx}
}

// Tab is a tab in its own browser context (its own cookies), with every
// request it makes recorded.
type Tab struct {
	Ctx context.Context
	mu  sync.Mutex
	req []string
}

// NewTab opens a tab in a new, isolated browser context.
func (b *Browser) NewTab(t testing.TB) *Tab {
	t.Helper()
	tab := &Tab{}
	ctx, cancel := chromedp.NewContext(b.ctx,
		chromedp.WithNewBrowserContext(),
		chromedp.WithListener(func(ev any) {
			if e, ok := ev.(*network.EventRequestWillBeSent); ok {
				tab.mu.Lock()
				tab.req = append(tab.req, e.Request.URL)
				tab.mu.Unlock()
			}
		}),
	)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	tab.Ctx = ctx
	return tab
}

// Requests returns the URLs of every request the tab made so far.
func (tab *Tab) Requests() []string {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	return append([]string(nil), tab.req...)
}

// AssertSameHost fails the test for every request the tab made to anything
// but base's scheme and host:port, and fails it when there were none at all. data: URLs
// never leave the browser (Chromium's own form controls use them, such as the
// calendar icon of a date input), so they are counted but allowed.
func (tab *Tab) AssertSameHost(t testing.TB, base string) {
	t.Helper()
	b, err := url.Parse(base)
	if err != nil || b.Host == "" {
		t.Fatalf("AssertSameHost: base %q is not a URL", base)
	}
	host := b.Host
	reqs := tab.Requests()
	if len(reqs) == 0 {
		t.Errorf("the browser recorded no requests")
	}
	network, inline := 0, 0
	for _, r := range reqs {
		if strings.HasPrefix(r, "data:") {
			inline++
			continue
		}
		network++
		u, err := url.Parse(r)
		if err != nil || u.Scheme != b.Scheme || u.Host != host {
			t.Errorf("the browser requested %s, outside the serving host %s", r, host)
		}
	}
	t.Logf("browser requests: %d over the network, all checked against %s; %d data: URLs (never leave the browser)", network, host, inline)
}

// Do runs actions in the tab with a deadline, failing the test on error.
func (tab *Tab) Do(t testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.Ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		loc, _ := chromedp.Run(tab.Ctx, chromedp.Location())
		t.Fatalf("%s: %v (page %s)", what, err, loc)
	}
}

// Text returns the text of the first element matching the CSS selector.
func (tab *Tab) Text(t testing.TB, css string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.Ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		loc, _ := chromedp.Run(tab.Ctx, chromedp.Location())
		t.Fatalf("text of %s: %v (page %s)", css, err, loc)
	}
	return strings.TrimSpace(s)
}

// Eval evaluates a JavaScript expression in the page.
func Eval[T any](t testing.TB, tab *Tab, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.Ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// Cookies returns the cookies the browser holds for rawURL.
func (tab *Tab) Cookies(t testing.TB, rawURL string) []*network.Cookie {
	t.Helper()
	res, err := chromedp.Call(tab.Ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{rawURL}})
	if err != nil {
		t.Fatalf("get cookies: %v", err)
	}
	return res.Cookies
}

// Shots is a folder of screenshots.
type Shots struct {
	Dir string
	n   int
}

// NewShots makes the screenshot folder of the test: testdata/screenshots/<test>
// at the module root (git-ignored), emptied first, and names it in the log.
func NewShots(t testing.TB) *Shots {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		root = t.TempDir()
	}
	name := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_")
	dir := filepath.Join(root, "testdata", "screenshots", name)
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots: %s", dir)
	return &Shots{Dir: dir}
}

// Take saves a full-page PNG of the tab as NN-name.png.
func (s *Shots) Take(t testing.TB, tab *Tab, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.Ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	s.n++
	p := filepath.Join(s.Dir, fmt.Sprintf("%02d-%s.png", s.n, name))
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
