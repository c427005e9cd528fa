#!/usr/bin/env bash
# vm-lane.sh — the full-kernel lane: run one command under a stock Debian kernel
# in a throwaway qemu guest that sees the host filesystem.
#
#   scripts/vm-lane.sh --setup [--refresh]
#   scripts/vm-lane.sh [options] -- CMD [ARGS...]
#
# The guest runs CMD as root in the same directory, with the host environment.
# stdout and stderr come back separately and byte-exact; stdin is /dev/null; the
# exit status is CMD's. The host root is visible read-only with a RAM overlay on
# top (writes are thrown away), except for directories given with --rw. See
# scripts/VM-LANE.md.
#
# Exit status besides CMD's own: 124 = timeout (qemu killed), 125 = the lane
# itself failed, 77 = the lane cannot be set up on this machine (reason on
# stderr as "vm-lane: unavailable: ..."), 64 = usage error.
set -euo pipefail

# Bump when the cache layout, the initramfs or the module handling changes.
readonly LANE_VERSION=4
readonly EX_UNAVAILABLE=77 EX_LANE=125 EX_TIMEOUT=124 EX_USAGE=64

CACHE=${EVPND_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/evpnd-vm-lane}
DEFAULT_MODULES=vrf,8021q,dummy,bridge,vxlan,veth,macvlan
# Modules /init loads from the initramfs (dependencies are added at setup).
readonly INITRD_MODULES="virtio_pci virtio_console 9p 9pnet_virtio overlay"

usage() {
  cat <<'EOF'
usage: vm-lane.sh --setup [--refresh]
       vm-lane.sh [options] -- CMD [ARGS...]

options:
  --timeout SECS   kill the guest after SECS seconds, exit 124 (default 1800)
  --mem SIZE       guest memory, qemu syntax (default 2G)
  --smp N          guest vCPUs (default 2)
  --modules LIST   comma-separated modules to preload
                   (default vrf,8021q,dummy,bridge,vxlan,veth,macvlan; '' = none,
                   on-demand loading still works)
  --rw DIR         share DIR read-write at the same path (repeatable); everything
                   else is read-only with a throwaway RAM overlay
  --accel MODE     auto (default), kvm or tcg
  --console FILE   keep the guest serial console log in FILE
  --setup          download/extract kernel + busybox into the cache, then exit
  --refresh        with --setup: re-resolve the kernel package even if the apt
                   lists did not change

environment: EVPND_VM_CACHE (cache dir), EVPND_VM_KERNEL_PKG (kernel package to
use instead of the one linux-image-amd64 depends on), EVPND_VM_QUIET=1 (no TCG
note), EVPND_VM_DEBUG=1 (verbose guest boot with timing marks, console log on
stderr), EVPND_VM_DEBUG=2 (also set -x in the guest boot scripts).
EOF
}

say() { printf 'vm-lane: %s\n' "$*" >&2; }
die() { say "$*"; exit "$EX_LANE"; }
unavailable() { say "unavailable: $*"; exit "$EX_UNAVAILABLE"; }
have() { command -v "$1" >/dev/null 2>&1; }
# Single-quote a string for a POSIX shell.
shq() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }

# --------------------------------------------------------------------------
# setup
# --------------------------------------------------------------------------

stamp_get() { # stamp_get KEY -> value from $CACHE/stamp
  sed -n "s/^$1=//p" "$CACHE/stamp" 2>/dev/null | head -n1
}

stamp_valid() {
  [ -f "$CACHE/stamp" ] || return 1
  [ "$(stamp_get lane_version)" = "$LANE_VERSION" ] || return 1
  local krel
  krel=$(stamp_get krel)
  [ -n "$krel" ] && [ -f "$CACHE/vmlinux" ] && [ -f "$CACHE/initramfs.cpio" ] &&
    [ -x "$CACHE/bin/busybox" ] && [ -f "$CACHE/kernel/lib/modules/$krel/modules.dep" ]
}

