package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"math/big"

	"github.com/recurhq/recur/chartmogul"
)

// DefaultAccount is the account `recur serve` creates on first start.
const DefaultAccount = "default"

// EnsureAccount returns the account with this name, creating it with the
// default settings (USD, UTC) when there is none.
func (s *Store) EnsureAccount(ctx context.Context, name string) (*chartmogul.Account, error) {
	var out *chartmogul.Account
	err := s.eng.writeTx(ctx, func(tx *txn) error {
		a, err := accountByName(ctx, tx, name)
		if err == nil {
			out = a
			return nil
		}
		if !chartmogul.IsNotFound(err) {
			return err
		}
		uuid := chartmogul.NewID(chartmogul.PrefixAccount)
		if _, err := tx.exec(ctx, `INSERT INTO accounts (uuid, name, created_at) VALUES ($1, $2, $3)`, uuid, name, micros(s.now())); err != nil {
			return internal("create account", err)
		}
		out, err = accountByName(ctx, tx, name)
		return err
	})
	return out, err
}

const accountColumns = `id, uuid, name, currency, time_zone, week_start_on, created_at`

func scanAccount(r row) (*chartmogul.Account, error) {
	var a chartmogul.Account
	var created int64
	if err := r.Scan(&a.ID, &a.UUID, &a.Name, &a.Currency, &a.TimeZone, &a.WeekStartOn, &created); err != nil {
		return nil, err
	}
	a.CreatedAt = fromMicros(created)
	return &a, nil
}

func accountByName(ctx context.Context, q querier, name string) (*chartmogul.Account, error) {
	a, err := scanAccount(q.queryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE name = $1`, name))
	if isNoRows(err) {
		return nil, chartmogul.Errorf(chartmogul.ENOTFOUND, "there is no account named %s", chartmogul.Quote(name))
	}
	return a, internal("find account", err)
}

// Account returns an account by id.
func (s *Store) Account(ctx context.Context, id int64) (*chartmogul.Account, error) {
	a, err := scanAccount(s.eng.read().queryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, id))
	if isNoRows(err) {
		return nil, chartmogul.NotFound("Account")
	}
	return a, internal("find account", err)
}

// HashKey returns what the database stores of an API key: its SHA-256, hex.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// keyAlphabet spells generated keys: letters and digits, so a key survives
// copying from a terminal and needs no escaping in a URL or a shell.
const keyAlphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// NewKey returns a new random API key: "rk_" and 32 characters, about 190
// bits of entropy.
func NewKey() string {
	b := make([]byte, 32)
	max := big.NewInt(int64(len(keyAlphabet)))
	for i := range b {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
		b[i] = keyAlphabet[n.Int64()]
	}
	return "rk_" + string(b)
}

// keyPrefixLen is how much of a key listings show.
const keyPrefixLen = 7

func keyPrefix(key string) string {
	if len(key) <= keyPrefixLen {
		return key
	}
	return key[:keyPrefixLen]
}

// InstallKey stores key for the account unless it is stored already (even
// revoked: restarting with a revoked key in the environment must not bring
// it back). It reports whether the key was new.
func (s *Store) InstallKey(ctx context.Context, accountID int64, key string, access chartmogul.KeyAccess) (bool, error) {
	if len(key) < 16 {
		return false, chartmogul.Errorf(chartmogul.EINVALID, "an API key must be at least 16 characters long")
	}
	var created bool
	err := s.eng.writeTx(ctx, func(tx *txn) error {
		n, err := tx.exec(ctx, `INSERT INTO api_keys (account_id, hash, prefix, access, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hash) DO NOTHING`,
			accountID, HashKey(key), keyPrefix(key), string(access), micros(s.now()))
		created = n > 0
		return internal("store API key", err)
	})
	return created, err
}

// CreateKey generates a key for the account, stores its hash and returns the
// key itself, which is never shown again.
func (s *Store) CreateKey(ctx context.Context, accountID int64, access chartmogul.KeyAccess) (string, error) {
	key := NewKey()
	_, err := s.InstallKey(ctx, accountID, key, access)
	return key, err
}

// HasKeys reports whether the account has any key, revoked or not.
func (s *Store) HasKeys(ctx context.Context, accountID int64) (bool, error) {
	var n int64
	err := s.eng.read().queryRow(ctx, `SELECT COUNT(*) FROM api_keys WHERE account_id = $1`, accountID).Scan(&n)
	return n > 0, internal("count API keys", err)
}

// Authenticate returns the account and access level of an API key. It
// returns an EUNAUTHORIZED error for an unknown or revoked key.
func (s *Store) Authenticate(ctx context.Context, key string) (*chartmogul.Account, chartmogul.KeyAccess, error) {
	var access string
	var revoked sql.NullInt64
	var accountID int64
	err := s.eng.read().queryRow(ctx, `SELECT account_id, access, revoked_at FROM api_keys WHERE hash = $1`, HashKey(key)).Scan(&accountID, &access, &revoked)
	if isNoRows(err) || (err == nil && revoked.Valid) {
		return nil, "", &chartmogul.Error{Code: chartmogul.EUNAUTHORIZED, Message: "No valid API key provided"}
	}
	if err != nil {
		return nil, "", internal("authenticate", err)
	}
	a, err := s.Account(ctx, accountID)
	return a, chartmogul.KeyAccess(access), err
}

// Keys lists every key of every account, oldest first.
func (s *Store) Keys(ctx context.Context) ([]chartmogul.APIKey, error) {
	r, err := s.eng.read().query(ctx, `SELECT k.id, k.account_id, a.name, k.prefix, k.access, k.created_at, k.revoked_at
		FROM api_keys k JOIN accounts a ON a.id = k.account_id ORDER BY k.id`)
	if err != nil {
		return nil, internal("list API keys", err)
	}
	defer r.Close()
	var out []chartmogul.APIKey
	for r.Next() {
		var k chartmogul.APIKey
		var access string
		var created int64
		var revoked sql.NullInt64
		if err := r.Scan(&k.ID, &k.AccountID, &k.Account, &k.Prefix, &access, &created, &revoked); err != nil {
			return nil, internal("list API keys", err)
		}
		k.Access, k.CreatedAt, k.RevokedAt = chartmogul.KeyAccess(access), fromMicros(created), optTime(revoked)
		out = append(out, k)
	}
	return out, internal("list API keys", r.Err())
}

// RevokeKey revokes the key with this id. It returns ENOTFOUND when there is
// no such key, and does nothing to a key already revoked.
func (s *Store) RevokeKey(ctx context.Context, id int64) error {
	return s.eng.writeTx(ctx, func(tx *txn) error {
		var n int64
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM api_keys WHERE id = $1`, id).Scan(&n); err != nil {
			return internal("revoke API key", err)
		}
		if n == 0 {
			return chartmogul.Errorf(chartmogul.ENOTFOUND, "there is no API key with id %d; `recur keys list` shows the keys", id)
		}
		_, err := tx.exec(ctx, `UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, micros(s.now()), id)
		return internal("revoke API key", err)
	})
}
