// Package secret seals data-source passwords with AES-256-GCM under one key kept in the MetaDB.
//
// It is its own package, not part of project or task, because two roles need it without needing
// each other: project seals passwords (rm.data_sources, and the "enc:v1:" strings inside cm.tasks
// specs) and the supervisor opens task specs when it writes a component's 0600 spec file. It
// knows neither projects nor tasks, only the key row and the sealed format.
package secret

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/omsdev/oms/internal/sqlgen"
)

// keyConfigName is the cm.config row holding the data-source key. Every node of every region must
// decrypt the passwords the console stored, so the key lives in the MetaDB (cm database) rather
// than in one node's files; the rm database (data_sources, projects) holds only ciphertext. See
// docs/control-plane.md for what this protects against and what it does not.
const keyConfigName = "datasource_key"

// encPrefix marks an encrypted string inside a JSON task spec.
const encPrefix = "enc:v1:"

// Keyring encrypts and decrypts data-source passwords with AES-256-GCM.
type Keyring struct{ aead cipher.AEAD }

// Load reads the key from cmDB's config table, creating it on first use (INSERT IGNORE, so
// two nodes starting at once agree on one key).
func Load(ctx context.Context, db *sql.DB, cmDB string) (*Keyring, error) {
	tbl := sqlgen.QuoteIdent(cmDB) + ".config"
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("generate data source key: %w", err)
	}
	if _, err := db.ExecContext(ctx, "INSERT IGNORE INTO "+tbl+" (name, scope, value) VALUES (?, '', ?)",
		keyConfigName, base64.StdEncoding.EncodeToString(k)); err != nil {
		return nil, fmt.Errorf("store data source key: %w", err)
	}
	var v string
	if err := db.QueryRowContext(ctx, "SELECT value FROM "+tbl+" WHERE name = ? AND scope = ''", keyConfigName).Scan(&v); err != nil {
		return nil, fmt.Errorf("read data source key: %w", err)
	}
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(raw) != 32 {
		return nil, errors.New("read data source key: config row datasource_key is not a base64 32-byte key")
	}
	return New(raw)
}

// New builds a keyring from a 32-byte key.
func New(key []byte) (*Keyring, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("data source key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("data source key: %w", err)
	}
	return &Keyring{aead: aead}, nil
}

// SealOverhead is how many bytes Seal adds to the plaintext (the AES-GCM nonce and tag): a
// column of n bytes holds a sealed value of at most n-SealOverhead plaintext bytes.
const SealOverhead = 12 + 16

// Seal encrypts plain (nonce || ciphertext), SealOverhead bytes longer than plain.
func (k *Keyring) Seal(plain string) []byte {
	nonce := make([]byte, k.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return k.aead.Seal(nonce, nonce, []byte(plain), nil)
}

// Open decrypts what Seal returned.
func (k *Keyring) Open(sealed []byte) (string, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("decrypt password: ciphertext too short")
	}
	plain, err := k.aead.Open(nil, sealed[:n], sealed[n:], nil)
	if err != nil {
		return "", fmt.Errorf("decrypt password (wrong datasource_key?): %w", err)
	}
	return string(plain), nil
}

// SealString returns an "enc:v1:" string for embedding in a JSON spec.
func (k *Keyring) SealString(plain string) string {
	return encPrefix + base64.StdEncoding.EncodeToString(k.Seal(plain))
}

// OpenString opens what SealString returned.
func (k *Keyring) OpenString(sealed string) (string, error) {
	if !strings.HasPrefix(sealed, encPrefix) {
		return "", errors.New("decrypt: not a sealed value")
	}
	raw, err := base64.StdEncoding.DecodeString(sealed[len(encPrefix):])
	if err != nil {
		return "", fmt.Errorf("decode sealed value: %w", err)
	}
	return k.Open(raw)
}

// OpenJSON replaces every "enc:v1:..." string value in a JSON document with its plaintext (the
// supervisor does this when it writes a component's 0600 spec file).
func (k *Keyring) OpenJSON(doc []byte) ([]byte, error) {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return nil, fmt.Errorf("decode spec config: %w", err)
	}
	out, err := k.openValue(v)
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

func (k *Keyring) openValue(v any) (any, error) {
	switch t := v.(type) {
	case string:
		if !strings.HasPrefix(t, encPrefix) {
			return t, nil
		}
		return k.OpenString(t)
	case map[string]any:
		for key, e := range t {
			d, err := k.openValue(e)
			if err != nil {
				return nil, err
			}
			t[key] = d
		}
	case []any:
		for i, e := range t {
			d, err := k.openValue(e)
			if err != nil {
				return nil, err
			}
			t[i] = d
		}
	}
	return v, nil
}
