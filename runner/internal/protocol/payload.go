// Package protocol is cronium-runner's wire format: the signed job payload the
// app writes on stdin, the control frames that follow it, and the NDJSON
// frames the runner writes back. electron/shared/runner-protocol.ts is its
// TypeScript twin; test/fixtures/runner holds vectors both sides verify.
//
// Trust model (security invariant of this file): nothing from stdin is used
// before Verify has checked, in this order, that the envelope is well formed,
// names the pinned installation key (kid), carries a valid ECDSA P-256
// signature over the exact payload bytes, that those bytes parse strictly
// within the size bounds below, that the payload is within its validity window
// and addressed to this host. Replay is checked afterwards by the caller
// against the state dir (see package replay). Signing raw bytes means no JSON
// canonicalisation is ever needed.
package protocol

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Bounds of a payload; anything larger is rejected before use.
const (
	MaxEnvelopeBytes = 4 << 20
	MaxScriptBytes   = 1 << 20
	MaxInputBytes    = 1 << 20
	MaxEnvEntries    = 256
	MaxEnvValueBytes = 128 << 10
	MaxEnvBytes      = 1 << 20
	// Bounds of mask, the secret values masked in the run's output.
	MaxMaskEntries    = 256
	MinMaskValueBytes = 3
	MaxMaskValueBytes = 4096
	MaxMaskBytes      = 256 << 10
	// MaxLifetime bounds exp-iat: the window in which a payload may start a run.
	MaxLifetime = 24 * time.Hour
	// ClockSkew is how far iat may lie in the future of the host's clock (a host
	// whose clock is behind); the app adds as much to exp (a host ahead). Fleets
	// drift: ±10 minutes must not stop runs, and beyond 15 the refusal says why.
	ClockSkew = 15 * time.Minute

	MaxTimeout        = 7 * 24 * time.Hour
	MaxGrace          = 10 * time.Minute
	MaxOutputBytes    = 4 << 30
	DefaultMaxOutput  = 256 << 20
	MinMemoryBytes    = 16 << 20
	MaxMemoryBytes    = 1 << 40
	MinOpenFiles      = 16
	MaxOpenFiles      = 1 << 20
	MaxCPUSeconds     = 7 * 24 * 3600
	envelopeVersion   = 1
	maxNonceBase64Len = 128
)

// Interpreters the runner accepts.
var Interpreters = []string{"bash", "sh", "python3", "node"}

// Reasons carried by a PAYLOAD_REJECTED error frame.
const (
	ReasonMalformed      = "malformed"
	ReasonUnsigned       = "unsigned"
	ReasonUnknownKey     = "unknown-key"
	ReasonBadSignature   = "bad-signature"
	ReasonInvalidPayload = "invalid-payload"
	ReasonExpired        = "expired"
	ReasonNotYetValid    = "not-yet-valid"
	ReasonWrongHost      = "wrong-host"
	ReasonReplay         = "replay"
)

// Rejection is why a payload was refused; it becomes a PAYLOAD_REJECTED error frame.
type Rejection struct {
	Reason string
	Detail string
}

func (r *Rejection) Error() string { return r.Reason + ": " + r.Detail }