# True if the stamp is valid and apt's package lists did not change since it
# was written (so resolving linux-image-amd64 again would give the same answer).
stamp_fresh() {
  stamp_valid || return 1
  [ -z "${EVPND_VM_KERNEL_PKG:-}" ] || [ "$(stamp_get kpkg)" = "$EVPND_VM_KERNEL_PKG" ] || return 1
  [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -cnewer "$CACHE/stamp" 2>/dev/null | head -n1)" ]
}

ensure_host_tools() {
  local missing=() pkgs=()
  have qemu-system-x86_64 || { missing+=(qemu-system-x86_64); pkgs+=(qemu-system-x86); }
  have xz || { missing+=(xz); pkgs+=(xz-utils); }
  have perl || { missing+=(perl); pkgs+=(perl); }
  [ ${#pkgs[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    unavailable "missing ${missing[*]} and not root (apt-get install ${pkgs[*]})"
  fi
  have apt-get || unavailable "missing ${missing[*]} and no apt-get"
  say "installing ${pkgs[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  if ! timeout 900 apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; then
    timeout 300 apt-get update -qq || true
    timeout 900 apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null ||
      unavailable "apt-get install ${pkgs[*]} failed"
  fi
}

apt_update_once_done=
apt_update_once() {
  [ -z "$apt_update_once_done" ] || return 1
  apt_update_once_done=1
  [ "$(id -u)" -eq 0 ] || return 1
  say "running apt-get update"
  timeout 300 apt-get update -qq >&2 || return 1
}

# Prints the kernel image package linux-image-amd64 currently depends on.
resolve_kernel_pkg() {
  if [ -n "${EVPND_VM_KERNEL_PKG:-}" ]; then
    printf '%s\n' "$EVPND_VM_KERNEL_PKG"
    return 0
  fi
  local pkg attempt
  for attempt in 1 2; do
    pkg=$(apt-cache show --no-all-versions linux-image-amd64 2>/dev/null |
      sed -n 's/^Depends:.*\(linux-image-[0-9][^ ,]*-amd64\).*/\1/p' | head -n1)
    if [ -n "$pkg" ]; then
      printf '%s\n' "$pkg"
      return 0
    fi
    [ "$attempt" = 1 ] || break
    apt_update_once || break
  done
  return 1
}

# Writes the signature-stripping helper (perl) to $1.
write_strip_helper() {
  cat >"$1" <<'PERL'
# Removes appended module signatures ("~Module signature appended~\n" trailer,
# preceded by struct module_signature: 5 bytes, 3 pad, be32 sig_len), so that
# loading a module under TCG skips the RSA verification. Prints the count.
use strict; use warnings;
my $magic = "~Module signature appended~\n";
my $n = 0;
for my $f (@ARGV) {
    open(my $fh, '+<:raw', $f) or die "$f: $!\n";
    my $size = -s $fh;
    next if $size < 40;
    seek($fh, $size - 40, 0) or die "$f: seek: $!\n";
    (read($fh, my $tail, 40) // -1) == 40 or die "$f: short read\n";
    next unless substr($tail, 12) eq $magic;
    my (undef, undef, undef, $signer_len, $keyid_len, undef, $sig_len) =
        unpack('C C C C C a3 N', substr($tail, 0, 12));
    my $new = $size - 40 - $sig_len - $signer_len - $keyid_len;
    die "$f: bad signature trailer\n" if $new <= 0;
    truncate($fh, $new) or die "$f: truncate: $!\n";
    $n++;
}
print "$n\n";
PERL
}

# Writes to stdout the dependency-ordered module paths (relative to the
# modules dir, dependencies first) needed to load the given module names.
module_closure() { # module_closure MODULES_DEP NAME...
  local dep=$1; shift
  awk -v want="$*" '
    function base(p,   b) { b = p; sub(/.*\//, "", b); sub(/\.ko(\.[a-z]+)?$/, "", b); gsub(/-/, "_", b); return b }
    function visit(m,   i, n, d) {
      if (m in seen) return
      seen[m] = 1
      n = split(deps[m], d, " ")
      for (i = 1; i <= n; i++) visit(d[i])
      print m
    }
    {
      p = $1; sub(/:$/, "", p)
      path[base(p)] = p
      deps[p] = ""
      for (i = 2; i <= NF; i++) deps[p] = deps[p] " " $i
    }
    END {
      n = split(want, w, " ")
      for (i = 1; i <= n; i++) {
        b = w[i]; gsub(/-/, "_", b)
        if (!(b in path)) { print "module not found: " w[i] > "/dev/stderr"; exit 1 }
        visit(path[b])
      }
    }' "$dep"
}

do_setup() { # do_setup KPKG ; caller holds the exclusive lock
  local kpkg=$1 t0 dl krel kdir n off bb
  t0=$(date +%s.%N)
  say "setting up in $CACHE (kernel package $kpkg)"
  rm -rf "${CACHE:?}/stamp" "${CACHE:?}/dl" "${CACHE:?}/kernel" "${CACHE:?}/bb" "${CACHE:?}/bin" \
    "${CACHE:?}/initrd" "${CACHE:?}/vmlinux" "${CACHE:?}/initramfs.cpio"

  dl=$CACHE/dl
  mkdir -p "$dl"
  # apt drops privileges to _apt for downloads when it can write the target dir.
  if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$dl" 2>/dev/null || true; fi
  local ok=
  for _ in 1 2; do
    if (cd "$dl" && timeout 600 apt-get download -q "$kpkg" busybox-static >/dev/null 2>"$CACHE/dl.err"); then
      ok=1; break
    fi
    apt_update_once || break
  done
  if [ -z "$ok" ]; then
    local why
    why=$(grep -E '^(E|W):' "$CACHE/dl.err" | head -n2 | tr '\n' ' ')
    why=${why% }
    unavailable "apt-get download $kpkg busybox-static failed: ${why:-$(tail -n1 "$CACHE/dl.err")}"
  fi
  rm -f "$CACHE/dl.err"

  mkdir -p "$CACHE/kernel" "$CACHE/bb" "$CACHE/bin"
  local kdeb kversion
  kdeb=$(ls "$dl"/"$kpkg"_*.deb)
  kversion=$(dpkg-deb -f "$kdeb" Version)
  dpkg-deb -x "$kdeb" "$CACHE/kernel"
  dpkg-deb -x "$(ls "$dl"/busybox-static_*.deb)" "$CACHE/bb"
  cp "$CACHE/bb/bin/busybox" "$CACHE/bin/busybox"
  bb=$CACHE/bin/busybox
  for a in modprobe insmod rmmod lsmod depmod modinfo ping ping6 arping; do
    ln -sf busybox "$CACHE/bin/$a"
  done

  # Debian 12 ships /lib/modules/<krel>; newer releases /usr/lib/modules.
  if [ -d "$CACHE/kernel/usr/lib/modules" ] && [ ! -d "$CACHE/kernel/lib/modules" ]; then
    mkdir -p "$CACHE/kernel/lib"
    mv "$CACHE/kernel/usr/lib/modules" "$CACHE/kernel/lib/modules"
  fi
  krel=$(ls "$CACHE/kernel/lib/modules")
  if [ -z "$krel" ] || [ "$(printf '%s\n' "$krel" | wc -l)" != 1 ]; then die "setup: expected one kernel release in $kpkg, got: $krel"; fi
  kdir=$CACHE/kernel/lib/modules/$krel

  # busybox modprobe wants plain .ko files.
  find "$kdir" -name '*.ko.xz' -exec xz -d {} +
  if find "$kdir" -name '*.ko.*' | grep -q .; then die "setup: unsupported module compression in $kpkg"; fi
  write_strip_helper "$CACHE/strip-sig.pl"
  n=$(find "$kdir" -name '*.ko' -print0 | xargs -0 perl "$CACHE/strip-sig.pl" | awk '{s += $1} END {print s + 0}')
  rm -f "$CACHE/strip-sig.pl"
  "$bb" depmod -b "$CACHE/kernel" "$krel"

  # Uncompressed ELF vmlinux (PVH boot): saves the in-guest decompression.
  local vmlinuz=$CACHE/kernel/boot/vmlinuz-$krel
  [ -f "$vmlinuz" ] || die "setup: no $vmlinuz in $kpkg"
  off=$(perl -0777 -ne 'my $i = index($_, "\xfd7zXZ\x00"); print $i' "$vmlinuz")
  if [ "${off:--1}" -ge 0 ] && grep -q '^CONFIG_PVH=y' "$CACHE/kernel/boot/config-$krel" &&
    xz -dc --single-stream < <(tail -c +"$((off + 1))" "$vmlinuz" 2>/dev/null) >"$CACHE/vmlinux.tmp" 2>/dev/null &&
    [ "$(head -c 4 "$CACHE/vmlinux.tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
    mv "$CACHE/vmlinux.tmp" "$CACHE/vmlinux"
  else
    say "setup: could not extract an ELF vmlinux; booting the compressed image"
    rm -f "$CACHE/vmlinux.tmp"
    cp "$vmlinuz" "$CACHE/vmlinux"
  fi

  # initramfs: busybox, the virtio/9p/overlay modules, /init.
  local ird=$CACHE/initrd m
  mkdir -p "$ird/bin" "$ird/sbin" "$ird/usr/bin" "$ird/usr/sbin" "$ird/proc" "$ird/sys" \
    "$ird/dev" "$ird/mnt/ctl" "$ird/mnt/lower" "$ird/mnt/rw" "$ird/newroot" "$ird/lib/modules/$krel"
  cp "$bb" "$ird/bin/busybox"
  # shellcheck disable=SC2086 # word splitting of the module list is intended
  module_closure "$kdir/modules.dep" $INITRD_MODULES >"$ird/modules.list"
  while IFS= read -r m; do
    mkdir -p "$ird/lib/modules/$krel/$(dirname "$m")"
    cp "$kdir/$m" "$ird/lib/modules/$krel/$m"
  done <"$ird/modules.list"
  cat >"$ird/init" <<'INIT'
#!/bin/busybox sh
# Stage 0 (initramfs): load virtio/9p modules, mount the control share and run
# the per-run stage1 script from it.
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# qemu runs with -no-reboot, so a reset ends it (works with or without ACPI).
fail() { echo "vm-lane init: $*" >/dev/console; reboot -f; }
krel=$(uname -r)
while read -r m; do
  insmod "/lib/modules/$krel/$m" || fail "insmod $m failed"
done </modules.list
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 evpnctl /mnt/ctl || fail "cannot mount the control share"
. /mnt/ctl/stage1
fail "stage1 returned"
INIT
  chmod 755 "$ird/init"
  (cd "$ird" && find . | LC_ALL=C sort | "$bb" cpio -o -H newc 2>/dev/null) >"$CACHE/initramfs.cpio"

  rm -rf "$dl" "$CACHE/bb" "$ird"
  {
    echo "lane_version=$LANE_VERSION"
    echo "kpkg=$kpkg"
    echo "kversion=$kversion"
    echo "krel=$krel"
    echo "stripped_signatures=$n"
    echo "created=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  } >"$CACHE/stamp.tmp"
  mv "$CACHE/stamp.tmp" "$CACHE/stamp"
  say "setup done in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s: kernel $krel, $n module signatures stripped, cache $(du -sh "$CACHE" | cut -f1)"
}

LOCK_FD=
lock() { # lock -s|-x : take the cache lock (bounded wait)
  mkdir -p "$CACHE" || unavailable "cannot create cache dir $CACHE"
  if [ -z "$LOCK_FD" ]; then
    exec {LOCK_FD}>>"$CACHE/.lock"
  fi
  flock "$1" -w 900 "$LOCK_FD" || die "timed out waiting for the cache lock $CACHE/.lock"
}

# Makes sure the cache is usable; leaves a shared lock held for the caller.
ensure_setup() { # ensure_setup force_resolve(0|1)
  local force=$1 kpkg
  lock -s
  if [ "$force" = 0 ] && stamp_valid; then return 0; fi
  if [ "$force" = 1 ] && [ "${EVPND_VM_REFRESH:-0}" != 1 ] && stamp_fresh; then return 0; fi
  lock -x
  ensure_host_tools
  for t in apt-get apt-cache dpkg-deb; do have "$t" || unavailable "no $t on this machine"; done
  kpkg=$(resolve_kernel_pkg) || unavailable "cannot resolve the kernel package linux-image-amd64 depends on (apt-cache show linux-image-amd64 gave no linux-image-*-amd64 dependency)"
  if stamp_valid && [ "$(stamp_get kpkg)" = "$kpkg" ]; then
    touch "$CACHE/stamp"
  else
    do_setup "$kpkg"
  fi
  lock -s
}

# --------------------------------------------------------------------------
# run
# --------------------------------------------------------------------------

kvm_usable() { # sets KVM_WHY when not usable
  if [ ! -e /dev/kvm ]; then KVM_WHY="no /dev/kvm"; return 1; fi
  if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then KVM_WHY="/dev/kvm not accessible"; return 1; fi
  if [ -d /sys/module/kvm_pvm ]; then KVM_WHY="/dev/kvm is PVM (kvm_pvm), which cannot boot a stock kernel"; return 1; fi
  if ! grep -qwE 'vmx|svm' /proc/cpuinfo; then KVM_WHY="no vmx/svm CPU flag"; return 1; fi
  return 0
}

timeout_s=1800 mem=2G smp=2 modules=$DEFAULT_MODULES accel=auto console_keep=
setup_only='' refresh=''
rw_dirs=()
while [ $# -gt 0 ]; do
  case $1 in
    --setup) setup_only=1; shift ;;
    --refresh) refresh=1; shift ;;
    --timeout) timeout_s=${2:?--timeout needs a value}; shift 2 ;;
    --timeout=*) timeout_s=${1#*=}; shift ;;
    --mem) mem=${2:?--mem needs a value}; shift 2 ;;
    --mem=*) mem=${1#*=}; shift ;;
    --smp) smp=${2:?--smp needs a value}; shift 2 ;;
    --smp=*) smp=${1#*=}; shift ;;
    --modules) [ $# -ge 2 ] || { usage >&2; exit "$EX_USAGE"; }; modules=$2; shift 2 ;;
    --modules=*) modules=${1#*=}; shift ;;
    --rw) rw_dirs+=("${2:?--rw needs a directory}"); shift 2 ;;
    --rw=*) rw_dirs+=("${1#*=}"); shift ;;
    --accel) accel=${2:?--accel needs a value}; shift 2 ;;
    --accel=*) accel=${1#*=}; shift ;;
    --console) console_keep=${2:?--console needs a file}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    *) say "unknown option: $1"; usage >&2; exit "$EX_USAGE" ;;
  esac
