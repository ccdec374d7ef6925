#!/usr/bin/env bash
# Fetches a Debian kernel for the kernel matrix and prints where it is unpacked.
#
#   scripts/kernels/fetch.sh ALIAS        # 6.1 | 6.12 | 7.2 | 7.3-rc
#   scripts/kernels/fetch.sh --list       # what each alias maps to today
#
# An alias names a Debian suite; the kernel is that suite's current `linux-image-cloud-amd64`
# (the `cloud` flavour boots in a plain QEMU with an initramfs and is the smallest):
#
#   6.1 -> bookworm   6.12 -> trixie   7.2 -> sid   7.3-rc -> experimental
#
# The suite's version is checked against the alias (7.2 means sid still carries 7.2.x); a
# mismatch is an error that says what the suite carries now.
#
# The mirror is the machine's own: the first non-security `URIs:` of
# /etc/apt/sources.list.d/*.sources (or the first `deb` line of /etc/apt/sources.list). The
# suites live in a private apt state under $KERNELS_DIR/apt (default target/kernels): the
# system's apt configuration is never touched. The unpacked kernel is cached under
# $KERNELS_DIR/debian/<package>/ (vmlinuz, modules/); a second run downloads nothing.
#
# Output (stdout, one line): `<alias> <package> <version> <dir>`. Progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${KERNELS_DIR:-$PWD/target/kernels}
apt_dir=$dir/apt

say() { echo "kernels: $*" >&2; }
die() { echo "kernels: error: $*" >&2; exit 1; }

suite_of() {
    case "$1" in
        6.1) echo bookworm ;;
        6.12) echo trixie ;;
        7.2) echo sid ;;
        7.3-rc) echo experimental ;;
        *) return 1 ;;
    esac
}

# The Debian mirror this machine uses (never written into the project).
mirror() {
    local uri=""
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f")
        [ -n "$uri" ] && break
    done
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri=$(awk '/^deb / { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { if ($i !~ /security/) { print $i; exit } } }' /etc/apt/sources.list)
    fi
    [ -n "$uri" ] || die "no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"
    echo "$uri"
}

apt_opts=(
    -o "Dir::Etc::SourceList=$apt_dir/etc/sources.list"
    -o "Dir::Etc::SourceParts=$apt_dir/etc/sources.list.d"
    -o "Dir::Etc::PreferencesParts=$apt_dir/etc/preferences.d"
    -o "Dir::Etc::Preferences=$apt_dir/etc/preferences"
    -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::State::status=$apt_dir/status"
    -o "Dir::Cache=$apt_dir/cache"
    -o "Debug::NoLocking=1"
    -o "APT::Get::List-Cleanup=0"
)