func reject(reason, format string, args ...any) *Rejection {
	return &Rejection{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// Limits are the resource limits of one run.
type Limits struct {
	TimeoutMs      int64  `json:"timeoutMs"`
	GraceMs        int64  `json:"graceMs"`
	CPUSeconds     *int64 `json:"cpuSeconds,omitempty"`
	MemoryBytes    *int64 `json:"memoryBytes,omitempty"`
	OpenFiles      *int64 `json:"openFiles,omitempty"`
	MaxOutputBytes *int64 `json:"maxOutputBytes,omitempty"`
}

// Timeout is the wall-clock limit.
func (l Limits) Timeout() time.Duration { return time.Duration(l.TimeoutMs) * time.Millisecond }

// Grace is the time between TERM and KILL.
func (l Limits) Grace() time.Duration { return time.Duration(l.GraceMs) * time.Millisecond }

// OutputCap is maxOutputBytes or the default.
func (l Limits) OutputCap() int64 {
	if l.MaxOutputBytes != nil {
		return *l.MaxOutputBytes
	}
	return DefaultMaxOutput
}

// Helper transports: how a run's helper calls reach the app.
const (
	TransportTunnel = "tunnel"
	TransportInBand = "in-band"
	TransportNone   = "none"
)

// MaxTokenBytes bounds the helper token (a JWT) of a payload.
const MaxTokenBytes = 4096

// Helper says how the script's runtime helpers reach the app: through the SSH
// reverse tunnel on 127.0.0.1:Port, in-band on the runner's own channel, or
// not at all. Token is the run's helper JWT; it reaches the script only in
// its environment, never on a command line.
type Helper struct {
	Transport string `json:"transport"`
	Port      int64  `json:"port,omitempty"`
	Token     string `json:"token,omitempty"`
	// Exposed is set by the runner, never signed: the tunnel's port listened
	// beyond loopback on these addresses, so Transport became in-band.
	Exposed []string `json:"-"`
}

// Payload is one job run, as signed by the installation key.
type Payload struct {
	JobID       string            `json:"jobId"`
	RunID       string            `json:"runId"`
	HostID      string            `json:"hostId"`
	Nonce       string            `json:"nonce"`
	Iat         int64             `json:"iat"`
	Exp         int64             `json:"exp"`
	Interpreter string            `json:"interpreter"`
	Script      string            `json:"script"`
	Env         map[string]string `json:"env"`
	Input       json.RawMessage   `json:"input,omitempty"`
	Limits      Limits            `json:"limits"`
	Detach      bool              `json:"detach"`
	Pty         bool              `json:"pty"`
	Helper      Helper            `json:"helper"`
	// Mask lists secret values the runner replaces with *** in the script's
	// output before framing it (protocol 3), so neither the spool nor any
	// frame ever holds them, even split across reads. Absent means none.
	Mask []string `json:"mask,omitempty"`
	// Elevation runs the script as root through sudo or doas; Password (sudo
	// only) answers sudo's prompt on its stdin, never on a command line. It is
	// in Mask too. Absent: the script runs as the SSH user.
	Elevation *Elevation `json:"elevation,omitempty"`
}

// Elevation is how a payload's script becomes root.
type Elevation struct {
	Method   string `json:"method"`
	Password string `json:"password,omitempty"`
}

// MaxElevationPasswordBytes bounds an elevation password.
const MaxElevationPasswordBytes = 1024

// Envelope is the signed line on stdin.
type Envelope struct {
	V       int64  `json:"v"`
	Kid     string `json:"kid"`
	Payload string `json:"payload"`
	Sig     string `json:"sig"`
}

// TrustedKey is the pinned installation public key.
type TrustedKey struct {
	Key *ecdsa.PublicKey
	// Kid is the lowercase hex SHA-256 of the key's SPKI DER.
	Kid string
}

// ParsePublicKeyPEM loads a P-256 public key in PEM (SPKI, "PUBLIC KEY").
func ParsePublicKeyPEM(data []byte) (TrustedKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return TrustedKey{}, errors.New("not a PEM PUBLIC KEY")
	}
	ec, err := parseP256SPKI(block.Bytes)
	if err != nil {
		return TrustedKey{}, err
	}
	return TrustedKey{Key: ec, Kid: Kid(block.Bytes)}, nil
}

// p256SPKIPrefix is the DER of a P-256 SubjectPublicKeyInfo up to its point:
// SEQUENCE { SEQUENCE { OID id-ecPublicKey, OID prime256v1 }, BIT STRING (0 unused bits) }.
// Every P-256 SPKI is this prefix and a 65-byte uncompressed point, so the
// runner reads it without crypto/x509 (which, with its dependencies, made up
// much of the binary's size and start-up time).
var p256SPKIPrefix = []byte{
	0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
}

// parseP256SPKI reads a P-256 public key from its SPKI DER; the point must be on the curve.
func parseP256SPKI(der []byte) (*ecdsa.PublicKey, error) {
	if len(der) != len(p256SPKIPrefix)+65 || !bytes.Equal(der[:len(p256SPKIPrefix)], p256SPKIPrefix) {
		return nil, errors.New("not an ECDSA P-256 public key")
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), der[len(p256SPKIPrefix):])
	if err != nil {
		return nil, fmt.Errorf("parsing public key: %w", err)
	}
	return pub, nil
}

