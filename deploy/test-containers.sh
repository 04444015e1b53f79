#!/usr/bin/env bash
# The compose deployment, tested for real: build the image, bring up three city replicas and
# three counties, run a workflow, cut a county off its network (it keeps working) and reconnect
# it (it converges), kill the city leader (writes continue), restart every city replica one by
# one under a stream of writes (no acknowledged write is lost). Cleans up everything it started.
#   deploy/test-containers.sh            (uses target/debug/xuncha, building it if missing)
#   XUNCHA_BIN=target/release/xuncha deploy/test-containers.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

project="xunchaci$$"
image="xuncha:ci-$$"
work="$(mktemp -d)"
export XUNCHA_DEPLOY_DIR="$work" XUNCHA_IMAGE="$image"
dc() { docker-compose -p "$project" -f deploy/compose.yaml "$@"; }
cleanup() {
    status=$?
    if [ $status -ne 0 ]; then
        echo "--- container test failed; last logs:"
        dc logs --tail 30 2>/dev/null || true
    fi
    dc down -v --remove-orphans >/dev/null 2>&1 || true
    docker image rm -f "$image" >/dev/null 2>&1 || true
    rm -rf "$work"
    exit $status
}
trap cleanup EXIT

bin="${XUNCHA_BIN:-target/debug/xuncha}"
[ -x "$bin" ] || cargo build -p xuncha
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
deploy/build-image.sh "$bin" "$image"
deploy/configure.sh "$work" "$bin"
certs="$work/etc/certs"

city_port() { echo "2700$1"; }
declare -A county_port=([anping]=27101 [qinghe]=27102 [changle]=27103)
x() { "$bin" --ca "$certs/ca.pem" --cert "$certs/operator-ops.pem" --key "$certs/operator-ops-key.pem" "$@"; }
# City sessions are replicated: one sign-in serves every replica (--token); a county's token is
# the one `login` saved for its address.
on_city() { local n="$1"; shift; x --node "127.0.0.1:$(city_port "$n")" ${city_token:+--token "$city_token"} "$@"; }
on_county() { local c="$1"; shift; x --node "127.0.0.1:${county_port[$c]}" "$@"; }
container() { echo "${project}_$1_1"; }
step() { echo "== $*"; }

# Polls a command until it succeeds, or fails after a deadline.
eventually() {
    local what="$1" secs="$2"; shift 2
    local end=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $end ]; then echo "timed out after ${secs}s: $what"; "$@" || true; return 1; fi
        sleep 1
    done
}

# The leader's replica number, as replica 1..3 (whichever answers) sees it.
leader() {
    for n in 1 2 3; do
        local id
        id=$(on_city "$n" -o json cluster status 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get("leader_id","0"))' 2>/dev/null) || continue
        if [ -n "$id" ] && [ "$id" != "0" ]; then echo "$id"; return 0; fi
    done
    return 1
}
has_leader() { leader >/dev/null; }
# Unit names held on city replica N (any replica serves linearizable reads).
city_units() { on_city "$1" -o json unit list | python3 -c 'import json,sys; [print(u["name"]) for u in json.load(sys.stdin).get("units",[])]'; }
city_has_unit() { city_units "$1" | grep -x "$2" >/dev/null; }
county_add_unit() { on_county "$1" unit add "$2" --kind township; }

step "compose up: 3 city replicas, 3 counties"
dc up -d >/dev/null
eventually "a city leader" 90 has_leader
for c in anping qinghe changle; do eventually "county $c serving" 60 on_county "$c" status; done

step "accounts: each node's first administrator (operator certificate), signed in"
export XUNCHA_TOKENS="$work/tokens.json"
admin_pw="Container-Kennwort-2026"
printf '%s\n' "$admin_pw" | on_city 1 account bootstrap admin --name 测试管理员 --password-stdin >/dev/null
printf '%s\n' "$admin_pw" | on_city 1 login admin --password-stdin
city_token=$(python3 -c "import json; print(json.load(open('$work/tokens.json'))['127.0.0.1:$(city_port 1)']['token'])")
for c in anping qinghe changle; do
    printf '%s\n' "$admin_pw" | on_county "$c" account bootstrap admin --name 测试管理员 --password-stdin >/dev/null
    printf '%s\n' "$admin_pw" | on_county "$c" login admin --password-stdin
