#!/usr/bin/env bash
# Builds OpenSSH's own dummy FIDO authenticator (regress/misc/sk-dummy, the one OpenSSH's
# regression tests use) from the Debian source of the installed openssh-client, into
# .tools/sk-dummy.so. The FIDO tests load it as the SecurityKeyProvider: no security key here.
# Needs deb-src access to the Debian archive (read through a private apt state dir), gcc,
# libssl-dev and zlib1g-dev. Re-running with the library present does nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="$PWD/.tools/sk-dummy.so"
version=$(dpkg-query -W -f='${Version}' openssh-client)
stamp="$PWD/.tools/sk-dummy.version"
if [ -f "$out" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then exit 0; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" .tools
codename=$(sed -n "s/^VERSION_CODENAME=//p" /etc/os-release)
cat > "$work/apt/src.sources" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $codename $codename-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
apt_opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$work/apt" -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache" -o APT::Sandbox::User=root)
apt-get "${apt_opts[@]}" update -qq
(cd "$work" && apt-get "${apt_opts[@]}" source --download-only -qq "openssh=$version")
tar -C "$work" -xzf "$work"/openssh_*.orig.tar.gz
src=$(find "$work" -maxdepth 1 -type d -name 'openssh-*' | head -1)
(cd "$src" && ./configure -q --with-security-key-builtin=no >/dev/null && make -s -j2 libssh.a openbsd-compat/libopenbsd-compat.a >/dev/null && make -s regress/misc/sk-dummy/sk-dummy.so >/dev/null)
cp "$src/regress/misc/sk-dummy/sk-dummy.so" "$out"
printf '%s' "$version" > "$stamp"
echo "built $out (OpenSSH $version's sk-dummy)"
