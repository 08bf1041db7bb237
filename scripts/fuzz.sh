#!/usr/bin/env bash
# Fuzzes the request decode + validation path (fuzz/fuzz_targets/decode_validate.rs).
# Needs cargo-fuzz (`cargo install cargo-fuzz`); libFuzzer's sanitizer flags are nightly
# features, enabled on the stable toolchain with RUSTC_BOOTSTRAP=1.
# Usage: scripts/fuzz.sh [seconds]   (default 600)
set -euo pipefail
cd "$(dirname "$0")/.."
RUSTC_BOOTSTRAP=1 cargo fuzz run decode_validate -- -max_total_time="${1:-600}" -max_len=4096
