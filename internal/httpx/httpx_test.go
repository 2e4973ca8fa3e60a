package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/omsdev/oms/internal/omserr"
)

type req struct {
	Name string `json:"name"`
	N    int    `json:"n"`
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		code       string // "" for success
		status     int
		want       req
	}{
		{"object", `{"name":"a","n":2}`, "", 0, req{"a", 2}},
		{"empty body is {}", "", "", 0, req{}},
		{"blank body is {}", " \n", "", 0, req{}},
		{"unknown field", `{"name":"a","bogus":1}`, omserr.APIBadRequest, 400, req{}},
		{"wrong type", `{"n":"two"}`, omserr.APIBadRequest, 400, req{}},
		{"not JSON", `name: a`, omserr.APIBadRequest, 400, req{}},
		{"trailing data", `{"name":"a"} {"name":"b"}`, omserr.APIBadRequest, 400, req{}},
		{"limit exactly", `{"name":"` + strings.Repeat("x", MaxBody-11) + `"}`, "", 0, req{Name: strings.Repeat("x", MaxBody-11)}},
		{"over the limit", `{"name":"` + strings.Repeat("x", MaxBody) + `"}`, omserr.APIBodyTooLarge, 413, req{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "limit exactly" && len(tc.body) != MaxBody {
				t.Fatalf("body is %d bytes, want %d", len(tc.body), MaxBody)
			}
			var got req
			err := Decode(httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body)), &got)
			if omserr.CodeOf(err) != tc.code || (err != nil) != (tc.code != "") {
				t.Fatalf("err %v, want code %q", err, tc.code)
			}
			if err != nil {
				if s := omserr.HTTPStatus(omserr.CodeOf(err)); s != tc.status {
					t.Fatalf("status %d, want %d", s, tc.status)
				}
				return
			}
			if got != tc.want {
				t.Fatalf("decoded %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestHandle(t *testing.T) {
	internal := Server{Internal: func(_ *http.Request, err error) *omserr.Error {
		return omserr.Wrap(err, omserr.StoreUnavailable, "store failed", "see the store's log")
	}}
	for _, tc := range []struct {
		name   string
		srv    Server
		h      Handler
		status int
		body   string
	}{
		{"value", Server{}, func(*http.Request) (any, error) { return map[string]int{"a": 1}, nil }, 200, `{"a":1}`},
		{"not found", Server{}, func(*http.Request) (any, error) {
			return nil, fmt.Errorf("look up: %w", omserr.New(omserr.APINotFound, "project p does not exist", "list projects"))
		}, 404, `{"code":"API_NOT_FOUND","message":"project p does not exist","advice":"list projects"}`},
		{"gone", Server{}, func(*http.Request) (any, error) {
			return nil, omserr.New(omserr.StorePositionPurged, "checkpoint purged", "start again")
		}, 410, `{"code":"STORE_POSITION_PURGED","message":"checkpoint purged","advice":"start again"}`},
		{"too large", Server{}, func(r *http.Request) (any, error) { var v req; return nil, Decode(r, &v) },
			413, `{"code":"API_BODY_TOO_LARGE","message":"request body is larger than 1 MiB","advice":"send a smaller request"}`},
		{"unexpected, default", Server{}, func(*http.Request) (any, error) { return nil, errors.New("secret detail") },
			500, `{"code":"API_INTERNAL_ERROR","message":"internal error","advice":"see the server's log"}`},
		{"unexpected, server's own", internal, func(*http.Request) (any, error) { return nil, errors.New("disk full") },
			503, `{"code":"STORE_UNAVAILABLE","message":"store failed","advice":"see the store's log"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			tc.srv.Handle(tc.h)(w, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat(" ", MaxBody+1))))
			if w.Code != tc.status || strings.TrimSpace(w.Body.String()) != tc.body {
				t.Fatalf("got %d %s, want %d %s", w.Code, w.Body, tc.status, tc.body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
			if !json.Valid(w.Body.Bytes()) {
				t.Fatal("body is not JSON")
			}
		})
	}
}

// TestStatusFollowsList checks WriteError answers every listed code with the list's status.
func TestStatusFollowsList(t *testing.T) {
	for _, c := range omserr.Codes() {
		w := httptest.NewRecorder()
		Server{}.WriteError(w, nil, omserr.New(c.Code, "m", "a"))
		if w.Code != c.Status {
			t.Errorf("%s answered %d, the list says %d", c.Code, w.Code, c.Status)
		}
	}
}

type inner struct {
	DB string `json:"db"`
}

type nested struct {
	Name     string            `json:"name"`
	Rules    []inner           `json:"rules"`
	ByName   map[string]inner  `json:"byName"`
	Ptr      *inner            `json:"ptr"`
	Labels   map[string]string `json:"labels"`
	Raw      json.RawMessage   `json:"raw"`
	Any      any               `json:"any"`
	Kind     string            `json:"kind"`
	Untagged string
	embedded
}

type embedded struct {
	Region string `json:"region"`
}

// TestDecodeKeysExact checks a key must match its field exactly: encoding/json alone would fill
// Name from "NAME" or "Name".
func TestDecodeKeysExact(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		bad        string // the key the error must name; "" for success
	}{
		{"exact", `{"name":"a","rules":[{"db":"d"}],"byName":{"K":{"db":"x"}},"ptr":{"db":"p"},"labels":{"Any":"v"},"raw":{"X":1},"any":{"Y":2},"Untagged":"u","region":"r"}`, ""},
		{"upper", `{"NAME":"a"}`, "NAME"},
		{"title", `{"Name":"a"}`, "Name"},
		{"in a slice", `{"rules":[{"db":"d"},{"DB":"e"}]}`, "rules[1].DB"},
		{"in a map value", `{"byName":{"k":{"Db":"x"}}}`, "byName.k.Db"},
		{"behind a pointer", `{"ptr":{"dB":"p"}}`, "ptr.dB"},
		{"untagged field", `{"untagged":"u"}`, "untagged"},
		{"embedded field", `{"Region":"r"}`, "Region"},
		{"kelvin sign folds to k", `{"\u212aind":"b"}`, "\u212aind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got nested
			err := DecodeStrict([]byte(tc.body), &got)
			if tc.bad == "" {
				if err != nil {
					t.Fatalf("err %v", err)
				}
				if got.Name != "a" || got.Rules[0].DB != "d" || got.ByName["K"].DB != "x" || got.Ptr.DB != "p" || got.Region != "r" || got.Untagged != "u" {
					t.Fatalf("decoded %+v", got)
				}
				return
			}
			if omserr.CodeOf(err) != omserr.APIBadRequest {
				t.Fatalf("err %v, want %s", err, omserr.APIBadRequest)
			}
			if !strings.Contains(err.Error(), tc.bad) {
				t.Fatalf("error %q does not name %q", err, tc.bad)
			}
		})
	}
}
