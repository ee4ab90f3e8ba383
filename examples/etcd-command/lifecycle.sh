#!/bin/sh
# faultline --db-command for etcd (Debian's etcd-server): one node's lifecycle, written
# from faultline's README only. faultline runs it as `lifecycle.sh setup|start|teardown`
# with the node in FAULTLINE_* variables.
set -eu
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
    # exec: this process becomes etcd, so faultline's kill and pause act on etcd itself.
    exec etcd --name "$FAULTLINE_NODE" --data-dir "$FAULTLINE_DATA_DIR" \
        --listen-client-urls "http://$FAULTLINE_HOST:$FAULTLINE_CLIENT_PORT" \
        --advertise-client-urls "http://$FAULTLINE_HOST:$FAULTLINE_CLIENT_PORT" \
        --listen-peer-urls "http://$FAULTLINE_HOST:$FAULTLINE_PEER_PORT" \
        --initial-advertise-peer-urls "http://$FAULTLINE_HOST:$FAULTLINE_PEER_PORT" \
        --initial-cluster "$cluster" --initial-cluster-state new \
        --heartbeat-interval 100 --election-timeout 1000
    ;;
teardown)
    # Nothing outlives the node: its data folder is faultline's run folder.
    ;;
*)
    echo "usage: $0 setup|start|teardown" >&2
    exit 2
    ;;
esac
