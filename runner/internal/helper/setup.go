package helper

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/cronium/desktop/runner/internal/protocol"
)

//go:embed lib/python/cronium.py lib/node/cronium.js
var lib embed.FS

// DirName is the helper dir inside a run's state dir.
const DirName = "helper"

// maxSockPath keeps the socket path within sun_path on every target (104
// bytes on the BSDs and macOS, 108 on Linux, NUL included).
const maxSockPath = 100

// Dir is a run's private helper dir and the shared part it uses:
//
//	<runDir>/helper/            0700, the run's own
//	  input.json                the job input (0600), when the payload has one
//	  sock                      the relay's unix socket (0600)
//	  relay.json                {transport, socket} (never the token): lets
//	                            `attach` serve a detached run's in-band calls again
//	<state>/helper-lib/<key>/   0700, the same for every run of this runner binary (Lib)
//	  bin/cronium               symlink to the runner binary (it acts as `cronium` under that name)
//	  lib/python/cronium.py     the python3 module
//	  lib/node/cronium.js       the node module
//
// The shared part is made once (see SharedLib) and checked before every run,
// so a run creates three inodes for its helpers rather than ten.
//
// When <runDir>/helper/sock would be too long for a unix socket path, the
// socket lives in a private temp dir instead (SockDir), removed with the rest.
type Dir struct {
	Root  string
	Lib   string
	Sock  string
	Input string // "" without input
	// SockDir is the private temp dir holding Sock when it is not in Root.
	SockDir string
}

// Bin is the `cronium` command.
func (d *Dir) Bin() string { return filepath.Join(d.Lib, "bin", "cronium") }

// libFiles are the modules in the shared part, by path inside it.
var libFiles = []string{"lib/python/cronium.py", "lib/node/cronium.js"}

// SharedLib returns the shared part of the helper dirs for the runner binary
// self under libRoot (<state>/helper-lib), making it if needed. Its name is a
// hash of self and the modules' bytes, so another runner binary gets its own.
// It is made in a temp dir and renamed into place (two runs making it at once
// both end up with one whole dir), and before every run its link and modules
// are compared with what they must be: one that differs is set aside and made
// again, so a run never uses modules other than its runner's own.
func SharedLib(libRoot, self string) (string, error) {
	if self == "" {
		return "", errors.New("the runner binary's path is unknown")
	}
	h := sha256.New()
	h.Write([]byte(self))
	contents := make([][]byte, len(libFiles))
	for i, name := range libFiles {
		b, err := lib.ReadFile(name)
		if err != nil {
			return "", err
		}
		contents[i] = b
		h.Write([]byte{0})
		h.Write(b)
	}
	dir := filepath.Join(libRoot, hex.EncodeToString(h.Sum(nil))[:24])
	if libIntact(dir, self, contents) {
		return dir, nil
	}
	if err := os.MkdirAll(libRoot, 0o700); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(libRoot, ".new-")
	if err != nil {
		return "", err
	}
	if err := fillLib(tmp, self, contents); err != nil {
		_ = os.RemoveAll(tmp)
		return "", err
	}
	if _, err := os.Lstat(dir); err == nil {
		if libIntact(dir, self, contents) {
			// Another run made it meanwhile: never set a whole one aside (a third maker would then
			// find neither it nor its own in place).
			_ = os.RemoveAll(tmp)
			return dir, nil
		}
		// Present but not intact: set it aside (a run may still be using it) and replace it.
		if aside, err := os.MkdirTemp(libRoot, ".old-"); err == nil {
			_ = os.Rename(dir, filepath.Join(aside, "lib"))
			_ = os.RemoveAll(aside)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.RemoveAll(tmp)
		if libIntact(dir, self, contents) {
			return dir, nil // another run made it first
		}
		return "", err
	}
	return dir, nil
}

// libIntact says whether dir holds exactly the shared part for self: a
// private directory owned by this user, the link to self and the modules.
func libIntact(dir, self string, contents [][]byte) bool {
	st, err := os.Lstat(dir)
	if err != nil || !st.IsDir() || st.Mode().Perm() != 0o700 || !ownedByMe(st) {
		return false
	}
	if target, err := os.Readlink(filepath.Join(dir, "bin", "cronium")); err != nil || target != self {
		return false
	}
	for i, name := range libFiles {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() {
			return false
		}
		if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, contents[i]) {
			return false
		}
	}
	return true
}

func ownedByMe(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}

func fillLib(dir, self string, contents [][]byte) error {
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	for _, sub := range []string{"bin", "lib", filepath.Join("lib", "python"), filepath.Join("lib", "node")} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			return err
		}
	}
	if err := os.Symlink(self, filepath.Join(dir, "bin", "cronium")); err != nil {
		return err
	}
	for i, name := range libFiles {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), contents[i], 0o600); err != nil {
			return err
		}
	}
	return nil
}

