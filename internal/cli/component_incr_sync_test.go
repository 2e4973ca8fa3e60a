package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/omsdev/oms/internal/incrsync"
	"github.com/omsdev/oms/internal/selection"
)

// TestStoreOpenerSendsSelection: Incr-Sync asks its Store for the selected tables and columns
// only (the Store-side filter that keeps other tables' rows in the source region).
func TestStoreOpenerSendsSelection(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.Query().Get("select")
		http.Error(w, `{"code":"STORE_UNAVAILABLE","message":"test","advice":"none"}`, http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	cfg := incrsync.Config{StoreAddr: strings.TrimPrefix(srv.URL, "http://"),
		Selection: selection.Config{Tables: []selection.Rule{{DB: "shop", Table: "orders", RenameTable: "o2", Columns: []string{"id", "total"}, DML: []string{"INSERT"}}}}}
	cfg.SetDefaults("t1")
	if _, err := storeOpener(cfg, nil)(context.Background(), ""); err == nil {
		t.Fatal("dial of a failing store succeeded")
	}
	var sent selection.Config
	if err := json.Unmarshal([]byte(<-got), &sent); err != nil {
		t.Fatalf("select parameter: %v", err)
	}
	want := selection.Config{Tables: []selection.Rule{{DB: "shop", Table: "orders", Columns: []string{"id", "total"}}}}
	if b1, b2 := mustJSON(t, sent), mustJSON(t, want); b1 != b2 {
		t.Fatalf("store asked for %s, want %s", b1, b2)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
