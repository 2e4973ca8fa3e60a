package cli

import (
	"log/slog"
	"os"

	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/fullimport"
)

func init() {
	registerComponent(fullimport.Kind, func(spec component.Spec, log *slog.Logger) (component.Unit, error) {
		u, err := fullimport.New(spec, log)
		if err != nil {
			return nil, err
		}
		// A person watching on a terminal gets a progress bar on stderr; under the supervisor
		// stderr is a file and only the JSON log goes there.
		if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			u.BarOut = os.Stderr
		}
		return u, nil
	})
}
