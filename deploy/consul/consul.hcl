# /etc/consul.d/consul.hcl: the tutorial's server (step 1) as a config file.
# Equivalent to: consul agent -server -bootstrap -ui -data-dir=/var/lib/consul
#                -bind=<this host> -client=0.0.0.0 -node=consul-server01
datacenter = "dc1"
data_dir   = "/var/lib/consul"
node_name  = "consul-server01"
server     = true
bootstrap  = true
bind_addr  = "127.0.0.1"
client_addr = "0.0.0.0"

ui_config {
  enabled = true
}
