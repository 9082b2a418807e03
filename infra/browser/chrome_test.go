package browser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/livingprofile/livingprofile/infra/localstack"
)

// defaultChromium is Debian's chromium package; CHROMIUM overrides it.
const defaultChromium = "/usr/bin/chromium"

// actionTimeout bounds one browser step (a navigation, a click and its page load, a query).
const actionTimeout = 30 * time.Second

// chromium returns the browser to drive, or why there is none.
func chromium() (string, error) {
	path := defaultChromium
	if p := os.Getenv("CHROMIUM"); p != "" {
		path = p
	}
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return "", err
	case fi.IsDir() || fi.Mode()&0o111 == 0:
		return "", fmt.Errorf("%s is not an executable", path)
	}
	return path, nil
}

// shared is the one browser process of the package, started on first use.
var shared struct {
	once    sync.Once
	ctx     context.Context // has the browser
	cancels []context.CancelFunc
	dir     string // its fresh --user-data-dir
	err     error
}

// needBrowser returns a context holding the running browser. Without Chromium the test is
// skipped on a developer's machine and fails in CI (CI set) or when CHROMIUM names
// something that is not there.
func needBrowser(t *testing.T) context.Context {
	t.Helper()
	path, err := chromium()
	switch {
	case err == nil:
	case os.Getenv("CHROMIUM") != "":
		t.Fatalf("CHROMIUM=%s: %v", os.Getenv("CHROMIUM"), err)
	case os.Getenv("CI") != "":
		t.Fatalf("no browser in CI: %v (.ci/run installs Debian's chromium)", err)
	default:
		t.Skipf("no browser (%v): install Debian's chromium (apt-get install chromium) or set CHROMIUM to run the browser tests", err)
	}
	shared.once.Do(func() { shared.err = startBrowser(path) })
	if shared.err != nil {
		t.Fatalf("start %s: %v", path, shared.err)
	}
	return shared.ctx
}

func startBrowser(path string) error {
	dir, err := os.MkdirTemp("", "lp-chromium-")
	if err != nil {
		return err
	}
	shared.dir = dir
	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(1280, 900),
	)
	shared.cancels = append(shared.cancels, cancel)
	ctx, cancel := chromedp.NewContext(alloc)
	shared.cancels = append(shared.cancels, cancel)
	shared.ctx = ctx
	// The first Do starts the browser and binds its life to the context it gets, so it
	// gets ctx itself, without a timeout.
	return chromedp.Do(ctx)
}

// closeBrowser ends the browser and removes its profile directory.
func closeBrowser() {
	for _, c := range slices.Backward(shared.cancels) {
		c()
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
}

// artifactsDir is where screenshots go: $ARTIFACTS_DIR, else .artifacts/screenshots at the
// module root.
func artifactsDir(t *testing.T) string {
	dir := os.Getenv("ARTIFACTS_DIR")
	if dir == "" {
		dir = filepath.Join(localstack.RepoRoot(), ".artifacts", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts directory: %v", err)
	}
	return dir
}

// tab is one browser tab in a browser context of its own (its own cookies), with
// JavaScript on or off.
type tab struct {
	t        *testing.T
	ctx      context.Context
	js       bool
	prefix   string // of its screenshot names
	shots    int
	download string // where its downloads land
	axe      *axeReport
	console  *consoleLog
}

// consoleLog keeps what pages logged to the console that a person's browser would flag:
// uncaught exceptions and security messages such as Content-Security-Policy refusals.
type consoleLog struct {
	mu   sync.Mutex
	msgs []string
}

func (c *consoleLog) problems() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.msgs)
}

// newTab opens a tab in a fresh browser context. With js false, the page's scripts are off
// for the whole life of the tab (Emulation.setScriptExecutionDisabled), which the tab
// checks on a page of its own before it returns.
func newTab(t *testing.T, js bool, prefix string, report *axeReport) *tab {
	t.Helper()
	root := needBrowser(t)
	ctx, cancel := chromedp.NewContext(root, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tb := &tab{t: t, ctx: ctx, js: js, prefix: prefix, download: t.TempDir(), axe: report, console: &consoleLog{}}
	// The first Do opens the tab and binds its life to the context it gets: ctx itself.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !js}); err != nil {
		t.Fatalf("switch scripts off: %v", err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if text := m.String(); m.IsException() || strings.Contains(text, "Content Security Policy") || strings.Contains(text, "Refused to") {
				tb.console.mu.Lock()
				tb.console.msgs = append(tb.console.msgs, fmt.Sprintf("%s:%d %s", m.URL, m.Line+1, text))
				tb.console.mu.Unlock()
			}
		}
	}()
	events := true
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: tb.download,
		BrowserContextID: chromedp.FromContext(ctx).BrowserContextID, EventsEnabled: &events}); err != nil {
		t.Fatalf("download behaviour: %v", err)
	}
	// A page whose own script would retitle it: the title tells whether scripts run.
	tb.do(chromedp.Navigate(`data:text/html,<title>static</title><script>document.title="scripted"</script>`))
	want := map[bool]string{true: "scripted", false: "static"}[js]
	if got := tb.title(); got != want {
		t.Fatalf("page scripts with js=%v: title %q, want %q", js, got, want)
	}
	return tb
}

