#!/usr/bin/env bash
# Makes the configuration and certificates the compose file mounts, in DIR/etc:
#   deploy/configure.sh DIR [XUNCHA_BINARY]
# Certificates come from `xuncha certs` (an existing DIR/etc/certs/ca.pem + ca-key.pem, e.g.
# your own CA, is used instead of a new one).
set -euo pipefail
dir="$1"
bin="${2:-$(dirname "$0")/../target/release/xuncha}"
etc="$dir/etc"
mkdir -p "$etc"
"$bin" certs --out "$etc/certs" --replica 1 --replica 2 --replica 3 \
    --county anping --county qinghe --county changle --operator ops >/dev/null
members='"1=city-1:7001", "2=city-2:7001", "3=city-3:7001"'
for id in 1 2 3; do
    bootstrap=""
    [ "$id" = 1 ] && bootstrap="bootstrap = [$members]"
    cat > "$etc/city-$id.toml" <<TOML
replica_id = $id
data_dir = "/data"
listen = "0.0.0.0:7001"
advertise = "city-$id:7001"
metrics_listen = "0.0.0.0:9100"
$bootstrap

[tls]
ca = "/etc/xuncha/certs/ca.pem"
cert = "/etc/xuncha/certs/city-$id.pem"
key = "/etc/xuncha/certs/city-$id-key.pem"
TOML
done
for county in anping qinghe changle; do
    cat > "$etc/county-$county.toml" <<TOML
county = "$county"
data_dir = "/data"
listen = "0.0.0.0:7101"
metrics_listen = "0.0.0.0:9100"
city = ["city-1:7001", "city-2:7001", "city-3:7001"]
sync_wait_ms = 1000

[tls]
ca = "/etc/xuncha/certs/ca.pem"
cert = "/etc/xuncha/certs/county-$county.pem"
key = "/etc/xuncha/certs/county-$county-key.pem"
TOML
done
# Readable by the container's user.
chmod -R a+rX "$etc"
echo "configuration in $etc"
