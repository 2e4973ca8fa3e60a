package keyset

import (
	"math/big"
	"reflect"
	"testing"
)

func b(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, x := range s {
		out[i] = []byte(x)
	}
	return out
}

func TestWhere(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  Key
		r    Range
		want string
		args []any
	}{
		{"open", Key{Cols: []string{"id"}, Int: true}, Range{}, "", nil},
		{"integer lower", Key{Cols: []string{"id"}, Int: true}, Range{Lo: b("10")}, "((`id` >= ?))", []any{int64(10)}},
		{"integer both", Key{Cols: []string{"id"}, Int: true}, Range{Lo: b("10"), Hi: b("20")},
			"((`id` >= ?)) AND ((`id` < ?))", []any{int64(10), int64(20)}},
		{"unsigned max", Key{Cols: []string{"id"}, Int: true, Unsigned: true}, Range{Hi: b("18446744073709551615")},
			"((`id` < ?))", []any{uint64(18446744073709551615)}},
		{"negative", Key{Cols: []string{"id"}, Int: true}, Range{Lo: b("-5")}, "((`id` >= ?))", []any{int64(-5)}},
		{"string", Key{Cols: []string{"name"}}, Range{Lo: b("a'b"), Hi: b("")}, "((`name` >= ?)) AND ((`name` < ?))", []any{"a'b", ""}},
		{"composite text+binary", Key{Cols: []string{"a", "b"}, Binary: []bool{false, true}}, Range{Lo: b("x", "y"), Hi: b("z", "w")},
			"((`a` > ?) OR (`a` = ? AND `b` >= ?)) AND ((`a` < ?) OR (`a` = ? AND `b` < ?))",
			[]any{"x", "x", []byte("y"), "z", "z", []byte("w")}},
		{"three columns upper", Key{Cols: []string{"a", "b", "c"}}, Range{Hi: b("1", "2", "3")},
			"((`a` < ?) OR (`a` = ? AND `b` < ?) OR (`a` = ? AND `b` = ? AND `c` < ?))",
			[]any{"1", "1", "2", "1", "2", "3"}},
		{"quoted name", Key{Cols: []string{"we`ird"}}, Range{Lo: b("v")}, "((`we``ird` >= ?))", []any{"v"}},
	} {
		w, args := tc.key.Where(tc.r)
		if w != tc.want || !reflect.DeepEqual(args, tc.args) {
			t.Errorf("%s:\n got %s %#v\nwant %s %#v", tc.name, w, args, tc.want, tc.args)
		}
	}
}

func TestArgCopiesBinary(t *testing.T) {
	v := []byte("ab")
	got := Key{Cols: []string{"k"}, Binary: []bool{true}}.Arg(0, v).([]byte)
	v[0] = 'X'
	if string(got) != "ab" {
		t.Fatalf("Arg shares the caller's buffer: %q", got)
	}
}

func TestIntRanges(t *testing.T) {
	bi := func(n int64) *big.Int { return big.NewInt(n) }
	bounds := func(rs []Range) []string {
		var out []string
		for _, r := range rs {
			lo, hi := "-", "-"
			if r.Lo != nil {
				lo = string(r.Lo[0])
			}
			if r.Hi != nil {
				hi = string(r.Hi[0])
			}
			out = append(out, lo+".."+hi)
		}
		return out
	}
	for _, tc := range []struct {
		name          string
		min, max      int64
		rows, per     int64
		want          []string
		wantSparseNil bool
	}{
		{"one value", 7, 7, 1, 10, []string{"-..-"}, false},
		{"fits one chunk", 1, 10, 10, 100, []string{"-..-"}, false},
		{"even split", 1, 100, 100, 25, []string{"-..26", "26..51", "51..76", "76..-"}, false},
		{"uneven split", 1, 10, 10, 3, []string{"-..4", "4..7", "7..10", "10..-"}, false},
		{"negative keys", -10, 9, 20, 10, []string{"-..0", "0..-"}, false},
		{"estimate below the span: span/per chunks", 1, 1000, 300, 100, nil, false},
		{"sparse", 1, 1_000_000, 10, 10, nil, true},
	} {
		rs := IntRanges(bi(tc.min), bi(tc.max), tc.rows, tc.per)
		if tc.wantSparseNil {
			if rs != nil {
				t.Errorf("%s: want nil (walk instead), got %v", tc.name, bounds(rs))
			}
			continue
		}
		if tc.want == nil { // only the count is checked: span/per pieces
			if n := int64(len(rs)); n < (tc.max-tc.min+1)/tc.per {
				t.Errorf("%s: %d chunks for a span of %d at %d per chunk", tc.name, n, tc.max-tc.min+1, tc.per)
			}
			continue
		}
		if got := bounds(rs); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	// Huge unsigned keys do not overflow.
	hi, _ := new(big.Int).SetString("18446744073709551615", 10)
	lo := new(big.Int).Sub(hi, big.NewInt(99))
	if rs := IntRanges(lo, hi, 100, 50); len(rs) != 2 || string(rs[0].Hi[0]) != "18446744073709551566" {
		t.Errorf("unsigned top: %v", bounds(rs))
	}
}