// run runs one action with the step timeout.
func step[T any](tb *tab, a chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	return chromedp.Run(ctx, a)
}

func (tb *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.t.Fatalf("browser: %v (at %s)", err, tb.location())
	}
}

// open navigates to url and returns the HTTP status of the page that loaded (after
// redirects).
func (tb *tab) open(url string) int {
	tb.t.Helper()
	resp, err := step(tb, chromedp.NavigateResponse(url))
	if err != nil {
		tb.t.Fatalf("open %s: %v", url, err)
	}
	return int(resp.Status)
}

// submit clicks a (submit) button or a link, as a person does, waits for the page it leads
// to and returns that page's HTTP status.
func (tb *tab) submit(sel string) int {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		tb.t.Fatalf("click %s on %s: %v", sel, tb.location(), err)
	}
	return int(resp.Status)
}

// click clicks an element that does not navigate (a checkbox).
func (tb *tab) click(sel string) {
	tb.t.Helper()
	tb.do(chromedp.Click(chromedp.CSS(sel)))
}

// typeInto replaces a text field's value by typing, as a person does.
func (tb *tab) typeInto(sel, value string) {
	tb.t.Helper()
	tb.do(chromedp.Clear(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), value))
}

func (tb *tab) text(sel string) string {
	tb.t.Helper()
	s, err := step(tb, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		tb.t.Fatalf("text of %s on %s: %v", sel, tb.location(), err)
	}
	return strings.TrimSpace(s)
}

// eval evaluates an expression through the DevTools protocol; it works with the page's
// scripts off, as DevTools does.
func evalIn[T any](tb *tab, expr string) T {
	tb.t.Helper()
	v, err := step(tb, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// has reports whether the page has an element matching sel, without waiting for one.
func (tb *tab) has(sel string) bool {
	tb.t.Helper()
	q, _ := json.Marshal(sel)
	return evalIn[bool](tb, "document.querySelector("+string(q)+") !== null")
}

func (tb *tab) title() string {
	tb.t.Helper()
	s, err := step(tb, chromedp.Title())
	if err != nil {
		tb.t.Fatalf("title: %v", err)
	}
	return s
}

func (tb *tab) location() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	u, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "?"
	}
	return u
}

func (tb *tab) path() string {
	return strings.TrimPrefix(tb.location(), env.stack.URL)
}

// lang is the page's <html lang>.
func (tb *tab) lang() string { return evalIn[string](tb, "document.documentElement.lang") }

// wantPage fails unless the page is at path (without query or fragment) with heading h1.
func (tb *tab) wantPage(path, h1 string) {
	tb.t.Helper()
	got := tb.path()
	if i := strings.IndexAny(got, "?#"); i >= 0 {
		got = got[:i]
	}
	if got != path {
		tb.t.Fatalf("at %s, want %s", tb.path(), path)
	}
	if h := tb.text("h1"); h != h1 {
		tb.t.Fatalf("%s: heading %q, want %q", path, h, h1)
	}
}

// notice returns the page's status notices, joined.
func (tb *tab) notice() string {
	return evalIn[string](tb, `Array.from(document.querySelectorAll('.notice')).map(n => n.innerText.trim()).join(' | ')`)
}

var unsafeName = regexp.MustCompile(`[^a-z0-9-]+`)

// page records a main page: a full-page PNG screenshot in the artifacts directory and,
// with JavaScript on, an axe-core check of it.
func (tb *tab) page(name string) {
	tb.t.Helper()
	tb.shots++
	file := filepath.Join(artifactsDir(tb.t), fmt.Sprintf("%s-%02d-%s.png", tb.prefix, tb.shots, unsafeName.ReplaceAllString(name, "-")))
	png, err := step(tb, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(file, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	if tb.js {
		tb.checkAccessibility(name)
	}
}

// --------------------------------------------------------------------------- axe-core

// axeSource is node_modules/axe-core/axe.min.js from package.json here (npm ci).
var axeSource = sync.OnceValues(func() (string, error) {
	p := filepath.Join(localstack.RepoRoot(), "infra", "browser", "node_modules", "axe-core", "axe.min.js")
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("%w: run `npm ci` in infra/browser (make test does)", err)
	}
	return string(b), nil
})

// axeViolation is one failed axe rule on a page.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  []any  `json:"target"`
		HTML    string `json:"html"`
		Summary string `json:"failureSummary"`
	} `json:"nodes"`
}

