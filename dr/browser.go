package dr

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// checkBrowser runs the UI smoke in headless Chromium: log in through the
// form, see the tenants table, open Settings → Versions, log out and land
// back on a login form.
func checkBrowser(ctx context.Context, v *Validator) (string, string) {
	if !v.Browser {
		return Skip, "not asked for (--browser)"
	}
	if s, d, ok := needURL(v); !ok {
		return s, d
	}
	if v.Email == "" || v.Password == "" {
		return Fail, "no credentials: pass --email and --password-env VAR"
	}
	if _, err := os.Stat(v.ChromiumPath); err != nil {
		return Fail, fmt.Sprintf("no Chromium at %s (set CASINO_CHROMIUM): %v", v.ChromiumPath, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(v.ChromiumPath),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.WithoutCancel(ctx), opts...)
	defer cancelA()
	// The log checks leave out validate's own requests by the ids the
	// server echoed: the browser's too, page loads, redirects and assets.
	var mu sync.Mutex
	var ids []string
	noteIDs := func(h network.Headers) {
		for k, val := range h {
			if s, ok := val.(string); ok && s != "" && strings.EqualFold(k, "X-Request-Id") {
				mu.Lock()
				ids = append(ids, s)
				mu.Unlock()
			}
		}
	}
	bctx, cancelB := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		switch e := ev.(type) {
		case *network.EventResponseReceived:
			if e.Response != nil {
				noteIDs(e.Response.Headers)
			}
		case *network.EventRequestWillBeSent:
			if e.RedirectResponse != nil {
				noteIDs(e.RedirectResponse.Headers)
			}
		}
	}))
	defer cancelB()
	defer func() {
		mu.Lock()
		v.sent = append(v.sent, ids...)
		mu.Unlock()
	}()
	// The first Run starts the browser; it must not carry the step timeout.
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		return Fail, "start Chromium: " + err.Error()
	}
	base := strings.TrimRight(v.URL, "/")
	var steps []string
	step := func(name string, d time.Duration, acts ...chromedp.Action[chromedp.Void]) error {
		sctx, cancel := context.WithTimeout(bctx, d)
		defer cancel()
		if err := chromedp.Do(sctx, acts...); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		steps = append(steps, name+" ok")
		return nil
	}
	fail := func(err error) (string, string) {
		loc, _ := chromedp.Run(bctx, chromedp.Location())
		return Fail, strings.Join(append(steps, "FAIL "+err.Error()+" (at "+loc+")"), "; ")
	}
	if err := step("login", 20*time.Second,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="password"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="email"]`), v.Email),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), v.Password),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
	); err != nil {
		return fail(err)
	}
	// After the login post the page is the tenants list, or the login form
	// again with an error: poll for either, so a refused login fails fast.
	landed := ""
	deadline := time.Now().Add(15 * time.Second)
	for landed == "" && time.Now().Before(deadline) {
		landed, _ = chromedp.Run(bctx, chromedp.Evaluate[string](`document.readyState === "complete" ? (document.querySelector("#tenants") ? "tenants" : (document.querySelector("#login-error, [role=alert]") ? "error: " + document.querySelector("#login-error, [role=alert]").textContent.trim() : "")) : ""`))
		if landed == "" {
			time.Sleep(100 * time.Millisecond)
		}
	}
	switch {
	case landed == "tenants":
		steps = append(steps, "tenants ok")
	case landed != "":
		return fail(fmt.Errorf("tenants: login refused (%s)", strings.TrimPrefix(landed, "error: ")))
	default:
		if err := step("tenants", 10*time.Second, chromedp.Navigate(base+"/tenants"), chromedp.WaitVisible(chromedp.CSS(`#tenants`))); err != nil {
			return fail(err)
		}
	}
	if err := step("versions", 15*time.Second, chromedp.Navigate(base+"/settings/versions"), chromedp.WaitVisible(chromedp.CSS(`#versions`))); err != nil {
		return fail(err)
	}
	if err := step("logout", 15*time.Second,
		chromedp.Submit(chromedp.CSS(`#logout`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name="password"]`)),
	); err != nil {
		return fail(err)
	}
	return Pass, strings.Join(steps, "; ")
}