done
case $timeout_s in ''|*[!0-9]*|0) say "--timeout must be a positive integer"; exit "$EX_USAGE" ;; esac
case $smp in ''|*[!0-9]*|0) say "--smp must be a positive integer"; exit "$EX_USAGE" ;; esac
case $accel in auto|kvm|tcg) ;; *) say "--accel must be auto, kvm or tcg"; exit "$EX_USAGE" ;; esac
case $modules in *[!A-Za-z0-9_,-]*) say "--modules: bad module list: $modules"; exit "$EX_USAGE" ;; esac

if [ -n "$setup_only" ]; then
  [ $# -eq 0 ] || { say "--setup takes no command"; exit "$EX_USAGE"; }
  [ -z "$refresh" ] || export EVPND_VM_REFRESH=1
  ensure_setup 1
  say "ready: kernel $(stamp_get krel) ($(stamp_get kpkg)), cache $CACHE"
  exit 0
fi
[ $# -gt 0 ] || { usage >&2; exit "$EX_USAGE"; }

ensure_setup 0
have qemu-system-x86_64 || ensure_host_tools
krel=$(stamp_get krel)

case $accel in
  kvm) kvm_usable || die "--accel kvm: KVM not usable: $KVM_WHY" ;;
  auto)
    if kvm_usable; then accel=kvm; else
      accel=tcg
      [ "${EVPND_VM_QUIET:-0}" = 1 ] || say "note: KVM not usable ($KVM_WHY); using TCG emulation (slow: ~6-15 s per boot)"
    fi ;;
