# /etc/consul.d/consul.hcl on a host that only runs services: a client agent.
# Equivalent to: consul agent -data-dir=/var/lib/consul -bind=<this host>
#                -retry-join=<a server> -node=<this host>
# Registrator (consul://127.0.0.1:8500) and consul-template talk to this agent; it runs the
# checks of the services registered here and forwards everything else to the servers.
datacenter = "dc1"
data_dir   = "/var/lib/consul"
bind_addr  = "10.0.0.21"        # this host's address on the network the agents share
client_addr = "127.0.0.1"
retry_join = ["10.0.0.11"]      # any server or client agent (gossip port 8301)
# Gossip encryption: the same key on every agent (consul keygen).
# encrypt = "..."
# With ACLs on the servers: the same block here, and a token allowed node:write on this node
# and service:write on its services (anti-entropy writes them with it).
# acl {
#   enabled        = true
#   default_policy = "deny"
#   tokens { agent = "..." }
# }
