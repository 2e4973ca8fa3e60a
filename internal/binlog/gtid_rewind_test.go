package binlog

import "testing"

func TestGTIDSetRewind(t *testing.T) {
	for _, tc := range []struct {
		flavor, in string
		n          uint64
		want       string
	}{
		{FlavorMariaDB, "0-1-2489", 10, "0-1-2479"},
		{FlavorMariaDB, "0-1-2489,1-2-5", 10, "0-1-2479,1-2-1"},
		{FlavorMariaDB, "0-1-5", 0, "0-1-5"},
		{FlavorMySQL, "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-100", 10, "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-90"},
		{FlavorMySQL, "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-10:20-25", 8, "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-8"},
		{FlavorMySQL, "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5", 100, "3e11fa47-71ca-11e1-9e33-c80aa9429562:1"},
	} {
		in := MustParseGTIDSet(tc.flavor, tc.in)
		got := in.Rewind(tc.n)
		if got.String() != tc.want {
			t.Errorf("%s rewound by %d = %s, want %s", tc.in, tc.n, got, tc.want)
		}
		if !in.ContainsSet(got) || in.String() != MustParseGTIDSet(tc.flavor, tc.in).String() {
			t.Errorf("%s: the rewound set %s is not contained, or the original changed to %s", tc.in, got, in)
		}
	}
}
