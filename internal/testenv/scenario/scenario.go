// Package scenario holds what the end-to-end scenarios (test/e2e, test/netns) share: polling with
// a deadline, lookups in the API's answers, waiting on a project's steps, the logs of a failed
// run and exit codes. shop.go holds the seeded source database, its live write workload and the
// row-level comparison of source and target. testenv (its parent) starts the MariaDB instances.
package scenario

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/omsdev/oms/api"
)

// pollEvery is how often WaitFor checks its condition.
const pollEvery = 250 * time.Millisecond

// WaitFor polls cond until it holds and returns how long that took; after d it fails the test
// with what it waited for and cond's last explanation.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	last := ""
	for time.Since(start) < d {
		ok, why := cond()
		if ok {
			return time.Since(start)
		}
		last = why
		time.Sleep(pollEvery)
	}
	t.Fatalf("timed out after %s waiting for %s; last: %s", d, what, last)
	return 0
}

// Component returns the first component of kind (store, incr-sync, ...) in comps.
func Component(comps []api.Component, kind string) (api.Component, bool) {
	for _, c := range comps {
		if c.Kind == kind {
			return c, true
		}
	}
	return api.Component{}, false
}

// Step returns the project's step called name, or the zero Step when it has none.
func Step(p api.Project, name string) api.Step {
	for _, s := range p.Steps {
		if s.Name == name {
			return s
		}
	}
	return api.Step{}
}

// WaitStep waits until the project's step reaches status and returns the project as it was then.
// A FAILED project fails the test at once with its error.
func WaitStep(t testing.TB, cli *api.Client, pid, step, status string, d time.Duration) api.Project {
	t.Helper()
	var proj api.Project
	WaitFor(t, d, fmt.Sprintf("step %s %s", step, status), func() (bool, string) {
		p, err := cli.DescribeProject(context.Background(), pid)
		if err != nil {
			return false, err.Error()
		}
		if p.Status == api.StateFailed {
			t.Fatalf("project failed: %s %s", p.ErrorCode, p.ErrorMessage)
		}
		proj = p
		return Step(p, step).Status == status, fmt.Sprintf("%s %+v", p.Status, p.Steps)
	})
	return proj
}

// WaitVerified waits until the project's full verification finished and fails the test unless it
// found zero differences.
func WaitVerified(t testing.TB, cli *api.Client, pid string, d time.Duration) api.Project {
	t.Helper()
	p := WaitStep(t, cli, pid, api.StepFullVerifier, api.StepFinished, d)
	if v := Step(p, api.StepFullVerifier); v.Metrics["differences"] != 0 {
		t.Fatalf("verification found %v differences: %s", v.Metrics["differences"], v.Message)
	}
	return p
}

// Tail returns the last max bytes of the file at path ("" when it cannot be read).
func Tail(path string, max int) string {
	raw, _ := os.ReadFile(path)
	if len(raw) > max {
		raw = raw[len(raw)-max:]
	}
	return string(raw)
}

// LogsOnFailure logs the tail (max bytes) of every file matching the glob patterns when the test
// has failed, at cleanup: the component and node logs that say why.
func LogsOnFailure(t testing.TB, max int, patterns ...string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, p := range patterns {
			files, _ := filepath.Glob(p)
			for _, f := range files {
				t.Logf("--- %s ---\n%s", f, Tail(f, max))
			}
		}
	})
}

// ExitCode is the exit status of a finished command: 0 without error, -1 when it did not run.
func ExitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