// Kid names a key: hex SHA-256 of its SPKI DER.
func Kid(spkiDER []byte) string {
	sum := sha256.Sum256(spkiDER)
	return hex.EncodeToString(sum[:])
}

// VerifyOptions is what a payload is checked against.
type VerifyOptions struct {
	Key    TrustedKey
	HostID string
	Now    time.Time
}

var errNotLine = errors.New("envelope contains a newline")

// Character classes of ids, tokens, variable names and key ids, checked by
// hand (no regexp package in the binary: its init and size cost every run).
func isAlnum(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

// every reports whether s has min..max bytes, the first satisfying first and the rest rest.
func every(s string, min, max int, first, rest func(byte) bool) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		ok := rest(s[i])
		if i == 0 {
			ok = first(s[i])
		}
		if !ok {
			return false
		}
	}
	return true
}

func idChar(c byte) bool        { return isAlnum(c) || c == '.' || c == '_' || c == '-' }
func envChar(c byte) bool       { return isAlnum(c) || c == '_' }
func envFirst(c byte) bool      { return envChar(c) && (c < '0' || c > '9') }
func lowerHex(c byte) bool      { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }
func validEnvKey(s string) bool { return every(s, 1, 256, envFirst, envChar) }
func validKid(s string) bool    { return every(s, 64, 64, lowerHex, lowerHex) }

// base64Std decodes canonical standard base64 only: Go's decoder skips
// newlines even in strict mode, so the input must also re-encode to itself.
var base64Std canonicalBase64

type canonicalBase64 struct{}

func (canonicalBase64) DecodeString(s string) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, err
	}
	if base64.StdEncoding.EncodeToString(b) != s {
		return nil, errors.New("not canonical base64")
	}
	return b, nil
}

// ValidID reports whether s is acceptable as a job, run or host id; run ids
// name directories in the state dir, so this is also what keeps them inside it.
func ValidID(s string) bool { return every(s, 1, 128, isAlnum, idChar) }

// Verify checks a signed envelope line (without its newline) and returns the payload.
func Verify(line []byte, opts VerifyOptions) (*Payload, error) {
	if len(line) > MaxEnvelopeBytes {
		return nil, reject(ReasonMalformed, "envelope is %d bytes, limit %d", len(line), MaxEnvelopeBytes)
	}
	env, err := ParseEnvelope(line)
	if err != nil {
		return nil, err
	}
	if env.Kid != opts.Key.Kid {
		return nil, reject(ReasonUnknownKey, "signed by key %.16s…, this runner trusts %.16s…", env.Kid, opts.Key.Kid)
	}
	body, err := base64Std.DecodeString(env.Payload)
	if err != nil {
		return nil, reject(ReasonMalformed, "payload is not canonical base64")
	}
	sig, err := base64Std.DecodeString(env.Sig)
	if err != nil {
		return nil, reject(ReasonMalformed, "sig is not canonical base64")
	}
	digest := sha256.Sum256(body)
	if !ecdsa.VerifyASN1(opts.Key.Key, digest[:], sig) {
		return nil, reject(ReasonBadSignature, "signature does not verify: payload tampered or signed by another key")
	}
	p, err := ParsePayload(body)
	if err != nil {
		return nil, reject(ReasonInvalidPayload, "%v", err)
	}
	now := opts.Now.UnixMilli()
	if p.Exp < now {
		return nil, reject(ReasonExpired, "payload expired %s ago", time.Duration(now-p.Exp)*time.Millisecond)
	}
	if p.Iat > now+ClockSkew.Milliseconds() {
		return nil, reject(ReasonNotYetValid, "payload issued %s in the future (host clock skew?)", time.Duration(p.Iat-now)*time.Millisecond)
	}
	if p.HostID != opts.HostID {
		return nil, reject(ReasonWrongHost, "payload is for host %q, this is %q", p.HostID, opts.HostID)
	}
	return p, nil
}

