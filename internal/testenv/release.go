package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Release is a released version: its tag and the commit the tag points at. The commit is kept
// here because a clone may lack the tags (CI's fresh clone of main) while its history holds the
// commit.
type Release struct {
	Tag    string
	Commit string
}

// Releases are every released version, oldest first. Add a line with each new tag.
var Releases = []Release{
	{Tag: "v0.1.0", Commit: "5a291d1ef668241cc900c7cee00c4fe1409dea77"},
}

// PreviousRelease is the newest released version: the one an upgrade starts from.
func PreviousRelease() Release { return Releases[len(Releases)-1] }

var (
	releaseMu   sync.Mutex
	releaseBins = map[string]string{}
)

// ReleaseBinary builds release r's oms binary from this checkout's git history (once per test
// process), stamped with its tag as version. The commit is found by the tag when the clone has
// it, else by r.Commit; a checkout without that history (no git, a shallow clone) skips the test
// with the reason.
func ReleaseBinary(t testing.TB, r Release) string {
	t.Helper()
	releaseMu.Lock()
	defer releaseMu.Unlock()
	if bin, ok := releaseBins[r.Tag]; ok {
		return bin
	}
	commit, why := releaseCommit(r)
	if why != "" {
		t.Skipf("release %s: %s", r.Tag, why)
	}
	src := filepath.Join(mkdirAll(filepath.Join(Root(), "release-src")), r.Tag)
	_ = os.RemoveAll(src)
	mkdirAll(src)
	// git archive writes the release's tree without touching the repository (no worktree entry).
	archive := exec.Command("sh", "-c", `git -C "$0" archive --format=tar "$1" | tar -x -C "$2"`, moduleRoot(), commit, src)
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("extract release %s (%s): %v\n%s", r.Tag, commit, err, out)
	}
	bin := filepath.Join(mkdirAll(filepath.Join(Root(), "bin")), "oms-"+r.Tag)
	build := exec.Command("go", "build", "-buildvcs=false", "-ldflags",
		"-X github.com/omsdev/oms/internal/buildinfo.Version="+r.Tag+" -X github.com/omsdev/oms/internal/buildinfo.Commit="+commit,
		"-o", bin, "./cmd/oms")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build release %s (%s): %v\n%s", r.Tag, commit, err, out)
	}
	_ = os.RemoveAll(src)
	releaseBins[r.Tag] = bin
	return bin
}

// releaseCommit is the commit of r in this checkout's history, or why there is none.
func releaseCommit(r Release) (commit, why string) {
	root := moduleRoot()
	if _, err := exec.LookPath("git"); err != nil {
		return "", "git is not installed: the release cannot be built from history"
	}
	if out, err := exec.Command("git", "-C", root, "rev-parse", "--verify", "-q", r.Tag+"^{commit}").Output(); err == nil {
		return strings.TrimSpace(string(out)), ""
	}
	if err := exec.Command("git", "-C", root, "cat-file", "-e", r.Commit+"^{commit}").Run(); err == nil {
		return r.Commit, ""
	}
	shallow, _ := exec.Command("git", "-C", root, "rev-parse", "--is-shallow-repository").Output()
	if strings.TrimSpace(string(shallow)) == "true" {
		return "", fmt.Sprintf("this is a shallow clone without commit %s: run `git fetch --unshallow` to test from it", r.Commit)
	}
	return "", fmt.Sprintf("neither tag %s nor commit %s is in this checkout's history (%s)", r.Tag, r.Commit, root)
}
