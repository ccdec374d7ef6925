#!/usr/bin/env bash
# Builds the initramfs of the kernel-matrix guests, in two concatenated cpio archives:
#
#   scripts/kernels/initramfs.sh base LIST EXTRA... OUT.cpio   # shared by every kernel
#   scripts/kernels/initramfs.sh modules MODDIR OUT.cpio       # the kernel modules of one kernel
#
# base: busybox (static), /init (guest-init), /etc/passwd and /etc/group, util-linux
# and coreutils tools the tests start (unshare, setpriv, readlink, ...) when the host has them, the test binaries of LIST (lines `label dir exe`) at their
# host paths (stripped of debug info; so env!("CARGO_BIN_EXE_*") and CARGO_MANIFEST_DIR paths
# baked into the tests hold in the guest), their working directories, nsbench's report fixtures,
# and every shared library they link (ldd). EXTRA are `path=/matrix/name` pairs (the probe, the
# bench) copied the same way. /matrix/tests.list is LIST.
#
# modules: the modules the tests need (veth) and their dependencies (from each module's
# .modinfo), decompressed (.xz, .zst) so that busybox insmod loads them, listed in /matrix/modules.list in
# load order. A kernel without MODDIR or with veth built in gets an empty list.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

die() { echo "kernels: error: $*" >&2; exit 1; }

# Copies a host file into the tree at the same path, with its shared libraries.
put_exe() { # tree src [dst]
    local tree=$1 src=$2 dst=${3:-$2}
    mkdir -p "$tree$(dirname "$dst")"
    strip --strip-debug -o "$tree$dst" "$src" 2>/dev/null || cp -L "$src" "$tree$dst"
    chmod 755 "$tree$dst"
    ldd "$src" 2>/dev/null | awk '/=> \// { print $3 } /^[ \t]*\/[^ ]+ \(/ { print $1 }' | while read -r lib; do
        if [ ! -e "$tree$lib" ]; then
            mkdir -p "$tree$(dirname "$lib")"
            cp -L "$lib" "$tree$lib"
        fi
    done
}

mkcpio() { # tree out
    (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | busybox cpio -o -H newc 2>/dev/null) >"$2.tmp"
    mv "$2.tmp" "$2"
}

case "${1:-}" in
base)
    [ $# -ge 3 ] || die "usage: $0 base LIST EXTRA... OUT.cpio"
    list=$2
    shift 2
    out=${*: -1}
    extras=("${@:1:$#-1}")
    tree=$(mktemp -d "${out%/*}/base.XXXXXX")
    trap 'rm -rf "$tree"' EXIT
    bb=$(command -v busybox) || die "busybox missing (apt-get install busybox-static)"
    file -L "$bb" 2>/dev/null | grep -q 'statically linked' || [ -x /bin/busybox ] || die "$bb is not static"
    # merged /usr as on Debian: /bin and /sbin are links, so that the host tools below win over
    # busybox's applets (which guest-init links only where no file is) on any PATH
    mkdir -p "$tree/usr/bin" "$tree/usr/sbin" "$tree/matrix" "$tree/etc" "$tree/proc" "$tree/sys" "$tree/dev" \
        "$tree/tmp" "$tree/root"
    ln -s usr/bin "$tree/bin"
    ln -s usr/sbin "$tree/sbin"
    cp -L "$bb" "$tree/usr/bin/busybox"
    cp scripts/kernels/guest-init "$tree/init"
    chmod 755 "$tree/init"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$tree/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$tree/etc/group"
    # host tools the tests start, where busybox's differ: util-linux unshare (the spawn
    # benchmark's reference), setpriv, nsenter; coreutils readlink (several paths at once), ...
    for tool in unshare setpriv nsenter readlink true false sleep cat env id; do
        path=$(type -P "$tool" || true)
        if [ -n "$path" ]; then put_exe "$tree" "$path" "/usr/bin/$tool"; fi
    done
    # the statically linked ldconfig, which nscore's `Spawn::root` test copies into a new root
    [ -x /sbin/ldconfig ] && put_exe "$tree" "$(readlink -f /sbin/ldconfig)" /sbin/ldconfig
    # and the host's /bin/sh (dash): Debian's busybox sh runs its own applets before any PATH
    put_exe "$tree" "$(readlink -f /bin/sh)" /usr/bin/sh
    while read -r label dir exe _; do
        [ -n "$label" ] || continue
        mkdir -p "$tree$dir"
        put_exe "$tree" "$exe"
    done <"$list"
    cp "$list" "$tree/matrix/tests.list"
    # other executables the tests start by path (env!("CARGO_BIN_EXE_*")): the workspace's bins
    for exe in "$root"/target/debug/*; do
        if [ -f "$exe" ] && [ -x "$exe" ] && [ ! -e "$tree$exe" ]; then put_exe "$tree" "$exe"; fi
    done
    if [ -d nsbench/tests/fixtures ]; then
        mkdir -p "$tree$root/nsbench/tests"
        cp -r nsbench/tests/fixtures "$tree$root/nsbench/tests/"
    fi
    for e in "${extras[@]}"; do
        put_exe "$tree" "${e%%=*}" "${e#*=}"
    done
    mkcpio "$tree" "$out"
    ;;
modules)
    [ $# -eq 3 ] || die "usage: $0 modules MODDIR OUT.cpio"
    moddir=$2 out=$3
    tree=$(mktemp -d "${out%/*}/mods.XXXXXX")
    trap 'rm -rf "$tree"' EXIT
    mkdir -p "$tree/matrix/mod"
    : >"$tree/matrix/modules.list"
    # A module, after its dependencies (read from its .modinfo: Debian's packages ship no
    # modules.dep, which depmod makes at install time).
    add_module() { # name
        local name=$1 f dst dep
        [ -e "$tree/matrix/mod/$name.ko" ] && return 0
        f=$(find "$moddir" -name "$name.ko" -o -name "$name.ko.xz" -o -name "$name.ko.zst" -o -name "$name.ko.gz" | head -1)
        [ -n "$f" ] || return 0 # built in, or absent: the tests say so
        dst=$tree/matrix/mod/$name.ko
        case "$f" in
            *.xz) xz -dc "$f" >"$dst" ;;
            *.zst) zstd -qdc "$f" >"$dst" ;;
            *.gz) gzip -dc "$f" >"$dst" ;;
            *) cp "$f" "$dst" ;;
        esac
        for dep in $(strings -a "$dst" | sed -n 's/^depends=//p' | tr ',' ' '); do
            add_module "$dep"
        done
        echo "/matrix/mod/$name.ko" >>"$tree/matrix/modules.list"
    }
    if [ -n "$moddir" ] && [ -d "$moddir" ]; then
        for want in veth; do
            add_module "$want"
        done
    fi
    mkcpio "$tree" "$out"
    ;;
*)
    die "usage: $0 base LIST EXTRA... OUT.cpio | modules MODDIR OUT.cpio"
    ;;
esac