// ParseEnvelope parses the envelope's shape without checking its signature.
func ParseEnvelope(line []byte) (*Envelope, error) {
	for _, b := range line {
		if b == '\n' {
			return nil, reject(ReasonMalformed, "%v", errNotLine)
		}
	}
	m, err := object(line, "v", "kid", "payload", "sig")
	if err != nil {
		return nil, reject(ReasonMalformed, "envelope: %v", err)
	}
	var e Envelope
	if err := field(m, "v", &e.V); err != nil {
		return nil, reject(ReasonMalformed, "envelope: %v", err)
	}
	if e.V != envelopeVersion {
		return nil, reject(ReasonMalformed, "envelope version %d, this runner speaks %d", e.V, envelopeVersion)
	}
	if err := field(m, "payload", &e.Payload); err != nil {
		return nil, reject(ReasonMalformed, "envelope: %v", err)
	}
	_, hasKid := m["kid"]
	_, hasSig := m["sig"]
	if !hasKid || !hasSig {
		return nil, reject(ReasonUnsigned, "envelope has no kid or sig")
	}
	if err := field(m, "kid", &e.Kid); err != nil || !validKid(e.Kid) {
		return nil, reject(ReasonMalformed, "kid is not 64 lowercase hex digits")
	}
	if err := field(m, "sig", &e.Sig); err != nil {
		return nil, reject(ReasonMalformed, "envelope: %v", err)
	}
	if e.Sig == "" {
		return nil, reject(ReasonUnsigned, "empty signature")
	}
	return &e, nil
}

// ParsePayload parses and bounds-checks payload JSON bytes. It does not check
// the signature, the validity window or the host: Verify does.
func ParsePayload(body []byte) (*Payload, error) {
	m, err := object(body, "jobId", "runId", "hostId", "nonce", "iat", "exp", "interpreter", "script", "env", "input", "limits", "detach", "pty", "helper", "mask", "elevation")
	if err != nil {
		return nil, err
	}
	var p Payload
	for _, f := range []struct {
		key string
		dst any
	}{
		{"jobId", &p.JobID}, {"runId", &p.RunID}, {"hostId", &p.HostID}, {"nonce", &p.Nonce},
		{"iat", &p.Iat}, {"exp", &p.Exp}, {"interpreter", &p.Interpreter}, {"script", &p.Script},
		{"detach", &p.Detach}, {"pty", &p.Pty},
	} {
		if err := field(m, f.key, f.dst); err != nil {
			return nil, err
		}
	}
	for key, id := range map[string]string{"jobId": p.JobID, "runId": p.RunID, "hostId": p.HostID} {
		if !ValidID(id) {
			return nil, fmt.Errorf("%s must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit", key)
		}
	}
	if nb, err := base64Std.DecodeString(p.Nonce); err != nil || len(p.Nonce) > maxNonceBase64Len || len(nb) < 16 {
		return nil, errors.New("nonce must be 16-96 random bytes in base64")
	}
	if p.Iat <= 0 || p.Exp <= p.Iat || time.Duration(p.Exp-p.Iat)*time.Millisecond > MaxLifetime {
		return nil, fmt.Errorf("need 0 < iat < exp <= iat + %s", MaxLifetime)
	}
	if !contains(Interpreters, p.Interpreter) {
		return nil, fmt.Errorf("interpreter %q is not one of %v", truncate(p.Interpreter, 20), Interpreters)
	}
	if len(p.Script) > MaxScriptBytes {
		return nil, fmt.Errorf("script is %d bytes, limit %d", len(p.Script), MaxScriptBytes)
	}
	if err := field(m, "env", &p.Env); err != nil {
		return nil, err
	}
	if p.Env == nil {
		return nil, errors.New("env must be an object")
	}
	if err := checkEnv(p.Env); err != nil {
		return nil, err
	}
	if raw, ok := m["input"]; ok {
		if len(raw) > MaxInputBytes {
			return nil, fmt.Errorf("input is %d bytes, limit %d", len(raw), MaxInputBytes)
		}
		p.Input = append(json.RawMessage(nil), raw...)
	}
	lraw, ok := m["limits"]
	if !ok {
		return nil, errors.New(`missing field "limits"`)
	}
	if p.Limits, err = parseLimits(lraw); err != nil {
		return nil, err
	}
	hraw, ok := m["helper"]
	if !ok {
		return nil, errors.New(`missing field "helper"`)
	}
	if p.Helper, err = parseHelper(hraw); err != nil {
		return nil, err
	}
	if raw, ok := m["mask"]; ok {
		if p.Mask, err = parseMask(raw); err != nil {
			return nil, err
		}
	}
	if raw, ok := m["elevation"]; ok {
		if p.Elevation, err = parseElevation(raw); err != nil {
			return nil, err
		}
		if p.Pty {
			return nil, errors.New("elevation cannot be combined with pty")
		}
	}
	return &p, nil
}

