package cli

import (
	"context"
	"log/slog"

	"github.com/omsdev/oms/internal/binlog"
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
		return incrsync.NewFromConfig(cfg, spec.TaskID, spec.Epoch, storeOpener(cfg, spec.TaskID), log)
	})
}

// storeOpener dials the Store named in the config; the reader also acknowledges checkpoints.
func storeOpener(cfg incrsync.Config, taskID string) incrsync.SourceOpener {
	consumer := cfg.ConsumerID
	if consumer == "" {
		consumer = "incr-" + taskID
	}
	flavor := cfg.Flavor
	if flavor == "" {
		flavor = binlog.FlavorMariaDB
	}
	return func(ctx context.Context, from string) (incrsync.TxnSource, error) {
		r, err := store.Dial(ctx, cfg.StoreAddr, store.ReadRequest{ConsumerID: consumer, From: from, Flavor: flavor})
		if err != nil {
			return nil, err
		}
		return &storeSource{Reader: r, addr: cfg.StoreAddr, consumer: consumer}, nil
	}
}

type storeSource struct {
	*store.Reader
	addr, consumer string
}

func (s *storeSource) Ack(ctx context.Context, gtidSet string) error {
	return store.Ack(ctx, s.addr, s.consumer, gtidSet)
}
