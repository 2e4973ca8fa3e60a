package conformance

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// known_gaps.txt: one table a line, "<db without prefix>.<table> [straight|kill|maybe] # <issue
// 21 item that fixes it>"; no mode means both subtests. "maybe": the table differs only when a
// restart of Incr-Sync (a kill, a skip) lands at the wrong moment, so its passing does not ask
// for its removal. '#' lines are comments.
const gapsFile = "known_gaps.txt"

type gap struct{ mode, why string }

type gapList map[string]gap

func loadGaps(t *testing.T) gapList {
	t.Helper()
	f, err := os.Open(gapsFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := gapList{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line, why, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		g := gap{mode: "both", why: strings.TrimSpace(why)}
		if len(fields) > 1 {
			g.mode = fields[1]
		}
		if len(fields) > 2 || (g.mode != "both" && g.mode != "straight" && g.mode != "kill" && g.mode != "maybe") || g.why == "" {
			t.Fatalf("%s:%d: want \"db.table [straight|kill|maybe] # issue 21 item\", got %q", gapsFile, n, sc.Text())
		}
		out[fields[0]] = g
	}
	return out
}

// find returns why table is a known gap in mode ("straight" or "kill").
func (g gapList) find(table, mode string) (string, bool) {
	x, ok := g[table]
	if !ok || (x.mode != "both" && x.mode != "maybe" && x.mode != mode) {
		return "", false
	}
	return x.why, true
}

// mustFail says whether a known gap that passes should be removed from the list.
func (g gapList) mustFail(table string) bool { return g[table].mode != "maybe" }
