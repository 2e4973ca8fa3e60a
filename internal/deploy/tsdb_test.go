package deploy

import (
	"context"
	"strings"
	"testing"

	"github.com/omsdev/oms/internal/testenv"
	"github.com/omsdev/oms/internal/tsdb"
)

// The wizard checks the time-series database on the spot: wrong credentials are refused and the
// section is asked again.
func TestWizardTSDBSectionChecksInfluxDB(t *testing.T) {
	addr := testenv.StartInfluxDB(t, "omsmon", "Influx-pw-1").Addr
	in := lines("y", "y", "", addr, "omsmon", "wrong", "y", "y", "influxdb", addr, "omsmon", "Influx-pw-1", "y")
	var tr strings.Builder
	w := NewWizard(NewPrompter(strings.NewReader(in), &tr), WizardOptions{TSDBProbe: tsdb.Check})
	if err := w.tsdbSection(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, tr.String())
	}
	if !strings.Contains(tr.String(), "The time-series database does not answer with these settings") || !w.shared.TSDBEnabled ||
		w.shared.TSDBURL != addr || w.shared.TSDBPassword.Reveal() != "Influx-pw-1" {
		t.Fatalf("tsdb section: %+v\n%s", w.shared, tr.String())
	}
}
