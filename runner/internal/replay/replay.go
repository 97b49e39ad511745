// Package replay remembers which runs and nonces a host has already accepted,
// so a captured payload cannot be run twice.
//
// Security invariant: Claim is atomic across processes. Each id becomes one
// file created with O_CREAT|O_EXCL, which exactly one concurrent `run` can win;
// the file's mtime is set to the payload's expiry so it can be pruned once no
// payload carrying that id can pass the expiry check any more.
package replay

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrReplay is returned by Claim when an id was already claimed.
var ErrReplay = errors.New("already seen")

// Store is a directory of claimed ids.
type Store struct {
	Dir string
	// Skew is how long after its expiry a claim is kept (the verifier's clock allowance).
	Skew time.Duration
}

// Claim records runID and nonce as used until exp; ErrReplay (wrapped, naming
// which) when either was already recorded.
func (s Store) Claim(runID, nonce string, exp time.Time) error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	// The nonce first: a replayed payload fails there without touching its run id.
	for _, c := range []struct{ kind, id string }{{"nonce", nonce}, {"run", runID}} {
		name := filepath.Join(s.Dir, c.kind+"-"+digest(c.id))
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s %w", c.kind, ErrReplay)
		}
		if err != nil {
			return err
		}
		f.Close()
		if err := os.Chtimes(name, exp, exp); err != nil {
			return err
		}
	}
	return nil
}

// Prune removes claims whose expiry (plus skew) has passed. Claims are
// named by hash, so listing them reveals nothing about past runs.
func (s Store) Prune(now time.Time) error {
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "run-") && !strings.HasPrefix(e.Name(), "nonce-") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		if info.ModTime().Add(s.Skew).Before(now) {
			_ = os.Remove(filepath.Join(s.Dir, e.Name()))
		}
	}
	return nil
}

func digest(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}
