package httpx

import (
	"strings"
	"testing"

	"github.com/omsdev/oms/internal/omserr"
)

type rule struct {
	DB string `json:"db" maxlen:"ident"`
}

// Common is embedded: its fields are the outer object's in JSON.
type Common struct {
	Emb string `json:"emb" maxlen:"ident"`
}

type limited struct {
	Common
	Name   string            `json:"name" maxlen:"t.name"`
	Pass   *string           `json:"pass,omitempty" maxlen:"pw"`
	Tags   []string          `json:"tags" maxlen:"ident"`
	Labels map[string]string `json:"labels" maxlen:"ident"`
	Rules  []rule            `json:"rules"`
	ByName map[string]rule   `json:"byName"`
	Free   string            `json:"free"`
}

func testLengthOf(ref string) (int, bool, bool) {
	switch ref {
	case "t.name":
		return 4, false, true
	case "pw", "ident":
		return 4, true, true
	}
	return 0, false, false
}

func TestCheckLengths(t *testing.T) {
	five := "xxxxx"
	for _, tc := range []struct {
		name string
		v    limited
		bad  string // what the message must say; "" for success
	}{
		{"all at the limit", limited{Name: "ábcd", Pass: new("1234"), Tags: []string{"abcd"}, Labels: map[string]string{"abcd": "abcd"},
			Rules: []rule{{"abcd"}}, ByName: map[string]rule{"k": {"abcd"}}, Free: strings.Repeat("x", 1000)}, ""},
		{"characters, not bytes", limited{Name: "ábcdé"}, "name is 5 characters long; at most 4 are allowed"},
		{"bytes", limited{Tags: []string{"ab", "ábcd"}}, "tags[1] is 5 bytes long; at most 4 are allowed"},
		{"pointer", limited{Pass: &five}, "pass is 5 bytes long"},
		{"map key", limited{Labels: map[string]string{"abcde": ""}}, "labels key is 5 bytes long"},
		{"map value", limited{Labels: map[string]string{"a": "abcde"}}, "labels.a is 5 bytes long"},
		{"nested slice", limited{Rules: []rule{{"a"}, {"abcde"}}}, "rules[1].db is 5 bytes long"},
		{"nested map", limited{ByName: map[string]rule{"k": {"abcde"}}}, "byName.k.db is 5 bytes long"},
		{"embedded struct: its fields are the outer object's", limited{Common: Common{"abcde"}}, ": emb is 5 bytes long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckLengths(&tc.v, testLengthOf)
			if tc.bad == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if omserr.CodeOf(err) != omserr.APIInvalidArgument || !strings.Contains(err.Error(), tc.bad) {
				t.Fatalf("err %v, want %s saying %q", err, omserr.APIInvalidArgument, tc.bad)
			}
		})
	}
	type unknown struct {
		X string `json:"x" maxlen:"nope"`
	}
	if err := CheckLengths(unknown{}, testLengthOf); err == nil || omserr.CodeOf(err) != "" {
		t.Fatalf("unknown ref: %v, want a plain (500) error", err)
	}
}
