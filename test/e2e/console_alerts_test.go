package e2e

import (
	"context"
	"fmt"
	"net/http/httptest"
	"regexp"
	"strings"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/alert"
	"github.com/omsdev/oms/internal/testenv/chrome"
	"github.com/omsdev/oms/internal/testenv/scenario"
)

// configureAlerts drives the alert rule and channel forms: a per-project override of the lag
// rule is saved and listed; a webhook channel with a bad URL and no secret is refused field by
// field and nothing is created; a good one is saved (its secret never comes back) and its
// "Send test" reaches a receiver with a valid signature.
func (p *page) configureAlerts(cli *api.Client, pid string) {
	t := p.t
	t.Helper()
	ctx := context.Background()
	hook := &webhookReceiver{secret: "console-hook-secret", posts: map[string]int{}, notes: map[string]alert.Notification{}}
	hs := httptest.NewServer(hook)
	t.Cleanup(hs.Close)

	p.open("alerts")
	p.WaitJS(20*time.Second, "alert rules listed", `!!document.querySelector('tr[data-rule="incr_lag/"]')`)
	p.Do("choose the lag rule", chromedp.SetValue(chromedp.CSS("#rule-name"), alert.RuleLag))
	p.Fill("#rule-project", pid)
	p.Fill("#rule-threshold", "abc")
	p.Click("#rule-save")
	p.WaitText(10*time.Second, "#err-rule-threshold", "Threshold must be a number")
	p.Fill("#rule-threshold", "42")
	p.Fill("#rule-for", "5")
	p.Click("#rule-save")
	p.WaitJS(20*time.Second, "the project's lag rule listed", fmt.Sprintf(`!!document.querySelector('tr[data-rule="incr_lag/%s"]')`, pid))
	rules, err := cli.ListAlertRules(ctx)
	found := false
	for _, r := range rules {
		found = found || r.Rule == alert.RuleLag && r.ProjectID == pid && r.Threshold == 42 && r.ForSeconds == 5 && r.Enabled
	}
	if err != nil || !found {
		t.Fatalf("rules after the form: %+v %v", rules, err)
	}

	p.Fill("#ch-name", "ops-hook")
	p.Fill("#ch-url", "ftp://nowhere")
	p.Click("#ch-save")
	p.WaitText(10*time.Second, "#err-ch-url", "URL must be an http:// or https:// address")
	p.WaitText(10*time.Second, "#err-ch-secret", "HMAC secret is required")
	if chans, _ := cli.ListAlertChannels(ctx); len(chans) != 0 {
		t.Fatalf("a refused channel form created channels: %+v", chans)
	}
	p.Fill("#ch-url", hs.URL+"/hook")
	p.Fill("#ch-secret", hook.secret)
	p.Click("#ch-save")
	p.WaitJS(20*time.Second, "channel listed", `!!document.querySelector('tr[data-channel="ops-hook"]')`)
	chans, err := cli.ListAlertChannels(ctx)
	if err != nil || len(chans) != 1 || chans[0].Secret != "" || chans[0].URL != hs.URL+"/hook" {
		t.Fatalf("channels after the form: %+v %v (the secret must not come back)", chans, err)
	}
	p.Click(`tr[data-channel="ops-hook"] .ch-test`)
	p.WaitText(20*time.Second, "#channel-test-result", "test notification sent to 1 channel(s)")
	p.screenshot("alerts")
	scenario.WaitFor(t, 90*time.Second, "the test notification at the webhook, signed", func() (bool, string) {
		keys, n := hook.transitions("test")
		hook.mu.Lock()
		bad := hook.bad
		hook.mu.Unlock()
		return len(keys["test"]) == 1 && n >= 1 && bad == 0, fmt.Sprintf("%d test notifications, %d deliveries, %d badly signed", len(keys["test"]), n, bad)
	})
}

// hostHistoryAndLog opens a host from the Resources page: its CPU and memory charts draw from
// the host's window, and the log link of its Incr-Sync shows the end of that component's log
// (with the password masked as the component logs it, and no other secret value).
func (p *page) hostHistoryAndLog(ip, pid string) {
	t := p.t
	t.Helper()
	p.open("resources")
	p.Click(fmt.Sprintf(`[data-host=%q] a.host-link`, ip))
	p.WaitJS(30*time.Second, "host page", `document.body.dataset.page === 'host' && window.omsRenderTimes['host'] !== undefined`)
	p.renders["host"] = chrome.Eval[float64](p.Page, `window.omsRenderTimes['host']`)
	p.WaitJS(60*time.Second, "CPU and memory charts with points", `(() => {
		const cpu = window.Chart && Chart.getChart('chart-cpu'), mem = window.Chart && Chart.getChart('chart-mem');
		return !!cpu && !!mem && cpu.data.datasets[0].data.length >= 2 && mem.data.datasets[0].data.length >= 2 && mem.data.datasets[0].data.every((v) => v > 0);
	})()`)
	p.screenshot("host")
	incr := pid + "-incr-sync"
	p.Click(fmt.Sprintf(`a.log-link[data-component=%q]`, incr))
	p.WaitJS(30*time.Second, "log page", `document.body.dataset.page === 'log' && window.omsRenderTimes['log'] !== undefined`)
	p.renders["log"] = chrome.Eval[float64](p.Page, `window.omsRenderTimes['log']`)
	p.WaitText(30*time.Second, "#log-text", "incr-sync starting")
	text := p.Text("#log-text")
	if !strings.Contains(text, `"password":"******"`) {
		t.Fatalf("the Incr-Sync log tail has no masked target password: %.2000s", text)
	}
	if m := regexp.MustCompile(`"password":"[^*"][^"]*"`).FindString(text); m != "" {
		t.Fatalf("a password in the log tail: %s", m)
	}
	p.screenshot("log")
}