esac

cwd=$(pwd -P)
rw_paths=()
for d in ${rw_dirs[@]+"${rw_dirs[@]}"}; do
  [ -d "$d" ] || die "--rw $d: not a directory"
  rw_paths+=("$(cd "$d" && pwd -P)")
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/evpnd-vm-lane.XXXXXX")
qpid='' tpids=()
# shellcheck disable=SC2317 # invoked from the EXIT trap
cleanup() {
  local p
  if [ -n "$qpid" ]; then kill -TERM "$qpid" 2>/dev/null || true; fi
  for p in ${tpids[@]+"${tpids[@]}"}; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM HUP

ctl=$tmp/ctl
mkdir -p "$ctl"
bb=$CACHE/bin/busybox
debug=${EVPND_VM_DEBUG:-0}
xtrace=
[ "$debug" = 2 ] && xtrace='set -x'

# ---- the command: host environment, cwd, argv -----------------------------
{
  echo "# generated by vm-lane.sh"
  while IFS= read -r name; do
    case $name in PWD|OLDPWD|SHLVL|_|EVPND_VM_LANE|EVPND_VM_CACHE|EVPND_VM_KREL) continue ;; esac
    printf 'export %s=%s\n' "$name" "$(shq "${!name}")"
  done < <(compgen -e)
  printf 'export EVPND_VM_LANE=1 EVPND_VM_CACHE=%s EVPND_VM_KREL=%s\n' "$(shq "$CACHE")" "$(shq "$krel")"
  printf 'cd %s || { echo "vm-lane: cwd %s is not visible in the guest" >&2; exit 125; }\n' "$(shq "$cwd")" "$(shq "$cwd")"
  printf 'export PWD=%s\n' "$(shq "$cwd")"
  printf 'exec'
  for a in "$@"; do printf ' %s' "$(shq "$a")"; done
  printf '\n'
} >"$ctl/cmd"

