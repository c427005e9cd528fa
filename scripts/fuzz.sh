#!/usr/bin/env bash
# Fuzz every evpn-proto decode entry point for SECONDS each (default 20;
# `make test` passes 10, `make fuzz` 300):
#   scripts/fuzz.sh [SECONDS]
# Installs nothing: cargo-fuzz comes from scripts/install-test-deps.sh.
# Builds the fuzz crate (evpn-proto/fuzz, its own workspace) once, then runs
# each target on its working corpus (evpn-proto/fuzz/corpus/<target>, not
# committed) plus the committed seeds (evpn-proto/fuzz/corpus_seed/<target>).
# Exits non-zero if any target crashes; the crasher is left in
# evpn-proto/fuzz/artifacts/<target>/ — commit it under corpus_seed/ with a
# unit test once fixed.
set -euo pipefail

secs="${1:-20}"
case "$secs" in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/evpn-proto"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "fuzz.sh: cargo-fuzz not installed; run scripts/install-test-deps.sh" >&2
  exit 1
fi

# cargo-fuzz needs nightly-only flags (-Zsanitizer); stable rustc accepts
# them with RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1

targets=(decode_message frame header update open notification route_refresh path_attributes mp_attributes as_path capabilities evpn_nlri ext_communities large_communities pmsi_tunnel prefixes)

echo "fuzz.sh: building ${#targets[@]} targets"
cargo fuzz build

failed=()
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/corpus_seed/$t"
  max_len=4100
  [ "$t" = frame ] && max_len=16384
  log="$(mktemp)"
  echo "fuzz.sh: $t for ${secs}s"
  if cargo fuzz run "$t" "fuzz/corpus/$t" "fuzz/corpus_seed/$t" -- \
      -max_total_time="$secs" -max_len="$max_len" -rss_limit_mb=2048 \
      -print_final_stats=1 >"$log" 2>&1; then
    runs="$(grep -Eo 'Done [0-9]+ runs' "$log" | tail -1 || true)"
    echo "fuzz.sh: $t ok (${runs:-no summary})"
  else
    echo "fuzz.sh: $t FAILED" >&2
    tail -n 40 "$log" >&2
    failed+=("$t")
  fi
  rm -f "$log"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: crashes in: ${failed[*]} (see evpn-proto/fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} passed, 0 failed"
