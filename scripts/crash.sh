#!/usr/bin/env bash
# Kills the real server 200 times at random moments while a client writes, and checks after
# each restart that every acknowledged write is there (see tests/crash.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
CVO_CRASH_KILLS="${CVO_CRASH_KILLS:-200}" cargo test --release --test crash -- --nocapture