# ---- stage1: root overlay, shares, switch_root -------------------------------
{
  echo "$xtrace"
  # shellcheck disable=SC2016 # expanded in the guest
  [ "$debug" = 0 ] || echo 'read -r up _ </proc/uptime; echo "vm-lane: $up stage1" >/dev/console'
  cat <<'EOF'
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 evpnroot /mnt/lower || fail "cannot mount the host root"
mount -t tmpfs -o mode=0755 tmpfs /mnt/rw || fail "tmpfs"
mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay -o lowerdir=/mnt/lower,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work overlay /newroot || fail "cannot mount the root overlay"
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /newroot/run
mkdir -p /newroot/run/evpnd-vm-lane/ctl
mount --move /mnt/ctl /newroot/run/evpnd-vm-lane/ctl
EOF
  i=0
  for p in ${rw_paths[@]+"${rw_paths[@]}"}; do
    printf 'mount -t 9p -o trans=virtio,version=9p2000.L,cache=mmap,msize=512000 evpnrw%d /newroot%s || fail "cannot mount --rw %s"\n' \
      "$i" "$(shq "$p")" "$(shq "$p")"
    i=$((i + 1))
  done
  printf 'exec switch_root /newroot %s sh /run/evpnd-vm-lane/ctl/stage2\n' "$(shq "$bb")"
} >"$ctl/stage1"