done
if x --node "127.0.0.1:$(city_port 2)" --tokens "$work/none.json" unit list >/dev/null 2>&1; then
    echo "an operator certificate alone was served staff work"; exit 1
fi

step "workflow: a county registers a unit; the city sees it"
county_add_unit anping "安平县容器测试局"
eventually "the unit at the city" 60 city_has_unit 1 "安平县容器测试局"
on_city 2 -o json oversight >/dev/null

step "disconnect county anping from the city: it keeps working"
docker network disconnect "${project}_net-anping" "$(container county-anping)"
county_add_unit anping "离线期间登记的单位"
on_county anping unit list | grep "离线期间登记的单位" >/dev/null
sleep 3
if city_has_unit 1 "离线期间登记的单位"; then echo "the city saw a change of a disconnected county"; exit 1; fi
step "reconnect: it converges"
docker network connect "${project}_net-anping" "$(container county-anping)"
eventually "the offline change at the city" 120 city_has_unit 1 "离线期间登记的单位"

step "kill the city leader: writes continue"
old=$(leader)
docker kill "$(container "city-$old")" >/dev/null
others=$(for n in 1 2 3; do [ "$n" != "$old" ] && echo "$n"; done)
write_any() { for n in $others; do on_city "$n" unit add "$1" --kind city_department && return 0; done; return 1; }
eventually "a write after the leader died" 60 write_any "市领导者宕机后登记"
new=$(leader)
[ "$new" != "$old" ] || { echo "no new leader"; exit 1; }
dc start "city-$old" >/dev/null
eventually "the old leader back" 60 on_city "$old" cluster status

step "restart every city replica in turn under a stream of writes"
acked="$work/acked"; : > "$acked"
stop="$work/stop"
(
    i=0
    while [ ! -e "$stop" ]; do
        for n in 1 2 3; do
            name="滚动重启-$i"
            if on_city "$n" unit add "$name" --kind city_department >/dev/null 2>&1; then echo "$name" >> "$acked"; fi
            i=$((i + 1))
        done
    done
) &
writer=$!
for n in 1 2 3; do
    docker restart -t 10 "$(container "city-$n")" >/dev/null
    eventually "replica $n back" 90 on_city "$n" cluster status
    eventually "a leader after restarting $n" 90 has_leader
done
sleep 2
touch "$stop"
wait "$writer"
count=$(wc -l < "$acked")
[ "$count" -gt 0 ] || { echo "no write was acknowledged during the restarts"; exit 1; }
l=$(leader)
held="$work/held"
city_units "$l" > "$held"
missing=$(grep -vxF -f "$held" "$acked" || true)
if [ -n "$missing" ]; then echo "acknowledged writes lost: $missing"; exit 1; fi
echo "all $count acknowledged writes are held after the rolling restart"

step "metrics"
curl -sf "http://127.0.0.1:2720$l/metrics" 2>/dev/null | grep "xuncha_raft_is_leader 1" >/dev/null \
    || python3 -c "import urllib.request,sys; t=urllib.request.urlopen('http://127.0.0.1:2720$l/metrics').read().decode(); sys.exit(0 if 'xuncha_raft_is_leader 1' in t else 1)"
step "web app: every node serves its Chinese sign-in page over HTTPS, with the federation's CA"
for port in 27401 27402 27403 27501 27502 27503; do
    python3 - "$certs/ca.pem" "$port" <<'PY' || { echo "no web app on 127.0.0.1:$port"; exit 1; }
import ssl, sys, urllib.request
ca, port = sys.argv[1], sys.argv[2]
page = urllib.request.urlopen(f"https://127.0.0.1:{port}/login", context=ssl.create_default_context(cafile=ca), timeout=30).read().decode()
sys.exit(0 if "登录" in page else f"127.0.0.1:{port} did not serve the sign-in page")
PY
done
echo "six web apps answer"
echo "container test passed"
