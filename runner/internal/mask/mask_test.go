package mask

import (
	"bytes"
	"math/rand"
	"strings"
	"testing"
)

// feed pushes chunks then ends, returning everything released.
func feed(m *Masker, chunks ...string) string {
	var out bytes.Buffer
	for _, c := range chunks {
		out.Write(m.Push([]byte(c)))
	}
	out.Write(m.End())
	return out.String()
}

func TestMask(t *testing.T) {
	big := strings.Repeat("x", 64<<10-6)
	tests := []struct {
		name    string
		secrets []string
		chunks  []string
		want    string
	}{
		{"whole in one read", []string{"hunter2secret"}, []string{"pw=hunter2secret\n"}, "pw=***\n"},
		{"split across 2 reads", []string{"hunter2secret"}, []string{"pw=hunter", "2secret\n"}, "pw=***\n"},
		{"split across 3 reads", []string{"hunter2secret"}, []string{"pw=hun", "ter2se", "cret\n"}, "pw=***\n"},
		{"one byte at a time", []string{"hunter2secret"}, strings.Split("a hunter2secret b", ""), "a *** b"},
		{"at a 64 KiB read boundary", []string{"hunter2secret"}, []string{big + "hunter", "2secret" + big}, big + "***" + big},
		{"every occurrence", []string{"abc"}, []string{"abcabc-abc", "ab", "c"}, "******-******"},
		{"nested: the longest wins", []string{"hunter", "hunter2secret"}, []string{"hunter2secret hunter"}, "*** ***"},
		{"nested, split where the shorter ends", []string{"hunter", "hunter2secret"}, []string{"hunter", "2secret"}, "***"},
		{"nested, the longer one not completed", []string{"hunter", "hunter2secret"}, []string{"hunter", "2sec!"}, "***2sec!"},
		{"nested inside", []string{"ter2", "hunter2secret"}, []string{"xhunter2secretx ter2"}, "x***x ***"},
		{"overlapping: leftmost first", []string{"abcd", "cdef"}, []string{"abcdef cdef"}, "***ef ***"},
		{"overlapping, split", []string{"abcd", "cdef"}, []string{"ab", "cdef"}, "***ef"},
		{"prefix held then completed", []string{"password"}, []string{"my pass", "word!"}, "my ***!"},
		{"prefix held then disproved", []string{"password"}, []string{"my pass", "port"}, "my passport"},
		{"prefix held then flushed at EOF", []string{"password"}, []string{"my pass"}, "my pass"},
		{"repeated prefix", []string{"aab"}, []string{"aaaa", "ab"}, "aaa***"},
		{"short secrets ignored", []string{"on", "", "key"}, []string{"on key"}, "on ***"},
		{"duplicates", []string{"key", "key"}, []string{"key"}, "***"},
		{"multi-byte UTF-8 split mid-rune", []string{"wörld"}, []string{"hello w\xc3", "\xb6rld"}, "hello ***"},
		{"empty chunks", []string{"key"}, []string{"", "k", "", "ey", ""}, "***"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := feed(New(tc.secrets), tc.chunks...); got != tc.want {
				t.Errorf("got %q, want %q", abbreviate(got), abbreviate(tc.want))
			}
		})
	}
}

func abbreviate(s string) string {
	if len(s) > 80 {
		return s[:40] + "…" + s[len(s)-40:]
	}
	return s
}

// A tail that may start a secret is not released until it is decided, and
// what is released never holds a piece that later completes a secret.
func TestHoldBack(t *testing.T) {
	m := New([]string{"hunter2secret"})
	if got := m.Push([]byte("pw=hunter")); string(got) != "pw=" {
		t.Fatalf("first read released %q, want %q", got, "pw=")
	}
	if m.Pending() != len("hunter") {
		t.Errorf("pending = %d, want %d", m.Pending(), len("hunter"))
	}
	if got := m.Push([]byte("2sec")); len(got) != 0 {
		t.Fatalf("second read released %q, want nothing", got)
	}
	if got := m.Push([]byte("ret and more")); string(got) != "*** and more" {
		t.Errorf("third read released %q", got)
	}
	if m.Pending() != 0 || m.End() != nil {
		t.Error("something still held")
	}
	// Only a tail that can start a secret is held.
	m = New([]string{"secret"})
	if got := m.Push([]byte("no prefix here: xyz")); string(got) != "no prefix here: xyz" {
		t.Errorf("released %q", got)
	}
}

