// Package mask replaces secret values in a byte stream with "***" before the
// stream is framed, so a secret never reaches the spool or a frame, also when
// the script writes it in pieces or a read boundary splits it.
//
// Invariant guarded here: the concatenation of everything Push and End
// return contains no secret of the masker (unless the secret itself contains
// "***" bytes that masking produced), and it is the same however the input
// was cut into chunks: the stream is scanned left to right, at each position
// the longest secret that starts there is replaced, and a tail that is a
// proper prefix of a secret is held back until the next chunk or End decides
// it. This is the runner's twin of the app's SecretMasker
// (electron/core/logs/secret-masker.ts), which stays on as a second line.
package mask

import "bytes"

// Replacement is what each masked secret becomes.
var Replacement = []byte("***")

// MinSecretBytes: shorter values would mask ordinary output ("1", "on") and
// protect nothing, so they are ignored.
const MinSecretBytes = 3

// Masker masks one stream; use one per stream of a run. A nil *Masker (what
// New returns for nothing to mask) passes data through untouched, without a
// copy: the fast path of every run without secrets.
type Masker struct {
	// secrets are distinct, at least MinSecretBytes long, longest first.
	secrets [][]byte
	// first marks the bytes some secret starts with.
	first [256]bool
	// maxLen is the longest secret's length.
	maxLen int
	// pending is the held-back tail (a proper prefix of some secret).
	pending []byte
	// next caches, per secret, its next occurrence in the data being scanned.
	next []int
}

// New returns a masker of secrets, or nil when none is at least MinSecretBytes long.
func New(secrets []string) *Masker {
	seen := map[string]bool{}
	m := &Masker{}
	for _, s := range secrets {
		if len(s) < MinSecretBytes || seen[s] {
			continue
		}
		seen[s] = true
		m.secrets = append(m.secrets, []byte(s))
		m.first[s[0]] = true
		m.maxLen = max(m.maxLen, len(s))
	}
	if len(m.secrets) == 0 {
		return nil
	}
	// Longest first: at one position the longest secret wins ("hunter2" over "hunter").
	for i := 1; i < len(m.secrets); i++ {
		for j := i; j > 0 && len(m.secrets[j]) > len(m.secrets[j-1]); j-- {
			m.secrets[j], m.secrets[j-1] = m.secrets[j-1], m.secrets[j]
		}
	}
	m.next = make([]int, len(m.secrets))
	return m
}

// Push masks a chunk and returns what can be released now: possibly less
// than was given (a tail is held back), possibly more (the previous tail,
// now decided). The result may alias chunk; it is valid until the next call.
func (m *Masker) Push(chunk []byte) []byte {
	if m == nil {
		return chunk
	}
	data := chunk
	if len(m.pending) > 0 {
		data = append(m.pending, chunk...)
	}
	out, rest := m.scan(data, false)
	m.pending = append([]byte(nil), rest...)
	return out
}

// End releases what was held back, masked, at the end of the stream.
func (m *Masker) End() []byte {
	if m == nil || len(m.pending) == 0 {
		return nil
	}
	out, _ := m.scan(m.pending, true)
	m.pending = nil
	return out
}

// Pending is how many bytes are held back.
func (m *Masker) Pending() int {
	if m == nil {
		return 0
	}
	return len(m.pending)
}

// scan masks data and returns the released part and the held-back tail (none at eof).
func (m *Masker) scan(data []byte, eof bool) (out, rest []byte) {
	n := len(data)
	for j := range m.next {
		m.next[j] = -2 // not looked up yet
	}
	// Only the last maxLen-1 positions can start a proper prefix of a secret.
	holdFrom := n
	if !eof {
		holdFrom = max(0, n-m.maxLen+1)
	}
	hold := holdFrom // positions in [holdFrom, hold) are known not to start a held tail
	i := 0
	for {
		q, length := m.nextMatch(data, i)
		// A held tail at or before the next match wins: the secret it may
		// start is longer than anything complete at that position.
		lim := q
		if lim > n-1 {
			lim = n - 1
		}
		for hold = max(hold, i); hold <= lim; hold++ {
			if m.couldStart(data[hold:]) {
				if out == nil {
					return data[:hold], data[hold:] // nothing matched before: no copy
				}
				return append(out, data[i:hold]...), data[hold:]
			}
		}
		if q >= n {
			if out == nil {
				return data, nil // nothing matched: no copy
			}
			return append(out, data[i:]...), nil
		}
		if out == nil {
			out = make([]byte, 0, n)
		}
		out = append(append(out, data[i:q]...), Replacement...)
		i = q + length
	}
}

// nextMatch finds the first complete occurrence of a secret at or after
// from, and the longest secret there; q is len(data) when there is none.
func (m *Masker) nextMatch(data []byte, from int) (q, length int) {
	q = len(data)
	for j, s := range m.secrets {
		at := m.next[j]
		if at == -1 {
			continue
		}
		if at < from {
			if k := bytes.Index(data[from:], s); k >= 0 {
				at = from + k
			} else {
				at = -1
			}
			m.next[j] = at
			if at < 0 {
				continue
			}
		}
		// Longest first, so at a tie the earlier secret is the longer one.
		if at < q {
			q, length = at, len(s)
		}
	}
	return q, length
}

// couldStart reports whether tail is a proper prefix of some secret.
func (m *Masker) couldStart(tail []byte) bool {
	if len(tail) == 0 || len(tail) >= m.maxLen || !m.first[tail[0]] {
		return false
	}
	for _, s := range m.secrets {
		if len(s) <= len(tail) {
			break // longest first: no later secret is longer
		}
		if bytes.HasPrefix(s, tail) {
			return true
		}
	}
	return false
}