// parseElevation reads elevation: {method: sudo|doas|su, password?: string}; a
// password is optional for sudo, required for su, refused for doas; at most MaxElevationPasswordBytes, one line.
func parseElevation(raw []byte) (*Elevation, error) {
	m, err := object(raw, "method", "password")
	if err != nil {
		return nil, fmt.Errorf("elevation: %w", err)
	}
	var e Elevation
	if err := field(m, "method", &e.Method); err != nil {
		return nil, fmt.Errorf("elevation: %w", err)
	}
	if e.Method != "sudo" && e.Method != "doas" && e.Method != "su" {
		return nil, fmt.Errorf("elevation method %q is not sudo, doas or su", truncate(e.Method, 20))
	}
	if _, err := optional(m, "password", &e.Password); err != nil {
		return nil, fmt.Errorf("elevation: %w", err)
	}
	if e.Password != "" && e.Method == "doas" {
		return nil, errors.New("elevation: doas takes no password")
	}
	if e.Password == "" && e.Method == "su" {
		return nil, errors.New("elevation: su needs root's password")
	}
	if len(e.Password) > MaxElevationPasswordBytes || strings.ContainsAny(e.Password, "\x00\n\r") {
		return nil, fmt.Errorf("elevation password must be one line of at most %d bytes", MaxElevationPasswordBytes)
	}
	return &e, nil
}

// parseMask reads mask: an array (never null) of strings, each
// MinMaskValueBytes..MaxMaskValueBytes of UTF-8 without NUL, bounded in
// count and in total. Elements are decoded one by one because
// encoding/json would turn a null element into "" silently.
func parseMask(raw []byte) ([]string, error) {
	var elems []json.RawMessage
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &elems) != nil {
		return nil, errors.New("mask must be an array of strings")
	}
	if len(elems) > MaxMaskEntries {
		return nil, fmt.Errorf("mask has %d entries, limit %d", len(elems), MaxMaskEntries)
	}
	out := make([]string, 0, len(elems))
	total := 0
	for i, e := range elems {
		var v string
		if err := decodeValue("mask", e, &v); err != nil {
			return nil, errors.New("mask must be an array of strings")
		}
		if len(v) < MinMaskValueBytes || len(v) > MaxMaskValueBytes {
			return nil, fmt.Errorf("mask[%d] is %d bytes, need %d..%d", i, len(v), MinMaskValueBytes, MaxMaskValueBytes)
		}
		if strings.IndexByte(v, 0) >= 0 {
			return nil, fmt.Errorf("mask[%d] contains a NUL byte", i)
		}
		total += len(v)
		out = append(out, v)
	}
	if total > MaxMaskBytes {
		return nil, fmt.Errorf("mask is %d bytes, limit %d", total, MaxMaskBytes)
	}
	return out, nil
}

