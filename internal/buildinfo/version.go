package buildinfo

import (
	"regexp"
	"strconv"
	"strings"
)

var versionRe = regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)(?:-(\d+)-g[0-9a-f]+)?(?:-dirty)?$`)

// CompareVersions compares two oms versions as `git describe --tags` writes them (v0.1.0,
// v0.1.0-12-gabc1234: 12 commits after v0.1.0). ok is false when either is not such a version
// (a "dev" build): nothing can be said.
func CompareVersions(a, b string) (cmp int, ok bool) {
	pa, oka := parseVersion(a)
	pb, okb := parseVersion(b)
	if !oka || !okb {
		return 0, false
	}
	for i := range pa {
		switch {
		case pa[i] < pb[i]:
			return -1, true
		case pa[i] > pb[i]:
			return 1, true
		}
	}
	return 0, true
}

func parseVersion(s string) ([4]int, bool) {
	m := versionRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return [4]int{}, false
	}
	var p [4]int
	for i := 1; i <= 4; i++ {
		p[i-1], _ = strconv.Atoi(m[i])
	}
	return p, true
}

// lastPlainRelease is the last release whose nodes speak plain HTTP on the internal links (Store
// stream, CM, supervisor, component status); later versions speak mutual TLS.
const lastPlainRelease = "v0.1.0"

// SpeaksClusterTLS reports whether a node of version v serves and dials the internal links with
// mutual TLS: every version after v0.1.0. A version that is not a release ("dev") is taken as
// current.
func SpeaksClusterTLS(v string) bool {
	cmp, ok := CompareVersions(v, lastPlainRelease)
	return !ok || cmp > 0
}