// Prepare creates the helper dir of a run, with the shared part under libRoot
// (<state>/helper-lib); self is the runner binary. The caller removes the
// run's own dir with Remove when the run ends (the shared part stays).
func Prepare(runDir, libRoot string, p *protocol.Payload, self string) (*Dir, error) {
	libDir, err := SharedLib(libRoot, self)
	if err != nil {
		return nil, err
	}
	d := &Dir{Root: filepath.Join(runDir, DirName), Lib: libDir}
	if err := os.Mkdir(d.Root, 0o700); err != nil {
		return nil, err
	}
	fail := func(err error) (*Dir, error) {
		d.Remove()
		return nil, err
	}
	if len(p.Input) > 0 {
		d.Input = filepath.Join(d.Root, "input.json")
		if err := os.WriteFile(d.Input, append(append([]byte(nil), p.Input...), '\n'), 0o600); err != nil {
			return fail(err)
		}
	}
	d.Sock = filepath.Join(d.Root, "sock")
	if len(d.Sock) > maxSockPath {
		dir, err := shortPrivateDir()
		if err != nil {
			return fail(fmt.Errorf("no short path for the helper socket: %w", err))
		}
		d.SockDir, d.Sock = dir, filepath.Join(dir, "sock")
	}
	info, _ := json.Marshal(RelayInfo{Transport: p.Helper.Transport, Socket: d.Sock})
	if err := os.WriteFile(filepath.Join(d.Root, relayInfoFile), info, 0o600); err != nil {
		return fail(err)
	}
	return d, nil
}

const relayInfoFile = "relay.json"

// RelayInfo is what another process needs to serve a run's helper socket.
type RelayInfo struct {
	Transport string `json:"transport"`
	Socket    string `json:"socket"`
}

// ReadRelayInfo reads a live run's relay.json; false once the run has ended.
func ReadRelayInfo(runDir string) (RelayInfo, bool) {
	var ri RelayInfo
	b, err := os.ReadFile(filepath.Join(runDir, DirName, relayInfoFile))
	if err != nil || json.Unmarshal(b, &ri) != nil || ri.Socket == "" {
		return ri, false
	}
	return ri, true
}

// Open describes the helper dir Prepare made (in another process: the
// detached supervisor), given the socket path it chose.
func Open(runDir, libDir string, p *protocol.Payload, sock string) *Dir {
	d := &Dir{Root: filepath.Join(runDir, DirName), Lib: libDir, Sock: sock}
	if len(p.Input) > 0 {
		d.Input = filepath.Join(d.Root, "input.json")
	}
	if filepath.Dir(sock) != d.Root {
		d.SockDir = filepath.Dir(sock)
	}
	return d
}

func shortPrivateDir() (string, error) {
	var last error
	for _, base := range []string{os.TempDir(), "/tmp", "/dev/shm"} {
		dir, err := os.MkdirTemp(base, "cronium-h")
		if err != nil {
			last = err
			continue
		}
		if len(filepath.Join(dir, "sock")) > maxSockPath {
			os.Remove(dir)
			last = errors.New(dir + " is too long")
			continue
		}
		// MkdirTemp makes it 0700 already; say so explicitly.
		if err := os.Chmod(dir, 0o700); err != nil {
			os.Remove(dir)
			return "", err
		}
		return dir, nil
	}
	return "", last
}

// Remove deletes the helper dir (and the socket's temp dir).
func (d *Dir) Remove() {
	_ = os.RemoveAll(d.Root)
	if d.SockDir != "" {
		_ = os.RemoveAll(d.SockDir)
	}
}

// Environ adds what a script needs to reach its helpers to env (the run's
// environment, payload env included): the `cronium` command first on PATH,
// the python3 and node modules first on PYTHONPATH and NODE_PATH, and the
// CRONIUM_HELPER_* and CRONIUM_INPUT_FILE variables. The token is only ever
// put here, never on a command line.
func (d *Dir) Environ(env []string, h protocol.Helper) []string {
	get := func(k string) string {
		for i := len(env) - 1; i >= 0; i-- {
			if key, v, ok := strings.Cut(env[i], "="); ok && key == k {
				return v
			}
		}
		return ""
	}
	prepend := func(dir, old string) string {
		if old == "" {
			return dir
		}
		return dir + string(os.PathListSeparator) + old
	}
	path := get("PATH")
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	set := map[string]string{
		"PATH":                     prepend(filepath.Join(d.Lib, "bin"), path),
		"PYTHONPATH":               prepend(filepath.Join(d.Lib, "lib", "python"), get("PYTHONPATH")),
		"NODE_PATH":                prepend(filepath.Join(d.Lib, "lib", "node"), get("NODE_PATH")),
		"CRONIUM_HELPER_SOCKET":    d.Sock,
		"CRONIUM_HELPER_BIN":       d.Bin(),
		"CRONIUM_HELPER_TRANSPORT": h.Transport,
	}
	if h.Token != "" {
		set["CRONIUM_HELPER_TOKEN"] = h.Token
	}
	if d.Input != "" {
		set["CRONIUM_INPUT_FILE"] = d.Input
	}
	out := make([]string, 0, len(env)+len(set))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if _, ours := set[k]; ours || k == "CRONIUM_HELPER_TOKEN" || k == "CRONIUM_INPUT_FILE" {
			continue
		}
		out = append(out, kv)
	}
	for _, k := range []string{"PATH", "PYTHONPATH", "NODE_PATH", "CRONIUM_HELPER_SOCKET", "CRONIUM_HELPER_BIN",
		"CRONIUM_HELPER_TRANSPORT", "CRONIUM_HELPER_TOKEN", "CRONIUM_INPUT_FILE"} {
		if v, ok := set[k]; ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// ForwarderFor picks the transport the payload names; send writes in-band frames.
func ForwarderFor(h protocol.Helper, send func(*protocol.Frame) error) Forwarder {
	switch h.Transport {
	case protocol.TransportTunnel:
		return Tunnel{Port: int(h.Port)}
	case protocol.TransportInBand:
		return NewInBand(send)
	}
	return None{}
}
