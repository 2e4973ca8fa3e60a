package clusterca

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"time"

	"github.com/omsdev/oms/internal/clustertls"
	"github.com/omsdev/oms/internal/secret"
)

// Keeper keeps one node's cluster material current: it re-reads the CA row every
// RefreshInterval (a rotation by `oms cert rotate` reaches every node that way) and reissues the
// node's certificate when the issuing CA changed or the certificate nears its end; with an
// operator's certificate (OperatorCert) it re-reads and re-checks those files instead. It also
// issues the certificates of the node's components (the supervisor asks).
type Keeper struct {
	db   *sql.DB
	cmDB string
	keys *secret.Keyring
	ip   string
	own  OperatorCert
	log  *slog.Logger
	// OnRenew is called after the node's certificate was (re)issued, with its expiry (the CM
	// records it in the hosts row for `oms host list`).
	OnRenew func(ctx context.Context, notAfter time.Time)

	mem      clustertls.Memory
	mu       sync.Mutex
	auth     *Authority
	leaf     clustertls.Leaf
	warnedAt time.Time // last warning that the operator's certificate nears its end
}

// NewKeeper loads the cluster CA (creating it on the first start of the cluster) and issues the
// node's certificate for ip, or, when own names files, checks and uses the operator's.
func NewKeeper(ctx context.Context, db *sql.DB, cmDB string, keys *secret.Keyring, ip string, own OperatorCert, log *slog.Logger) (*Keeper, error) {
	k := &Keeper{db: db, cmDB: cmDB, keys: keys, ip: ip, own: own, log: log}
	if _, err := k.refresh(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

// clustertls.Source is the node's own material (its servers and its clients).
func (k *Keeper) Source() clustertls.Source { return &k.mem }

// NotAfter is when the node's certificate expires.
func (k *Keeper) NotAfter() time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.leaf.NotAfter
}

// Issuer is the fingerprint of the CA new certificates come from; a component certificate from
// another issuer is reissued.
func (k *Keeper) Issuer() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return Fingerprint(k.auth.Signer().Raw)
}

// Issue makes a certificate for a component of this node.
func (k *Keeper) Issue(id clustertls.Identity, hosts []string) (clustertls.Leaf, error) {
	k.mu.Lock()
	a := k.auth
	k.mu.Unlock()
	return a.Issue(id, hosts)
}

// refresh re-reads the CAs and reissues the node's certificate when needed; true when it did.
func (k *Keeper) refresh(ctx context.Context) (bool, error) {
	a, err := Load(ctx, k.db, k.cmDB, k.keys)
	if err != nil {
		return false, err
	}
	k.mu.Lock()
	old := k.leaf
	k.auth = a
	k.mu.Unlock()
	if k.own.CertFile != "" {
		return k.refreshOwn(ctx, a, old)
	}
	issuer := Fingerprint(a.Signer().Raw)
	if old.Issuer == issuer && time.Until(old.NotAfter) > RenewBefore && string(old.CAPEM) == string(a.CAPEM()) {
		return false, nil
	}
	leaf, err := a.Issue(clustertls.Node(k.ip), []string{k.ip})
	if err != nil {
		return false, err
	}
	m, err := leaf.Material()
	if err != nil {
		return false, err
	}
	k.mu.Lock()
	k.leaf = leaf
	k.mu.Unlock()
	k.mem.Set(m)
	if k.OnRenew != nil {
		k.OnRenew(ctx, leaf.NotAfter)
	}
	return true, nil
}

// Run refreshes every RefreshInterval until ctx ends.
func (k *Keeper) Run(ctx context.Context) error {
	t := time.NewTicker(RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		renewed, err := k.refresh(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			k.log.Warn("cluster certificate refresh failed; retrying", "err", err)
		case renewed:
			k.log.Info("cluster certificate reissued", "issuer", k.Issuer(), "not_after", k.NotAfter())
		}
	}
}
