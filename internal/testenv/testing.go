package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// StartMariaDB starts one instance for the test and stops it when the test ends.
func StartMariaDB(t testing.TB, opt ...Options) *Instance {
	t.Helper()
	var o Options
	if len(opt) > 0 {
		o = opt[0]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	inst, err := Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(inst.Stop)
	return inst
}

// StartN starts n instances in parallel for the test.
func StartN(t testing.TB, n int, opt ...Options) []*Instance {
	t.Helper()
	out := make([]*Instance, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	var o Options
	if len(opt) > 0 {
		o = opt[0]
	}
	for k := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			out[k], errs[k] = Start(ctx, o)
		}()
	}
	wg.Wait()
	for k := range n {
		if out[k] != nil {
			t.Cleanup(out[k].Stop)
		}
	}
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

var (
	sharedMu sync.Mutex
	shared   = map[string]*Instance{}
)

// Shared returns the package-wide instance called name, starting it on first use. Tests that
// share an instance use their own databases (FreshDatabase). Main stops shared instances.
func Shared(t testing.TB, name string) *Instance {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if inst, ok := shared[name]; ok {
		return inst
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	inst, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	shared[name] = inst
	return inst
}

var dbSeq atomic.Int64

// FreshDatabase creates an empty database with a unique name on inst and drops it when the test
// ends.
func FreshDatabase(t testing.TB, inst *Instance, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s_%d", prefix, dbSeq.Add(1))
	if _, err := inst.DB().Exec("CREATE DATABASE `" + name + "`"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = inst.DB().Exec("DROP DATABASE IF EXISTS `" + name + "`") })
	return name
}

// Main runs a package's tests, stops shared instances, and fails the run if any mariadbd this
// process started is still alive. Use it from TestMain: func TestMain(m *testing.M) { testenv.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	sharedMu.Lock()
	for _, inst := range shared {
		inst.Stop()
	}
	sharedMu.Unlock()
	if left := LeftoverServers(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "testenv: mariadbd processes left running after the tests: %v\n", left)
		if code == 0 {
			code = 1
		}
	}
	_ = os.RemoveAll(Root())
	os.Exit(code)
}

// LeftoverServers lists PIDs of mariadbd processes whose datadir is under this process's Root.
func LeftoverServers() []int {
	root := Root()
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if len(args) == 0 || !strings.HasSuffix(args[0], "mariadbd") {
			continue
		}
		if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && isZombie(string(st)) {
			continue
		}
		for _, a := range args {
			if strings.HasPrefix(a, "--datadir="+root+"/") {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

func isZombie(stat string) bool {
	i := strings.LastIndexByte(stat, ')')
	return i > 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// OMSBinary builds ./cmd/oms once per test process and returns the binary's path. End-to-end
// tests start it as a real process.
func OMSBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir := mkdirAll(filepath.Join(Root(), "bin"))
		buildPath = filepath.Join(dir, "oms")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/oms")
		cmd.Dir = moduleRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("testenv: go build ./cmd/oms: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// moduleRoot is the directory holding go.mod, found from this source file.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// SkipOrFail skips a test whose environment lacks something (a package, root, netns), or,
// when OMS_TEST_STRICT=1 (`make test` and CI set it, after installing everything), fails it:
// there a missing dependency is a broken set-up, not a reason to pass quietly.
func SkipOrFail(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("OMS_TEST_STRICT") == "1" {
		t.Fatalf("OMS_TEST_STRICT=1 but the test cannot run: %s", why)
	}
	t.Skip(why)
}