# ---- stage2 (PID 1 in the new root): mounts, modules, run the command --------
{
  echo "$xtrace"
  printf 'BB=%s KREL=%s MODULES=%s CACHE=%s DEBUG=%s\n' "$(shq "$bb")" "$(shq "$krel")" "$(shq "${modules//,/ }")" "$(shq "$CACHE")" "$([ "$debug" = 0 ] || echo 1)"
  cat <<'EOF'
# Runs under busybox sh (standalone: applet names resolve to busybox, most run
# without an exec). The user command itself runs under the host's /bin/sh.
CTL=/run/evpnd-vm-lane/ctl
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
warn() { echo "vm-lane(guest): $*" >>"$CTL/warnings"; echo "vm-lane(guest): $*" >/dev/console; }
mark() { :; }
[ -z "$DEBUG" ] || mark() { read -r up _ </proc/uptime; echo "vm-lane: $up $*" >/dev/console; }
finish() {
  echo "$1" >"$CTL/rc"
  sync
  reboot -f # qemu runs with -no-reboot: the reset ends it
  sleep 10
  echo b >/proc/sysrq-trigger
}
mark stage2
mkdir -p /dev/pts /dev/shm /sys/fs/cgroup /sys/fs/bpf /dev/virtio-ports "/lib/modules/$KREL" /etc/modprobe.d
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || warn "cannot mount cgroup2"
mount -t bpf -o mode=0700 bpf /sys/fs/bpf || warn "cannot mount bpffs"
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
# Modules: the extracted tree, busybox modprobe for request_module().
mount --bind "$CACHE/kernel/lib/modules/$KREL" "/lib/modules/$KREL" || warn "cannot bind the module tree"
echo "$CACHE/bin/modprobe" >/proc/sys/kernel/modprobe
printf '%s\n' 'options dummy numdummies=0' 'options bonding max_bonds=0' >/etc/modprobe.d/evpnd-vm-lane.conf
for a in modprobe insmod rmmod lsmod; do
  [ -e "/sbin/$a" ] || [ -e "/usr/sbin/$a" ] || ln -s "$BB" "/usr/sbin/$a"
done
ln -sf pts/ptmx /dev/ptmx
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
echo evpnd-vm >/proc/sys/kernel/hostname
ip link set lo up
mark modprobe
if [ -n "$MODULES" ]; then
  # shellcheck disable=SC2086
  modprobe -a $MODULES 2>"$CTL/modprobe.err" || warn "preloading modules failed: $MODULES: $(cat "$CTL/modprobe.err")"
fi
mark modprobe-done
# The two virtio-serial ports carry the command's stdout and stderr.
OUT='' ERR=''
for d in /sys/class/virtio-ports/*; do
  read -r name <"$d/name" || continue
  case $name in
    evpnd.stdout) OUT=/dev/${d##*/} ;;
    evpnd.stderr) ERR=/dev/${d##*/} ;;
  esac
done
if [ -z "$OUT" ] || [ -z "$ERR" ]; then warn "virtio-serial ports not found"; finish 125; fi
ln -sf "$OUT" /dev/virtio-ports/evpnd.stdout
ln -sf "$ERR" /dev/virtio-ports/evpnd.stderr
SH=/bin/sh
[ -x "$SH" ] || SH="$BB sh"
read -r up _ </proc/uptime
echo "$up" >"$CTL/t_start"
mark command
# shellcheck disable=SC2086
env -i $SH "$CTL/cmd" </dev/null >"$OUT" 2>"$ERR"
rc=$?
read -r up _ </proc/uptime
echo "$up" >"$CTL/t_end"
finish "$rc"
EOF
} >"$ctl/stage2"