# The private apt state, updated at most once a day.
apt_state() {
    mkdir -p "$apt_dir/etc/sources.list.d" "$apt_dir/etc/preferences.d" "$apt_dir/lists/partial" \
        "$apt_dir/cache/archives/partial"
    touch "$apt_dir/status"
    local uri keyring=/usr/share/keyrings/debian-archive-keyring.gpg want
    uri=$(mirror)
    [ -f "$keyring" ] || die "$keyring missing (install debian-archive-keyring)"
    want=$(for s in bookworm trixie sid experimental; do echo "deb [signed-by=$keyring] $uri $s main"; done)
    if [ "$want" != "$(cat "$apt_dir/etc/sources.list" 2>/dev/null)" ] \
        || [ -z "$(find "$apt_dir/lists" -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
        echo "$want" >"$apt_dir/etc/sources.list"
        say "updating the private apt state ($apt_dir: bookworm trixie sid experimental)"
        apt-get "${apt_opts[@]}" -qq update >&2 || die "apt-get update of the private apt state failed (mirror $uri)"
    fi
}

# `<version>` of the flavour's meta package in a suite.
suite_version() {
    apt-cache "${apt_opts[@]}" madison "$1" | awk -v s="$2" '$0 ~ " "s"/main" { print $3; exit }'
}

if [ "${1:-}" = "--list" ]; then
    apt_state
    for a in 6.1 6.12 7.2 7.3-rc; do
        s=$(suite_of "$a")
        echo "$a -> $s: linux-image-cloud-amd64 $(suite_version linux-image-cloud-amd64 "$s")"
    done
    exit 0
fi

[ $# -eq 1 ] || die "usage: $0 ALIAS | --list"
alias=$1
suite=$(suite_of "$alias") || die "unknown kernel alias '$alias' (known: 6.1 6.12 7.2 7.3-rc, host, or a path to a kernel image)"

# The cache: a kernel already unpacked for this alias today is used without apt at all.
stamp=$dir/debian/$alias.resolved
if [ -f "$stamp" ] && [ -n "$(find "$stamp" -mmin -1440)" ]; then
    read -r pkg ver kdir <"$stamp"
    if [ -f "$kdir/vmlinuz" ]; then
        say "$alias: cached $pkg $ver"
        echo "$alias $pkg $ver $kdir"
        exit 0
    fi
fi

apt_state
meta=linux-image-cloud-amd64
ver=$(suite_version "$meta" "$suite")
[ -n "$ver" ] || die "$alias: $suite carries no $meta (mirror $(mirror))"
# 7.3~rc7-1~exp1 -> 7.3-rc; 7.2.13-1 -> 7.2; 6.1.176-1 -> 6.1
short=$(echo "$ver" | sed -E 's/^([0-9]+\.[0-9]+)(\.[0-9]+)?(~rc[0-9]+)?.*/\1\3/; s/~rc[0-9]+/-rc/')
[ "$short" = "$alias" ] || die "$alias: $suite now carries $meta $ver ($short), not $alias; use alias $short or a kernel image path"
pkg=$(apt-cache "${apt_opts[@]}" show "$meta=$ver" | awk -F': ' '/^Depends:/ { n = split($2, d, ", "); for (i = 1; i <= n; i++) if (d[i] ~ /^linux-image-/) { sub(/ .*/, "", d[i]); print d[i]; exit } }')
[ -n "$pkg" ] || die "$alias: cannot read which image package $meta $ver depends on"

# Since 7.x Debian splits the image package into linux-binary-* (vmlinuz) and linux-modules-*.
parts=("$pkg")
while read -r d; do parts+=("$d"); done < <(apt-cache "${apt_opts[@]}" show "$pkg" \
    | awk -F': ' '/^Depends:/ { n = split($2, d, ", "); for (i = 1; i <= n; i++) { sub(/ .*/, "", d[i]); if (d[i] ~ /^linux-(binary|modules)-/) print d[i] } exit }')

kdir=$dir/debian/$pkg
if [ ! -f "$kdir/vmlinuz" ]; then
    mkdir -p "$dir/debian/debs"
    rm -rf "$kdir.tmp"
    mkdir -p "$kdir.tmp/root"
    for part in "${parts[@]}"; do
        deb=$(ls "$dir/debian/debs/${part}_"*.deb 2>/dev/null | head -1 || true)
        if [ -z "$deb" ]; then
            say "$alias: downloading $part ($suite, $meta $ver)"
            (cd "$dir/debian/debs" && apt-get "${apt_opts[@]}" -o APT::Sandbox::User=root -qq download "$part" >&2) \
                || die "$alias: apt-get download $part failed"
            deb=$(ls "$dir/debian/debs/${part}_"*.deb | head -1)
        fi
        say "$alias: unpacking $(basename "$deb")"
        dpkg-deb -x "$deb" "$kdir.tmp/root"
    done
    img=$(find "$kdir.tmp/root" -path "*/usr/share" -prune -o -name "vmlinuz*" -type f -print | head -1)
    [ -n "$img" ] || die "$alias: ${parts[*]} hold no vmlinuz"
    mv "$img" "$kdir.tmp/vmlinuz"
    mods=$(ls -d "$kdir.tmp/root/lib/modules/"* "$kdir.tmp/root/usr/lib/modules/"* 2>/dev/null | head -1 || true)
    [ -n "$mods" ] && mv "$mods" "$kdir.tmp/modules"
    rm -rf "$kdir.tmp/root"
    rm -rf "$kdir"
    mv "$kdir.tmp" "$kdir"
fi
echo "$pkg $ver $kdir" >"$stamp"
echo "$alias $pkg $ver $kdir"
