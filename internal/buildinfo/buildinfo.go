// Package buildinfo holds the version and commit of the running binary.
package buildinfo

import "runtime/debug"

// Version is set at link time: -ldflags "-X github.com/omsdev/oms/internal/buildinfo.Version=v1.2.3".
var Version = "dev"

// Commit is set at link time; when empty it is read from the Go build's VCS stamp.
var Commit = ""

// CommitID returns the git commit the binary was built from, or "unknown".
func CommitID() string {
	if Commit != "" {
		return Commit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" {
			if dirty {
				return rev + "-dirty"
			}
			return rev
		}
	}
	return "unknown"
}