# ---- qemu ------------------------------------------------------------------
kargs="console=ttyS0 panic=-1 rdinit=/init tsc=reliable no_timer_check cryptomgr.notests"
kargs+=" 8250.nr_uarts=1 i8042.noaux i8042.nokbd i8042.nopnp random.trust_cpu=on mitigations=off"
if [ "$debug" != 0 ]; then kargs+=" loglevel=7"; else kargs+=" quiet loglevel=1"; fi
qemu=(qemu-system-x86_64 -no-user-config -nodefaults -display none -no-reboot
  -machine pc -m "$mem" -smp "$smp")
if [ "$accel" = kvm ]; then
  qemu+=(-accel kvm -cpu host)
else
  # shellcheck disable=SC2054
  qemu+=(-accel tcg,thread=multi -cpu max)
  kargs+=" pci=noacpi"
fi
esc() { printf '%s' "${1//,/,,}"; }
# shellcheck disable=SC2054 # commas inside qemu option values are intended
qemu+=(-kernel "$CACHE/vmlinux" -initrd "$CACHE/initramfs.cpio" -append "$kargs"
  -serial "file:$tmp/console.log"
  -fsdev "local,id=fsroot,path=/,readonly=on,security_model=none,multidevs=remap"
  -device virtio-9p-pci,fsdev=fsroot,mount_tag=evpnroot
  -fsdev "local,id=fsctl,path=$(esc "$ctl"),security_model=none"
  -device virtio-9p-pci,fsdev=fsctl,mount_tag=evpnctl)
