package supervisor

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/testenv"
)

// roleEnv makes the test binary play a node (which launches one component) or the component.
const roleEnv = "OMS_SUPERVISOR_TEST_ROLE"

// The supervisor starts the test binary as `<bin> component <kind> --spec /dev/fd/3` (with a
// scrubbed environment, so the role comes from the arguments): kind "fake" is a real component
// serving its status (runFakeComponent, supervisor_test.go), any other kind a stand-in that does
// nothing.
func TestMain(m *testing.M) {
	if len(os.Args) > 4 && os.Args[1] == "component" {
		if os.Args[2] == "fake" {
			os.Exit(runFakeComponent(os.Args[4]))
		}
		time.Sleep(time.Hour) //nolint:forbidigo // a stand-in child that does nothing
		os.Exit(0)
	}
	switch os.Getenv(roleEnv) {
	case "node": // launch one component as the supervisor does, print its pid, then wait
		dir := os.Getenv("OMS_SUPERVISOR_TEST_DIR")
		p := &proc{taskID: "t1", kind: "store", workDir: dir}
		if err := p.launch(os.Args[0], []byte(`{}`)); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(p.pid())
		time.Sleep(time.Hour) //nolint:forbidigo // the node idles until the test kills it
		os.Exit(0)
	}
	testenv.Main(m)
}

func alive(pid int) bool {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(st), ')')
	return i > 0 && i+2 < len(st) && st[i+2] != 'Z'
}

// TestChildDiesWithNode: kill -9 of the node process takes its component with it within a
// second or two (parent-death signal), even though the component runs in its own process group
// and was started from another goroutine than the one the node runs on.
func TestChildDiesWithNode(t *testing.T) {
	dir := t.TempDir()
	node := exec.Command(os.Args[0], "-test.run=^$")
	node.Env = append(os.Environ(), roleEnv+"=node", "OMS_SUPERVISOR_TEST_DIR="+dir)
	out, err := node.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = node.Process.Kill(); _ = node.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("node printed nothing: %v", err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("node: %s", line)
	}
	defer func() { _ = syscall.Kill(child, syscall.SIGKILL) }()
	if !isComponentOf(child, dir) {
		t.Fatalf("pid %d is not the component of %s", child, dir)
	}
	if pgid, _ := syscall.Getpgid(child); pgid != child {
		t.Fatalf("component runs in process group %d, want its own (%d)", pgid, child)
	}
	_ = node.Process.Kill()
	_ = node.Wait()
	killed := time.Now()
	for alive(child) {
		if time.Since(killed) > 2*time.Second {
			t.Fatalf("component %d still alive 2 s after its node was killed", child)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("component gone %v after kill -9 of its node", time.Since(killed).Round(time.Millisecond))
}
