package supervisor

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// The parent-death signal is sent when the *thread* that forked the child exits, not the
// process; Go may end an OS thread (a locked goroutine that returns takes its thread with it). So
// every child is forked by one goroutine locked to its thread for the life of the process: the
// signal then fires exactly when the node dies.
var (
	forkOnce sync.Once
	forkReqs chan forkReq
)

type forkReq struct {
	cmd  *exec.Cmd
	done chan error
}

func forker() {
	runtime.LockOSThread() // never unlocked: this thread lives as long as the process
	for r := range forkReqs {
		r.done <- r.cmd.Start()
	}
}

// startDiesWithUs starts cmd in its own process group with SIGKILL as its parent-death signal.
func startDiesWithUs(cmd *exec.Cmd) error {
	forkOnce.Do(func() {
		forkReqs = make(chan forkReq)
		go forker()
	})
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	done := make(chan error, 1)
	forkReqs <- forkReq{cmd: cmd, done: done}
	return <-done
}
