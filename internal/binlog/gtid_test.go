package binlog

import (
	"testing"
)

const uuidA = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
const uuidB = "00000000-0000-0000-0000-000000000001"

func TestParseGTIDSetString(t *testing.T) {
	cases := []struct {
		flavor, in, want string
		wantErr          bool
	}{
		{"mariadb", "", "", false},
		{"mariadb", "0-1-42", "0-1-42", false},
		{"mariadb", "1-2-7, 0-1-42", "0-1-42,1-2-7", false},
		{"mariadb", "0-1-42,0-2-40", "0-1-42", false}, // later seq of a domain wins
		{"mariadb", "0-1", "", true},
		{"mariadb", "a-1-2", "", true},
		{"mariadb", "0-1-2-3", "", true},
		{"mysql", uuidA + ":1-42:50", uuidA + ":1-42:50", false},
		{"mysql", uuidA + ":1-5:6-9:3", uuidA + ":1-9", false},
		{"mysql", uuidA + ":7," + uuidB + ":1-2", uuidB + ":1-2," + uuidA + ":7", false},
		{"mysql", "3E11FA47-71CA-11E1-9E33-C80AA9429562:1", uuidA + ":1", false},
		{"mysql", uuidA, "", true},
		{"mysql", uuidA + ":0", "", true},
		{"mysql", uuidA + ":5-3", "", true},
		{"mysql", "nope:1", "", true},
		{"oracle", "", "", true},
	}
	for _, c := range cases {
		got, err := ParseGTIDSet(c.flavor, c.in)
		if (err != nil) != c.wantErr {
			t.Errorf("ParseGTIDSet(%s, %q) err = %v, wantErr %v", c.flavor, c.in, err, c.wantErr)
			continue
		}
		if err == nil && got.String() != c.want {
			t.Errorf("ParseGTIDSet(%s, %q) = %q, want %q", c.flavor, c.in, got.String(), c.want)
		}
	}
}

func TestGTIDSetContainsAdd(t *testing.T) {
	m := MustParseGTIDSet("mariadb", "0-1-42,1-2-7")
	for gtid, want := range map[string]bool{
		"0-1-42": true, "0-9-1": true, "0-1-43": false, "1-2-7": true, "1-2-8": false, "2-1-1": false, "junk": false,
	} {
		if got := m.Contains(gtid); got != want {
			t.Errorf("mariadb Contains(%s) = %v, want %v", gtid, got, want)
		}
	}
	c := m.Clone()
	if err := c.Add("0-1-50"); err != nil {
		t.Fatal(err)
	}
	if err := c.Add("0-1-10"); err != nil { // older: no move back
		t.Fatal(err)
	}
	if c.String() != "0-1-50,1-2-7" || m.String() != "0-1-42,1-2-7" {
		t.Fatalf("after Add: clone %s original %s", c, m)
	}
	if !c.ContainsSet(m) || m.ContainsSet(c) || !m.Equal(m.Clone()) {
		t.Fatal("ContainsSet/Equal wrong for mariadb")
	}
	if err := c.Add(uuidA + ":1"); err == nil {
		t.Fatal("mysql GTID added to a mariadb set")
	}

	y := MustParseGTIDSet("mysql", uuidA+":1-42:50")
	for gtid, want := range map[string]bool{
		uuidA + ":1": true, uuidA + ":42": true, uuidA + ":43": false, uuidA + ":50": true, uuidB + ":1": false,
	} {
		if got := y.Contains(gtid); got != want {
			t.Errorf("mysql Contains(%s) = %v, want %v", gtid, got, want)
		}
	}
	yc := y.Clone()
	for _, g := range []string{uuidA + ":43", uuidA + ":44", uuidA + ":45", uuidA + ":46", uuidA + ":47", uuidA + ":48", uuidA + ":49"} {
		if err := yc.Add(g); err != nil {
			t.Fatal(err)
		}
	}
	if yc.String() != uuidA+":1-50" || y.String() != uuidA+":1-42:50" {
		t.Fatalf("after Add: %s / %s", yc, y)
	}
	if !yc.ContainsSet(y) || y.ContainsSet(yc) {
		t.Fatal("ContainsSet wrong for mysql")
	}
	var u GTIDSet
	if err := u.Union(y); err != nil || !u.Equal(y) {
		t.Fatalf("union into zero: %v %s", err, u)
	}
	if err := m.Union(y); err == nil {
		t.Fatal("union across flavors accepted")
	}
}

func FuzzParseGTIDSet(f *testing.F) {
	for _, s := range []string{"0-1-42", "0-1-42,1-2-7", "", uuidA + ":1-42:50", uuidA + ":1," + uuidB + ":3-9", "x"} {
		f.Add("mariadb", s)
		f.Add("mysql", s)
	}
	f.Fuzz(func(t *testing.T, flavor, s string) {
		g, err := ParseGTIDSet(flavor, s)
		if err != nil {
			return
		}
		again, err := ParseGTIDSet(flavor, g.String())
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", g.String(), s, err)
		}
		if !again.Equal(g) || again.String() != g.String() {
			t.Fatalf("round trip %q -> %q -> %q", s, g.String(), again.String())
		}
		c := g.Clone()
		if !c.Equal(g) {
			t.Fatal("clone differs")
		}
	})
}

// TestParseGTIDRange: single GTIDs and ranges of both flavors; malformed ones refused.
func TestParseGTIDRange(t *testing.T) {
	cases := []struct {
		in       string
		prefix   string
		from, to uint64
		ok       bool
	}{
		{"0-1-123", "0-1-", 123, 123, true},
		{"0-1-120-130", "0-1-", 120, 130, true},
		{"3e11fa47-71ca-11e1-9e33-c80aa9429562:7", "3e11fa47-71ca-11e1-9e33-c80aa9429562:", 7, 7, true},
		{"3e11fa47-71ca-11e1-9e33-c80aa9429562:7-9", "3e11fa47-71ca-11e1-9e33-c80aa9429562:", 7, 9, true},
		{"0-1", "", 0, 0, false},
		{"0-1-130-120", "", 0, 0, false},
		{"a-1-5", "", 0, 0, false},
		{"0-1-x", "", 0, 0, false},
		{"", "", 0, 0, false},
	}
	for _, c := range cases {
		p, from, to, err := ParseGTIDRange(c.in)
		if (err == nil) != c.ok || c.ok && (p != c.prefix || from != c.from || to != c.to) {
			t.Errorf("%q: got %q %d %d %v", c.in, p, from, to, err)
		}
	}
}
