package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// object decodes raw as one JSON object whose keys are all in allowed, each at
// most once, and returns the raw value of each key. encoding/json alone would
// match keys case-insensitively and let a duplicate key silently win, so a
// signed payload could mean one thing to the app's zod schema and another here.
func object(raw []byte, allowed ...string) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	out := make(map[string]json.RawMessage, len(allowed))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not JSON: %w", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errors.New("not JSON: object key is not a string")
		}
		if !contains(allowed, key) {
			return nil, fmt.Errorf("unknown field %q", truncate(key, 40))
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("duplicate field %q", key)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("field %q: not JSON: %w", key, err)
		}
		out[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON object")
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// field decodes a required key of m into dst.
func field(m map[string]json.RawMessage, key string, dst any) error {
	raw, ok := m[key]
	if !ok {
		return fmt.Errorf("missing field %q", key)
	}
	return decodeValue(key, raw, dst)
}

// optional decodes key into dst when present and not null; it reports whether it did.
func optional(m map[string]json.RawMessage, key string, dst any) (bool, error) {
	raw, ok := m[key]
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return false, nil
	}
	return true, decodeValue(key, raw, dst)
}

func decodeValue(key string, raw json.RawMessage, dst any) error {
	switch d := dst.(type) {
	case *string:
		if len(raw) == 0 || raw[0] != '"' {
			return fmt.Errorf("field %q: want a string", key)
		}
	case *bool:
		if s := string(raw); s != "true" && s != "false" {
			return fmt.Errorf("field %q: want a boolean", key)
		}
	case *int64:
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil || len(raw) == 0 || raw[0] == '"' {
			return fmt.Errorf("field %q: want an integer", key)
		}
		v, err := n.Int64()
		if err != nil {
			return fmt.Errorf("field %q: want an integer", key)
		}
		*d = v
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("field %q: %v", key, err)
	}
	return nil
}
