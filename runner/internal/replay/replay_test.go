package replay

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

func TestClaim(t *testing.T) {
	s := Store{Dir: t.TempDir(), Skew: time.Minute}
	exp := time.Now().Add(time.Hour)
	tests := []struct {
		name, run, nonce string
		want             error
	}{
		{"first", "r1", "n1", nil},
		{"same run, new nonce", "r1", "n2", ErrReplay},
		{"same nonce, new run", "r2", "n1", ErrReplay},
		{"both new", "r3", "n3", nil},
	}
	for _, tc := range tests {
		if err := s.Claim(tc.run, tc.nonce, exp); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestClaimConcurrent(t *testing.T) {
	s := Store{Dir: t.TempDir(), Skew: time.Minute}
	exp := time.Now().Add(time.Hour)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if s.Claim("same-run", fmt.Sprintf("nonce-%d", i), exp) == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d claims of one run id succeeded, want 1", wins)
	}
}

func TestPrune(t *testing.T) {
	s := Store{Dir: t.TempDir(), Skew: time.Minute}
	now := time.Now()
	if err := s.Claim("old", "old-nonce", now.Add(-2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.Claim("live", "live-nonce", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Prune(now); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(s.Dir)
	if len(entries) != 2 {
		t.Fatalf("%d claims left, want the 2 live ones", len(entries))
	}
	if err := s.Claim("live", "x", now.Add(time.Hour)); !errors.Is(err, ErrReplay) {
		t.Errorf("live claim pruned: %v", err)
	}
	if err := s.Claim("old", "old-nonce", now.Add(time.Hour)); err != nil {
		t.Errorf("expired claim kept: %v", err)
	}
}
