#!/usr/bin/env bash
# The city raft cluster side by side with etcd 3.4 (Debian's etcd-server), three members each on
# 127.0.0.1, 1 KiB values. Installs etcd if missing; extra arguments go to `xuncha-bench raft`
# (e.g. --seconds 10 --rounds 10). Figures: docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v etcd >/dev/null 2>&1; then
    echo "installing etcd-server (Debian) ..."
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q etcd-server
fi
# Debian starts a system etcd on install where systemd runs; the benchmark uses its own.
etcd --version | head -1

cargo build --release -p xuncha -p xuncha-bench
./target/release/xuncha-bench raft --xuncha target/release/xuncha --etcd "$(command -v etcd)" --json target/bench-raft.json "$@"
