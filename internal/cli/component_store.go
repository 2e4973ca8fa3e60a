package cli

import (
	"log/slog"

	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/store"
)

// The Store (log capture): `oms component store --spec FILE`.
func init() {
	registerComponent(store.Kind, func(spec component.Spec, log *slog.Logger) (component.Unit, error) {
		return store.New(spec, log)
	})
}