i=0
for p in ${rw_paths[@]+"${rw_paths[@]}"}; do
  qemu+=(-fsdev "local,id=fsrw$i,path=$(esc "$p"),security_model=none,multidevs=remap"
    -device "virtio-9p-pci,fsdev=fsrw$i,mount_tag=evpnrw$i")
  i=$((i + 1))
done
# shellcheck disable=SC2054
qemu+=(-device virtio-serial-pci,id=vser
  -chardev "file,id=cout,path=$(esc "$tmp/stdout")" -device virtserialport,bus=vser.0,chardev=cout,name=evpnd.stdout
  -chardev "file,id=cerr,path=$(esc "$tmp/stderr")" -device virtserialport,bus=vser.0,chardev=cerr,name=evpnd.stderr)

: >"$tmp/stdout"
: >"$tmp/stderr"
t0=$(date +%s.%N)
timeout -k 10 "$timeout_s" "${qemu[@]}" </dev/null >"$tmp/qemu.log" 2>&1 &
qpid=$!
tail -c +1 -s 0.1 -f --pid="$qpid" "$tmp/stdout" &
tpids+=($!)
tail -c +1 -s 0.1 -f --pid="$qpid" "$tmp/stderr" >&2 &
tpids+=($!)
qrc=0
wait "$qpid" || qrc=$?
qpid=
for p in "${tpids[@]}"; do wait "$p" || true; done
tpids=()
t1=$(date +%s.%N)

[ -z "$console_keep" ] || cp "$tmp/console.log" "$console_keep" 2>/dev/null || say "cannot write $console_keep"
if [ "$debug" != 0 ]; then
  say "console log:"; cat "$tmp/console.log" >&2
  if [ -f "$ctl/t_start" ]; then
    say "guest uptime at command start $(cut -d' ' -f1 "$ctl/t_start") s, at end $(cut -d' ' -f1 "$ctl/t_end" 2>/dev/null) s; wall $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s"
  fi
fi
if [ -s "$ctl/warnings" ]; then sed 's/^/vm-lane: guest: /' "$ctl/warnings" >&2; fi

if [ -f "$ctl/rc" ]; then
  rc=$(tr -dc '0-9' <"$ctl/rc")
  exit "${rc:-$EX_LANE}"
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
  say "TIMEOUT: the command did not finish within ${timeout_s} s; qemu was killed (raise --timeout)"
  exit "$EX_TIMEOUT"
fi
say "the guest stopped without an exit status (qemu exit $qrc). Last console lines:"
tail -n 30 "$tmp/console.log" >&2 || true
if [ -s "$tmp/qemu.log" ]; then say "qemu said:"; tail -n 20 "$tmp/qemu.log" >&2; fi
exit "$EX_LANE"
