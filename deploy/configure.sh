#!/usr/bin/env bash
# Makes the configuration and certificates the compose file mounts:
#   deploy/configure.sh DIR [XUNCHA_BINARY]
# Certificates come from `xuncha certs` into DIR/etc/certs (an existing ca.pem + ca-key.pem
# there, e.g. your own CA, is used instead of a new one). That folder holds the CA key and
# stays on the host: each container mounts only DIR/etc/nodes/<node>/, holding its own
# config.toml, the CA certificate, and its own certificate and key (the key 0600, owned by the
# image's user).
set -euo pipefail
dir="$1"
bin="${2:-$(dirname "$0")/../target/release/xuncha}"
etc="$dir/etc"
uid=10001 # the image's user (deploy/Dockerfile)
mkdir -p "$etc"
"$bin" certs --out "$etc/certs" --replica 1 --replica 2 --replica 3 \
    --county anping --county qinghe --county changle --operator ops >/dev/null
chmod 700 "$etc/certs"

# node NAME: DIR/etc/nodes/NAME with the CA certificate, NAME.pem and NAME-key.pem.
node() {
    local name="$1" out="$etc/nodes/$1"
    mkdir -p "$out"
    cp "$etc/certs/ca.pem" "$etc/certs/$name.pem" "$out/"
    install -m 600 "$etc/certs/$name-key.pem" "$out/$name-key.pem"
    # The container's user reads its key; without root the key stays the caller's (and the
    # container cannot read it, which is refused loudly at start rather than shared).
    if [ "$(id -u)" = 0 ]; then chown -R "$uid:$uid" "$out"; fi
    chmod 755 "$out"
    chmod 644 "$out/ca.pem" "$out/$name.pem"
}

tls() {
    cat <<TOML

[tls]
ca = "/etc/xuncha/ca.pem"
cert = "/etc/xuncha/$1.pem"
key = "/etc/xuncha/$1-key.pem"
revoked = "/etc/xuncha-revoked/revoked.txt"
TOML
}

members='"1=city-1:7001", "2=city-2:7001", "3=city-3:7001"'
for id in 1 2 3; do
    bootstrap=""
    [ "$id" = 1 ] && bootstrap="bootstrap = [$members]"
    mkdir -p "$etc/nodes/city-$id"
    { cat <<TOML
replica_id = $id
data_dir = "/data"
listen = "0.0.0.0:7001"
advertise = "city-$id:7001"
metrics_listen = "0.0.0.0:9100"
web_listen = "0.0.0.0:7400"
county_names = { anping = "安平县", qinghe = "清河县", changle = "长乐县" }
$bootstrap
TOML
      tls "city-$id"; } > "$etc/nodes/city-$id/config.toml"
    node "city-$id"
done
declare -A county_name=([anping]="安平县" [qinghe]="清河县" [changle]="长乐县")
for county in anping qinghe changle; do
    mkdir -p "$etc/nodes/county-$county"
    { cat <<TOML
county = "$county"
name = "${county_name[$county]}"
data_dir = "/data"
listen = "0.0.0.0:7101"
metrics_listen = "0.0.0.0:9100"
web_listen = "0.0.0.0:7500"
city = ["city-1:7001", "city-2:7001", "city-3:7001"]
sync_wait_ms = 1000
TOML
      tls "county-$county"; } > "$etc/nodes/county-$county/config.toml"
    node "county-$county"
done
node operator-ops
# The revocation list every node re-reads while running (a folder, so an edit that replaces the
# file is seen): add a certificate with `xuncha certs --revoke CERT --list DIR/etc/revoked/revoked.txt`.
mkdir -p "$etc/revoked"
[ -f "$etc/revoked/revoked.txt" ] || echo "# SHA-256 fingerprints of revoked certificates, one per line" > "$etc/revoked/revoked.txt"
chmod 755 "$etc/revoked"
chmod 644 "$etc/revoked/revoked.txt"
find "$etc/nodes" -name config.toml -exec chmod 644 {} +
echo "configuration in $etc/nodes (CA and its key in $etc/certs, not mounted)"