// axeReport collects what axe found on every page of a journey.
type axeReport struct {
	mu      sync.Mutex
	version string
	pages   []string
	minor   []string // moderate and minor violations, reported but allowed
}

// runAxe injects axe-core into the page (once per document) and runs the WCAG 2 A and AA
// rules, returning axe's version and the violations.
func (tb *tab) runAxe() (string, []axeViolation) {
	tb.t.Helper()
	src, err := axeSource()
	if err != nil {
		tb.t.Fatal(err)
	}
	if !evalIn[bool](tb, "typeof window.axe === 'object'") {
		if _, err := step(tb, chromedp.Evaluate[chromedp.Void](src)); err != nil {
			tb.t.Fatalf("inject axe-core: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document, {
		runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}, resultTypes: ['violations']
	}).then(r => JSON.stringify({version: axe.version, violations: r.violations}))`, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("axe.run on %s: %v", tb.path(), err)
	}
	var res struct {
		Version    string         `json:"version"`
		Violations []axeViolation `json:"violations"`
	}
	if err := json.Unmarshal([]byte(raw), &res); err != nil {
		tb.t.Fatalf("axe result: %v: %.300s", err, raw)
	}
	return res.Version, res.Violations
}

// blocking reports whether a violation fails the check: serious or critical impact.
func (v axeViolation) blocking() bool { return v.Impact == "serious" || v.Impact == "critical" }

func (v axeViolation) String() string {
	var nodes []string
	for _, n := range v.Nodes {
		nodes = append(nodes, fmt.Sprintf("    %v %s\n      %s", n.Target, n.HTML, strings.ReplaceAll(n.Summary, "\n", "\n      ")))
	}
	return fmt.Sprintf("[%s] %s: %s\n%s", v.Impact, v.ID, v.Help, strings.Join(nodes, "\n"))
}

// checkAccessibility runs axe on the page; a serious or critical violation fails the test,
// naming the rule, the elements and why. Lesser ones go into the report.
func (tb *tab) checkAccessibility(name string) {
	tb.t.Helper()
	version, violations := tb.runAxe()
	where := tb.prefix + "/" + name + " (" + tb.path() + ")"
	var bad []string
	tb.axe.mu.Lock()
	tb.axe.version = version
	tb.axe.pages = append(tb.axe.pages, where)
	for _, v := range violations {
		if v.blocking() {
			bad = append(bad, where+": "+v.String())
		} else {
			tb.axe.minor = append(tb.axe.minor, where+": "+v.String())
		}
	}
	tb.axe.mu.Unlock()
	if len(bad) > 0 {
		tb.t.Errorf("axe-core %s: %d serious or critical accessibility violations:\n%s", version, len(bad), strings.Join(bad, "\n"))
	}
}

// summary is the report's closing log line.
func (r *axeReport) summary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := fmt.Sprintf("axe-core %s checked %d pages (WCAG 2 A/AA) with no serious or critical violations", r.version, len(r.pages))
	if len(r.minor) > 0 {
		s += fmt.Sprintf("; %d moderate or minor:\n%s", len(r.minor), strings.Join(r.minor, "\n"))
	}
	return s
}

// --------------------------------------------------------------------------- downloads

// downloadBy clicks sel, which leads to a file download, and returns the downloaded file's
// path once the browser has it completely.
func (tb *tab) downloadBy(sel string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	begin := chromedp.BrowserEvents(ctx, browser.DownloadWillBegin)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		tb.t.Fatalf("click %s: %v", sel, err)
	}
	var guid, suggested string
	for ev, err := range begin {
		if err != nil {
			tb.t.Fatalf("no download began after clicking %s: %v", sel, err)
		}
		guid, suggested = ev.GUID, ev.SuggestedFilename
		break
	}
	for ev, err := range progress {
		if err != nil {
			tb.t.Fatalf("download %s did not finish: %v", suggested, err)
		}
		if ev.GUID != guid {
			continue
		}
		switch ev.State {
		case browser.DownloadProgressStateCompleted:
			path := filepath.Join(tb.download, guid) // allowAndName names the file by its GUID
			if _, err := os.Stat(path); err != nil {
				tb.t.Fatalf("download %s: %v", suggested, err)
			}
			tb.t.Logf("downloaded %s (%d bytes)", suggested, int64(ev.ReceivedBytes))
			return path
		case browser.DownloadProgressStateCanceled:
			tb.t.Fatalf("download %s was canceled", suggested)
		}
	}
	tb.t.Fatal(errors.New("download events ended"))
	return ""
}
