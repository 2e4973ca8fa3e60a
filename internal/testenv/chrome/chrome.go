// Package chrome drives the web console in Debian's headless chromium for tests
// (github.com/chromedp/chromedp): open a hash route and wait until it rendered, click, type,
// poll a JavaScript condition with a deadline, let downloads land in a directory. Every failure
// takes a screenshot into the test's artifacts directory first.
package chrome

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"

	"github.com/omsdev/oms/internal/testenv"
)

// ChromiumPath finds Debian's chromium (installed by scripts/install-deps.sh for `make test`);
// without it the test is skipped, or fails where testenv requires every dependency.
func ChromiumPath(t testing.TB) string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testenv.SkipOrFail(t, "chromium is not installed (OMS_DEPLOY_DEPS=1 scripts/install-deps.sh installs it; make test does)")
	return ""
}

// ArtifactsDir is where screenshots go: $OMS_ARTIFACTS/<test> or the test's temp dir.
func ArtifactsDir(t testing.TB) string {
	dir := filepath.Join(t.TempDir(), "artifacts")
	if a := os.Getenv("OMS_ARTIFACTS"); a != "" {
		dir = filepath.Join(a, t.Name())
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Page is one browser tab of the console at Base.
type Page struct {
	T     testing.TB
	Ctx   context.Context
	Base  string
	Shots string
}

// New starts a headless chromium with a fresh profile (stopped by the test's cleanup) and opens
// base.
func New(t testing.TB, base string) *Page {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ChromiumPath(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1360, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 8*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelTab(); cancelAlloc() })
	p := &Page{T: t, Ctx: ctx, Base: base, Shots: ArtifactsDir(t)}
	p.Do("open the console", chromedp.Navigate(base+"/"))
	return p
}

// Do runs chromedp actions; a failure screenshots and fails the test.
func (p *Page) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.T.Helper()
	if err := chromedp.Do(p.Ctx, actions...); err != nil {
		p.Screenshot("failed-" + fileSafe(what))
		p.T.Fatalf("%s: %v", what, err)
	}
}

// Eval evaluates js (awaiting a promise) in the page.
func Eval[T any](p *Page, js string) T {
	p.T.Helper()
	v, err := chromedp.Run(p.Ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		p.T.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// Text is the text of the element matching css ("" when absent).
func (p *Page) Text(css string) string {
	p.T.Helper()
	sel, _ := json.Marshal(css)
	return Eval[string](p, fmt.Sprintf(`(document.querySelector(%s) || {}).textContent || ""`, sel))
}

// WaitJS polls a JavaScript condition until it is true, for at most d.
func (p *Page) WaitJS(d time.Duration, what, js string) {
	p.T.Helper()
	deadline := time.Now().Add(d)
	for {
		if Eval[bool](p, js) {
			return
		}
		if time.Now().After(deadline) {
			p.Screenshot("timeout-" + fileSafe(what))
			p.T.Fatalf("timed out after %s waiting for %s (%s); page text: %.2500s", d, what, js, p.Text("main"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// WaitText waits until the element matching css contains want.
func (p *Page) WaitText(d time.Duration, css, want string) {
	p.T.Helper()
	sel, _ := json.Marshal(css)
	w, _ := json.Marshal(want)
	p.WaitJS(d, css+" shows "+want, fmt.Sprintf(`((document.querySelector(%s) || {}).textContent || "").includes(%s)`, sel, w))
}

// Open shows a page by its hash route and waits until it rendered; it returns the render time
// in milliseconds.
func (p *Page) Open(route string) float64 {
	p.T.Helper()
	name := strings.SplitN(route, "/", 2)[0]
	r, _ := json.Marshal(route)
	n, _ := json.Marshal(name)
	Eval[bool](p, fmt.Sprintf(`delete window.omsRenderTimes[%s]; location.hash = '#/' + %s; true`, n, r))
	p.WaitJS(30*time.Second, "page "+route, fmt.Sprintf(`document.body.dataset.page === %s && window.omsRenderTimes[%s] !== undefined`, n, n))
	return Eval[float64](p, fmt.Sprintf(`window.omsRenderTimes[%s]`, n))
}

// Screenshot saves the page as console-<name>.png in the artifacts directory.
func (p *Page) Screenshot(name string) []byte {
	buf, err := chromedp.Run(p.Ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.T.Logf("screenshot %s: %v", name, err)
		return nil
	}
	if err := os.WriteFile(filepath.Join(p.Shots, "console-"+name+".png"), buf, 0o644); err != nil {
		p.T.Fatal(err)
	}
	return buf
}

// Fill clears an input and types value into it.
func (p *Page) Fill(css, value string) {
	p.T.Helper()
	sel, _ := json.Marshal(css)
	if !Eval[bool](p, fmt.Sprintf(`(() => { const el = document.querySelector(%s); if (!el) return false; el.value = ''; return true; })()`, sel)) {
		p.Screenshot("missing-input")
		p.T.Fatalf("no input %s on the page: %.1500s", css, p.Text("main"))
	}
	p.Do("type into "+css, chromedp.SendKeys(chromedp.CSS(css), value))
}

// Click clicks css; the pages re-render every few seconds, so a node replaced between finding
// and clicking it is looked up again.
func (p *Page) Click(css string) {
	p.T.Helper()
	for attempt := 1; ; attempt++ {
		err := chromedp.Do(p.Ctx, chromedp.Click(chromedp.CSS(css)))
		if err == nil {
			return
		}
		if attempt == 5 || !strings.Contains(err.Error(), "Could not find node with given id") {
			p.Screenshot("failed-click")
			p.T.Fatalf("click %s: %v", css, err)
		}
	}
}

// Select chooses value in the select matching css, as a user does (a change event follows).
func (p *Page) Select(css, value string) {
	p.T.Helper()
	sel, _ := json.Marshal(css)
	v, _ := json.Marshal(value)
	if !Eval[bool](p, fmt.Sprintf(`(() => { const el = document.querySelector(%s); if (!el || ![...el.options].some((o) => o.value === %s)) return false;
		el.value = %s; el.dispatchEvent(new Event('change')); return true; })()`, sel, v, v)) {
		p.Screenshot("missing-option")
		p.T.Fatalf("no option %s in %s: %.1500s", value, css, p.Text("main"))
	}
}

// Login logs in through the login form.
func (p *Page) Login(user, pw string) {
	p.T.Helper()
	p.WaitJS(30*time.Second, "login form", `!!document.querySelector('#login-user')`)
	p.Fill("#login-user", user)
	p.Fill("#login-password", pw)
	p.Click("#login-submit")
	p.WaitJS(30*time.Second, "logged in as "+user, `!document.getElementById('top').hidden && document.body.dataset.page !== undefined`)
}

// AllowDownloads makes the browser save downloads into dir.
func (p *Page) AllowDownloads(dir string) {
	p.T.Helper()
	p.Do("allow downloads", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := cdp.Call(ctx, chromedp.FromContext(ctx).Browser, cdpbrowser.SetDownloadBehavior,
			cdpbrowser.SetDownloadBehaviorParams{Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir})
		return err
	}))
}

// WaitFile waits until path exists with content and returns it.
func (p *Page) WaitFile(d time.Duration, path string) []byte {
	p.T.Helper()
	deadline := time.Now().Add(d)
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return b
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(filepath.Dir(path))
			p.Screenshot("timeout-download")
			p.T.Fatalf("no %s after %s (its dir has %v)", path, d, entries)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// fileSafe makes a step's description usable as a screenshot file name.
func fileSafe(what string) string { return strings.NewReplacer(" ", "-", "/", "-").Replace(what) }