func checkEnv(env map[string]string) error {
	if len(env) > MaxEnvEntries {
		return fmt.Errorf("env has %d entries, limit %d", len(env), MaxEnvEntries)
	}
	total := 0
	for k, v := range env {
		if !validEnvKey(k) {
			return fmt.Errorf("env key %q is not a valid variable name", truncate(k, 40))
		}
		if len(v) > MaxEnvValueBytes {
			return fmt.Errorf("env %s is %d bytes, limit %d", k, len(v), MaxEnvValueBytes)
		}
		for i := 0; i < len(v); i++ {
			if v[i] == 0 {
				return fmt.Errorf("env %s contains a NUL byte", k)
			}
		}
		total += len(k) + len(v)
	}
	if total > MaxEnvBytes {
		return fmt.Errorf("env is %d bytes, limit %d", total, MaxEnvBytes)
	}
	return nil
}

func parseLimits(raw []byte) (Limits, error) {
	var l Limits
	m, err := object(raw, "timeoutMs", "graceMs", "cpuSeconds", "memoryBytes", "openFiles", "maxOutputBytes")
	if err != nil {
		return l, fmt.Errorf("limits: %w", err)
	}
	if err := field(m, "timeoutMs", &l.TimeoutMs); err != nil {
		return l, fmt.Errorf("limits: %w", err)
	}
	if err := field(m, "graceMs", &l.GraceMs); err != nil {
		return l, fmt.Errorf("limits: %w", err)
	}
	if l.TimeoutMs < 1 || l.TimeoutMs > MaxTimeout.Milliseconds() {
		return l, fmt.Errorf("limits.timeoutMs must be 1..%d", MaxTimeout.Milliseconds())
	}
	if l.GraceMs < 0 || l.GraceMs > MaxGrace.Milliseconds() {
		return l, fmt.Errorf("limits.graceMs must be 0..%d", MaxGrace.Milliseconds())
	}
	for _, o := range []struct {
		key      string
		dst      **int64
		min, max int64
	}{
		{"cpuSeconds", &l.CPUSeconds, 1, MaxCPUSeconds},
		{"memoryBytes", &l.MemoryBytes, MinMemoryBytes, MaxMemoryBytes},
		{"openFiles", &l.OpenFiles, MinOpenFiles, MaxOpenFiles},
		{"maxOutputBytes", &l.MaxOutputBytes, 1, MaxOutputBytes},
	} {
		var v int64
		ok, err := optional(m, o.key, &v)
		if err != nil {
			return l, fmt.Errorf("limits: %w", err)
		}
		if !ok {
			continue
		}
		if v < o.min || v > o.max {
			return l, fmt.Errorf("limits.%s must be %d..%d", o.key, o.min, o.max)
		}
		*o.dst = &v
	}
	return l, nil
}

func parseHelper(raw []byte) (Helper, error) {
	var h Helper
	m, err := object(raw, "transport", "port", "token")
	if err != nil {
		return h, fmt.Errorf("helper: %w", err)
	}
	if err := field(m, "transport", &h.Transport); err != nil {
		return h, fmt.Errorf("helper: %w", err)
	}
	hasPort, err := optional(m, "port", &h.Port)
	if err != nil {
		return h, fmt.Errorf("helper: %w", err)
	}
	hasToken, err := optional(m, "token", &h.Token)
	if err != nil {
		return h, fmt.Errorf("helper: %w", err)
	}
	if hasToken && !ValidToken(h.Token) {
		return h, fmt.Errorf("helper.token must be 1-%d letters, digits, '.', '_' or '-'", MaxTokenBytes)
	}
	switch h.Transport {
	case TransportTunnel:
		if !hasPort || h.Port < 1 || h.Port > 65535 {
			return h, errors.New("helper.port must be 1..65535 with transport tunnel")
		}
	case TransportInBand, TransportNone:
		if hasPort {
			return h, errors.New("helper.port is only for transport tunnel")
		}
	default:
		return h, fmt.Errorf("helper.transport %q is not tunnel, in-band or none", truncate(h.Transport, 20))
	}
	if (h.Transport != TransportNone) != hasToken {
		return h, errors.New("helper.token is required with transport tunnel or in-band and refused with none")
	}
	return h, nil
}

// ValidToken reports whether s has the shape of a helper token (a JWT).
func ValidToken(s string) bool { return every(s, 1, MaxTokenBytes, idChar, idChar) }
