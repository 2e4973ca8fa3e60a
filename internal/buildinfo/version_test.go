package buildinfo

import "testing"

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		cmp  int
		ok   bool
	}{
		{"v0.1.0", "v0.1.0", 0, true},
		{"v0.1.0-50-g51bdcae", "v0.1.0", 1, true},
		{"v0.1.0", "v0.1.0-3-gabcdef0", -1, true},
		{"v0.2.0", "v0.1.9-99-gabcdef0-dirty", 1, true},
		{"v1.0.0", "v0.10.0", 1, true},
		{"dev", "v0.1.0", 0, false},
		{"v0.1.0", "", 0, false},
	} {
		cmp, ok := CompareVersions(tc.a, tc.b)
		if cmp != tc.cmp || ok != tc.ok {
			t.Errorf("CompareVersions(%q, %q) = %d, %t; want %d, %t", tc.a, tc.b, cmp, ok, tc.cmp, tc.ok)
		}
	}
}

func TestSpeaksClusterTLS(t *testing.T) {
	for v, want := range map[string]bool{"v0.1.0": false, "0.1.0": false, "v0.0.9": false, "v0.1.0-1-gabcdef0": true, "v0.2.0": true, "dev": true, "": true} {
		if got := SpeaksClusterTLS(v); got != want {
			t.Errorf("SpeaksClusterTLS(%q) = %t, want %t", v, got, want)
		}
	}
}
