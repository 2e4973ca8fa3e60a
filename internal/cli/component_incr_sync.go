package cli

import (
	"context"
	"log/slog"

	"github.com/omsdev/oms/internal/clustertls"
	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/incrsync"
	"github.com/omsdev/oms/internal/store"
)

func init() {
	registerComponent(incrsync.Kind, func(spec component.Spec, log *slog.Logger) (component.Unit, error) {
		var cfg incrsync.Config
		if err := spec.DecodeConfig(&cfg); err != nil {
			return nil, err
		}
		cfg.SetDefaults(spec.TaskID)
		src, err := spec.PeerTLSSource()
		if err != nil {
			return nil, err
		}
		return incrsync.NewFromConfig(cfg, spec.TaskID, spec.Epoch, storeOpener(cfg, src), log)
	})
}

// storeOpener dials the Store named in a defaulted config with the task's cluster certificate
// (src), asking it for the selected tables and columns only, so nothing else crosses regions;
// the *store.Reader also acknowledges checkpoints (incrsync.Acker).
func storeOpener(cfg incrsync.Config, src clustertls.Source) incrsync.SourceOpener {
	return func(ctx context.Context, from string) (incrsync.TxnSource, error) {
		r, err := store.Dial(ctx, cfg.StoreAddr, store.ReadRequest{ConsumerID: cfg.ConsumerID, From: from, Flavor: cfg.Flavor, TLS: src,
			Selection: &cfg.Selection})
		if err != nil {
			return nil, err // not r: a nil *Reader in the interface would not be nil
		}
		return r, nil
	}
}
