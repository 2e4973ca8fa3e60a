package cli

import (
	"log/slog"

	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/verify"
)

// full-verify: `oms component full-verify --spec FILE` (OMS step FULL_VERIFIER). The spec's
// config is verify.Config; results go to its output_dir (default <work_dir>/output).
func init() {
	registerComponent("full-verify", func(spec component.Spec, log *slog.Logger) (component.Unit, error) {
		var cfg verify.Config
		if err := spec.DecodeConfig(&cfg); err != nil {
			return nil, err
		}
		return verify.New(cfg, spec.WorkDir, nil, log)
	})
}
