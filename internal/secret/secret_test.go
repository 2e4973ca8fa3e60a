package secret

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func keyring(t *testing.T, b byte) *Keyring {
	t.Helper()
	k, err := New(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestOpenJSONOpensOnlySealedStrings(t *testing.T) {
	k := keyring(t, 1)
	doc, _ := json.Marshal(map[string]any{
		"source": map[string]any{"host": "db1", "password": k.SealString("pw-1")},
		"list":   []any{k.SealString("pw-2"), "plain", 3},
		"looks":  "enc-but-not-sealed",
	})
	if strings.Contains(string(doc), "pw-1") {
		t.Fatalf("sealed document shows the password: %s", doc)
	}
	out, err := k.OpenJSON(doc)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if pw := got["source"].(map[string]any)["password"]; pw != "pw-1" {
		t.Errorf("source.password = %v", pw)
	}
	if l := got["list"].([]any); l[0] != "pw-2" || l[1] != "plain" || l[2] != float64(3) {
		t.Errorf("list = %v", l)
	}
	if got["looks"] != "enc-but-not-sealed" {
		t.Errorf("looks = %v", got["looks"])
	}
}

func TestOpenFails(t *testing.T) {
	k := keyring(t, 1)
	sealed := k.Seal("pw")
	for _, c := range []struct {
		name   string
		k      *Keyring
		sealed []byte
	}{
		{"other key", keyring(t, 2), sealed},
		{"too short", k, sealed[:3]},
		{"tampered", k, append(append([]byte{}, sealed[:len(sealed)-1]...), sealed[len(sealed)-1]^1)},
	} {
		if _, err := c.k.Open(c.sealed); err == nil {
			t.Errorf("%s: Open succeeded", c.name)
		}
	}
	if got, err := k.Open(sealed); err != nil || got != "pw" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := New([]byte("short")); err == nil {
		t.Fatal("New accepted a 5-byte key")
	}
}

func TestSealOverhead(t *testing.T) {
	k := keyring(t, 1)
	for _, n := range []int{0, 1, 996} {
		if got := len(k.Seal(strings.Repeat("x", n))); got != n+SealOverhead {
			t.Fatalf("Seal of %d bytes is %d bytes, want %d", n, got, n+SealOverhead)
		}
	}
}
