package deploy

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/omsdev/oms/internal/config"
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

// A failed check keeps the URL and user already typed as the next defaults: only the password
// has to be typed again.
func TestWizardTSDBProbeFailureKeepsAnswers(t *testing.T) {
	in := lines("y", "y", "", "10.0.0.9:8086", "omsmon", "wrong", "y", "y", "", "", "", "right", "y")
	var tr strings.Builder
	var tries []string
	probe := func(_ context.Context, url, user string, pw config.Secret) error {
		tries = append(tries, url+" "+user)
		if pw.Reveal() != "right" {
			return errors.New("401 unauthorized")
		}
		return nil
	}
	w := NewWizard(NewPrompter(strings.NewReader(in), &tr), WizardOptions{TSDBProbe: probe})
	if err := w.tsdbSection(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, tr.String())
	}
	if strings.Join(tries, ",") != "10.0.0.9:8086 omsmon,10.0.0.9:8086 omsmon" || w.shared.TSDBURL != "10.0.0.9:8086" || w.shared.TSDBUsername != "omsmon" {
		t.Fatalf("probes %v, settings %+v\n%s", tries, w.shared, tr.String())
	}
	if !strings.Contains(tr.String(), "URL of the time-series database (host:port) [10.0.0.9:8086]") {
		t.Fatalf("the typed URL is not proposed again:\n%s", tr.String())
	}
}