// The fast path: nothing to mask means no masker and byte-identical data, not even copied.
func TestEmptyMaskPassesThrough(t *testing.T) {
	for _, secrets := range [][]string{nil, {}, {"", "ab"}} {
		m := New(secrets)
		if m != nil {
			t.Fatalf("New(%q) = %v, want nil", secrets, m)
		}
		in := []byte("anything \x00\xff at all")
		out := m.Push(in)
		if !bytes.Equal(in, out) || &out[0] != &in[0] {
			t.Errorf("Push copied or changed the data: %q", out)
		}
		if m.End() != nil || m.Pending() != 0 {
			t.Error("a nil masker held data")
		}
	}
	// With secrets, a chunk that needs no masking is not copied either.
	m := New([]string{"secret"})
	in := []byte("plain output\n")
	if out := m.Push(in); &out[0] != &in[0] {
		t.Error("an unmasked chunk was copied")
	}
}

// reference masks a whole stream by the documented rule: left to right, at
// each position the longest secret that starts there.
func reference(data string, secrets []string) string {
	var out strings.Builder
	for i := 0; i < len(data); {
		best := 0
		for _, s := range secrets {
			if len(s) >= MinSecretBytes && len(s) > best && strings.HasPrefix(data[i:], s) {
				best = len(s)
			}
		}
		if best > 0 {
			out.WriteString("***")
			i += best
			continue
		}
		out.WriteByte(data[i])
		i++
	}
	return out.String()
}

// However the stream is cut, the output is the reference's, and no secret survives.
func TestChunkingDoesNotMatter(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = "abc\n"[rng.Intn(4)]
		}
		return string(b)
	}
	for iter := 0; iter < 3000; iter++ {
		var secrets []string
		for k := rng.Intn(5); k >= 0; k-- {
			secrets = append(secrets, word(1+rng.Intn(7)))
		}
		data := word(rng.Intn(200))
		if len(secrets) > 0 && rng.Intn(2) == 0 {
			at := rng.Intn(len(data) + 1)
			data = data[:at] + secrets[0] + data[at:]
		}
		var chunks []string
		for rest := data; len(rest) > 0; {
			n := 1 + rng.Intn(min(len(rest), 12))
			chunks = append(chunks, rest[:n])
			rest = rest[n:]
		}
		want := reference(data, secrets)
		if got := feed(New(secrets), chunks...); got != want {
			t.Fatalf("secrets %q, chunks %q: got %q, want %q", secrets, chunks, got, want)
		}
		for _, s := range secrets {
			if len(s) >= MinSecretBytes && strings.Contains(want, s) {
				t.Fatalf("secret %q survives in %q (data %q)", s, want, data)
			}
		}
	}
}

func BenchmarkPush(b *testing.B) {
	chunk := bytes.Repeat([]byte("2026-11-28 12:00:00 INFO request served in 12 ms\n"), (64<<10)/50)
	for _, k := range []int{0, 1, 16, 256} {
		var secrets []string
		for i := 0; i < k; i++ {
			secrets = append(secrets, "s3cr3t-value-"+strings.Repeat("x", i%32)+"-end")
		}
		b.Run(map[int]string{0: "none", 1: "1", 16: "16", 256: "256"}[k], func(b *testing.B) {
			m := New(secrets)
			b.SetBytes(int64(len(chunk)))
			for i := 0; i < b.N; i++ {
				m.Push(chunk)
			}
		})
	}
}

// FuzzMask: cut anywhere, the output is the reference's.
func FuzzMask(f *testing.F) {
	f.Add("pw=hunter2secret\n", "hunter2secret", "hunter", uint16(7), uint16(9))
	f.Add("abcdef cdef", "abcd", "cdef", uint16(2), uint16(2))
	f.Fuzz(func(t *testing.T, data, s1, s2 string, cut1, cut2 uint16) {
		secrets := []string{s1, s2}
		a := min(int(cut1), len(data))
		b := min(a+int(cut2), len(data))
		if got, want := feed(New(secrets), data[:a], data[a:b], data[b:]), reference(data, secrets); got != want {
			t.Fatalf("secrets %q, cut %d/%d of %q: got %q, want %q", secrets, a, b, data, got, want)
		}
	})
}
