package verify

import (
	"encoding/hex"
	"strings"
	"testing"
)

func TestValuesEqual(t *testing.T) {
	b := func(s string) []byte { return []byte(s) }
	cases := []struct {
		k    kind
		a, b []byte
		want bool
	}{
		{kindString, nil, nil, true},
		{kindString, nil, b(""), false}, // NULL is not ''
		{kindString, b(""), nil, false},
		{kindString, b(""), b(""), true},
		{kindString, b("a"), b("A"), false}, // the target must equal the source byte for byte
		{kindString, b("😀"), b("😁"), false},
		{kindBinary, b("\x00\x01"), b("\x00\x02"), false},
		{kindBinary, b("\x00"), b(""), false},
		{kindInt, b("007"), b("7"), true},
		{kindInt, b("-1"), b("1"), false},
		{kindDecimal, b("1.50"), b("1.500"), true},
		{kindDecimal, b("1.000001"), b("1.000002"), false},
		{kindDecimal, b("0.00"), b("-0.00"), true},
		{kindFloat, b("1.1"), b("1.100000023841858"), true}, // FLOAT vs DOUBLE holding the float
		{kindFloat, b("1.1"), b("1.2"), false},
		{kindDouble, b("1e20"), b("100000000000000000000"), true},
		{kindDouble, b("0.1"), b("0.10000000000000002"), false},
		{kindTemporal, b("2024-01-01 00:00:05.500000"), b("2024-01-01 00:00:05.5"), true},
		{kindTemporal, b("2024-01-01 00:00:05.000000"), b("2024-01-01 00:00:05"), true},
		{kindTemporal, b("2024-01-01 00:00:05.000001"), b("2024-01-01 00:00:05"), false},
		{kindTemporal, b("10:00:00.100"), b("10:00:00.1"), true},
		{kindJSON, b(`{"a": 1, "b": [1, 2]}`), b(`{"b":[1,2],"a":1}`), true},
		{kindJSON, b(`{"a": 1.0}`), b(`{"a":1}`), true},
		{kindJSON, b(`{"a": 1}`), b(`{"a":2}`), false},
		{kindJSON, b(`[1,2]`), b(`[2,1]`), false},
		{kindJSON, b(`{"a": null}`), b(`{}`), false},
		{kindJSON, b(`not json`), b(`not  json`), false},
	}
	for _, c := range cases {
		if got := valuesEqual(c.k, c.a, c.b); got != c.want {
			t.Errorf("valuesEqual(%d, %q, %q) = %v, want %v", c.k, c.a, c.b, got, c.want)
		}
	}
}

func TestCombineKinds(t *testing.T) {
	cases := []struct{ a, b, want kind }{
		{kindFloat, kindDouble, kindFloat},
		{kindInt, kindDecimal, kindDecimal},
		{kindString, kindBinary, kindBinary},
		{kindJSON, kindString, kindString},
		{kindTemporal, kindTemporal, kindTemporal},
	}
	for _, c := range cases {
		if got := combine(c.a, c.b); got != c.want {
			t.Errorf("combine(%d,%d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestLiteral(t *testing.T) {
	cases := []struct {
		k    kind
		v    []byte
		want string
	}{
		{kindString, nil, "NULL"},
		{kindString, []byte(""), "''"},
		{kindString, []byte("it's\\\n"), `'it\'s\\\n'`},
		{kindString, []byte("😀"), "'😀'"},
		{kindString, []byte{0xff, 0x00}, "0xff00"},
		{kindBinary, []byte{0x00, 0x01}, "0x0001"},
		{kindBinary, []byte{}, "''"},
		{kindDecimal, []byte("-1.50"), "-1.50"},
		{kindDouble, []byte("1.5e-07"), "1.5e-07"},
		{kindInt, []byte("1; DROP TABLE x"), "'1; DROP TABLE x'"},
	}
	for _, c := range cases {
		if got := literal(c.k, c.v); got != c.want {
			t.Errorf("literal(%d, %q) = %s, want %s", c.k, c.v, got, c.want)
		}
	}
}

func TestKeyLess(t *testing.T) {
	k := func(s ...string) [][]byte {
		out := make([][]byte, len(s))
		for i, x := range s {
			out[i] = []byte(x)
		}
		return out
	}
	if !keyLess(k("9"), k("10")) || keyLess(k("10"), k("9")) || !keyLess(k("-5"), k("1")) {
		t.Fatal("numbers must sort by value")
	}
	if !keyLess(k("a", "2"), k("a", "10")) || !keyLess(k("a"), k("b")) {
		t.Fatal("composite order")
	}
}

// unquote reverses literal for kindString (test helper).
func unquote(s string) ([]byte, bool) {
	if s == "NULL" {
		return nil, true
	}
	if strings.HasPrefix(s, "0x") {
		b, err := hex.DecodeString(s[2:])
		return b, err == nil
	}
	if len(s) < 2 || s[0] != '\'' || s[len(s)-1] != '\'' {
		return nil, false
	}
	out := []byte{}
	body := s[1 : len(s)-1]
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c == '\'' {
			return nil, false // an unescaped quote would end the literal
		}
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(body) {
			return nil, false
		}
		switch body[i] {
		case '0':
			out = append(out, 0)
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 'Z':
			out = append(out, 0x1a)
		default:
			out = append(out, body[i])
		}
	}
	return out, true
}

// FuzzLiteral: any value renders as a literal that reads back to the same bytes, so a correction
// SQL file can neither lose data nor be broken out of by a value.
func FuzzLiteral(f *testing.F) {
	for _, s := range []string{"", "'", "\\'", "a'; DROP TABLE t; --", "😀", "\x00\x1a\r\n", "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		for _, k := range []kind{kindString, kindBinary, kindJSON, kindTemporal, kindDecimal} {
			lit := literal(k, v)
			if k == kindDecimal && isNumber(v) {
				if lit != string(v) {
					t.Fatalf("number %q rendered as %s", v, lit)
				}
				continue
			}
			got, ok := unquote(lit)
			if !ok || string(got) != string(v) || got == nil {
				t.Fatalf("literal(%d, %q) = %s reads back as %q (ok %v)", k, v, lit, got, ok)
			}
		}
	})
}

func FuzzTrimFraction(f *testing.F) {
	for _, s := range []string{"2024-01-01 00:00:05.500000", "10:00:00", "1.", ".000", "-838:59:59.000000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a := trimFraction([]byte(s))
		if string(trimFraction(a)) != string(a) {
			t.Fatalf("not idempotent: %q -> %q", s, a)
		}
		if !strings.HasPrefix(s, string(a)) {
			t.Fatalf("%q -> %q is not a prefix", s, a)
		}
	})
}
