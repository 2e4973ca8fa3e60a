package omserr

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const errorsDoc = "../../docs/errors.md"

// TestErrorsDoc fails when docs/errors.md is not what the code list generates; run it with
// OMS_UPDATE_DOCS=1 to rewrite the file.
func TestErrorsDoc(t *testing.T) {
	want := renderErrorsDoc()
	if os.Getenv("OMS_UPDATE_DOCS") == "1" {
		if err := os.WriteFile(errorsDoc, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(errorsDoc)
	if err != nil {
		t.Fatalf("%v (generate it: OMS_UPDATE_DOCS=1 go test ./internal/omserr -run TestErrorsDoc)", err)
	}
	if string(got) != want {
		t.Fatalf("%s is stale: regenerate it with OMS_UPDATE_DOCS=1 go test ./internal/omserr -run TestErrorsDoc", filepath.Clean(errorsDoc))
	}
}

func renderErrorsDoc() string {
	var b strings.Builder
	b.WriteString(`# Error codes

<!-- Generated from internal/omserr/codes.go by TestErrorsDoc; do not edit. Regenerate with
     OMS_UPDATE_DOCS=1 go test ./internal/omserr -run TestErrorsDoc -->

Every operator-facing error carries a stable code, a message that names the object and advice
that says what to do. Scripts and the console match on the code, never on the message. An HTTP
edge (console, Store, CM, supervisor, component status) answers an error with the status listed
here; a code not listed answers 500.

`)
	byArea := map[string][]Info{}
	for _, c := range codes {
		byArea[c.Area] = append(byArea[c.Area], c)
	}
	areas := make([]string, 0, len(byArea))
	for a := range byArea {
		areas = append(areas, a)
	}
	sort.Strings(areas)
	for _, a := range areas {
		fmt.Fprintf(&b, "## %s_: %s\n\n| code | HTTP | meaning |\n|---|---:|---|\n", a, Areas[a])
		list := byArea[a]
		sort.Slice(list, func(i, j int) bool { return list[i].Code < list[j].Code })
		for _, c := range list {
			fmt.Fprintf(&b, "| `%s` | %d | %s |\n", c.Code, c.Status, c.Meaning)
		}
		b.WriteString("\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}
