# The entry point of a multi-host example's "host" container (examples/multihost/run):
#   ROLE=server  a consul server (-bootstrap-expect=3)
#   ROLE=client  a consul client agent, and registrator -internal pointed at it
# NODE is the node name, JOIN an address of the cluster to join (empty for the first server).
# The agent binds the container's own address on the private network.
set -eu
ip=$(ip -o -4 addr show dev eth0 | awk '{ split($4, a, "/"); print a[1] }')
join=""
[ -z "${JOIN:-}" ] || join="-retry-join=$JOIN"
case "${ROLE:?}" in
  server)
    exec consul agent -server -bootstrap-expect=3 -ui -node="${NODE:?}" -bind="$ip" \
      -client=0.0.0.0 -data-dir=/data -dns-port=-1 $join ;;
  client)
    consul agent -node="${NODE:?}" -bind="$ip" -client=0.0.0.0 -data-dir=/data -dns-port=-1 $join &
    agent=$!
    # registrator finds its engine at /tmp/docker.sock (this host's view of it).
    registrator -internal -retry-attempts=-1 -retry-interval=500 consul://127.0.0.1:8500 &
    reg=$!
    trap 'kill $agent $reg 2>/dev/null; wait' TERM INT
    # Either one ending ends the host.
    while kill -0 $agent 2>/dev/null && kill -0 $reg 2>/dev/null; do sleep 1; done
    kill $agent $reg 2>/dev/null || true
    wait
    exit 1 ;;
  *) echo "host.sh: ROLE must be server or client, not $ROLE" >&2; exit 2 ;;
esac
