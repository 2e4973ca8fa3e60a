package metrics

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// WindowPath is where a node serves its window (on the supervisor port, beside /metrics); the
// console's DescribeProjectMetrics asks every node there.
const WindowPath = "/supervisor/metrics/window"

// Handler serves GET /metrics (Prometheus text, g gathered at scrape time; a child that does not
// answer leaves its series out, not the whole scrape) and GET WindowPath?project=&name=&since=
// (JSON []SeriesData from w; name may repeat, since is unix seconds).
func Handler(g prometheus.Gatherer, w *Window) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("GET "+WindowPath, func(rw http.ResponseWriter, r *http.Request) {
		q := WindowQuery{Names: r.URL.Query()["name"], Match: map[string]string{}}
		if p := r.URL.Query().Get(LabelProject); p != "" {
			q.Match[LabelProject] = p
		}
		if s, err := strconv.ParseInt(r.URL.Query().Get("since"), 10, 64); err == nil {
			q.Since = time.Unix(s, 0)
		}
		rw.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(rw).Encode(w.Query(q))
	})
	return mux
}
