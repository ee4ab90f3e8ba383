#!/bin/sh
# faultline --db-command for etcd (Debian's etcd-server): one node's lifecycle, written
# from faultline's README only. faultline runs it as `lifecycle.sh setup|start|teardown`
# with the node in FAULTLINE_* variables, and, for the membership nemesis and faults aimed
# at the leader, as `lifecycle.sh members|remove NODE|add NODE|leader` on the controller
# (exit 3: etcd refused).
set -eu

# Membership through etcd's JSON gateway, in Python (standard library only).
membership() {
    python3 - "$@" <<'PY'
import json, os, sys, urllib.request
step, node = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
pairs = lambda var: dict(p.split("=", 1) for p in os.environ[var].split(","))
peers = {n: "http://" + a for n, a in pairs("FAULTLINE_PEERS").items()}
name_of = {url: n for n, url in peers.items()}
clients = [a for n, a in pairs("FAULTLINE_CLIENTS").items() if n != node]

def call(path, body):
    error = None
    for client in clients:
        request = urllib.request.Request("http://" + client + path, json.dumps(body).encode(),
                                         {"content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return json.load(response)
        except urllib.error.HTTPError as e:
            print(f"etcd refused {path}: {e.read().decode()}", file=sys.stderr)
            sys.exit(3)
        except OSError as e:
            error = e
    print(f"no member answered {path}: {error}", file=sys.stderr)
    sys.exit(1)

members = call("/v3/cluster/member/list", {}).get("members", [])
by_url = {url: m for m in members for url in m.get("peerURLs", [])}
if step == "members":
    print(json.dumps(sorted(name_of[u] for u in by_url if u in name_of)))
elif step == "remove" and peers[node] in by_url:
    call("/v3/cluster/member/remove", {"ID": by_url[peers[node]]["ID"]})
elif step == "add" and peers[node] not in by_url:
    call("/v3/cluster/member/add", {"peerURLs": [peers[node]]})
elif step == "leader":
    leader = call("/v3/maintenance/status", {}).get("leader")
    urls = [u for m in members if m.get("ID") == leader for u in m.get("peerURLs", [])]
    print(next((name_of[u] for u in urls if u in name_of), ""))
PY
}

case "$1" in
setup)
    command -v etcd >/dev/null 2>&1 || {
        echo "etcd is not installed on $FAULTLINE_NODE: apt-get install etcd-server" >&2
        exit 1
    }
    mkdir -p "$FAULTLINE_DATA_DIR"
    ;;
start)
    # n1=10.0.0.1:2380,n2=... -> n1=http://10.0.0.1:2380,n2=http://...
    cluster=$(printf '%s' "$FAULTLINE_PEERS" | sed 's|=|=http://|g')
    state=new
    if [ "${FAULTLINE_JOIN:-}" = existing ]; then
        # Re-added by the membership nemesis: join the current members on a fresh folder.
        state=existing
        cluster=$(printf '%s' "$cluster" | tr ',' '\n' |
            grep -E "^($(printf '%s' "$FAULTLINE_MEMBERS" | tr ',' '|'))=" | paste -sd, -)
        mkdir -p "$FAULTLINE_DATA_DIR"
    fi
    # exec: this process becomes etcd, so faultline's kill and pause act on etcd itself.
    exec etcd --name "$FAULTLINE_NODE" --data-dir "$FAULTLINE_DATA_DIR" \
        --listen-client-urls "http://$FAULTLINE_HOST:$FAULTLINE_CLIENT_PORT" \
        --advertise-client-urls "http://$FAULTLINE_HOST:$FAULTLINE_CLIENT_PORT" \
        --listen-peer-urls "http://$FAULTLINE_HOST:$FAULTLINE_PEER_PORT" \
        --initial-advertise-peer-urls "http://$FAULTLINE_HOST:$FAULTLINE_PEER_PORT" \
        --initial-cluster "$cluster" --initial-cluster-state "$state" \
        --heartbeat-interval 100 --election-timeout 1000
    ;;
teardown)
    # Nothing outlives the node: its data folder is faultline's run folder.
    ;;
members | remove | add | leader)
    membership "$@"
    ;;
*)
    echo "usage: $0 setup|start|teardown|members|remove NODE|add NODE|leader" >&2
    exit 2
    ;;
esac
