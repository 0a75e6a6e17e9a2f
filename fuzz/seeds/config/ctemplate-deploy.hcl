# /etc/consul-template.d/consul-template.hcl: the tutorial's step 5 as a config file.
consul {
  address = "127.0.0.1:8500"
}

log_level = "info"

template {
  source      = "/etc/consul-template.d/nginx.ctmpl"
  destination = "/etc/nginx/conf.d/wt.conf"
  command     = "nginx -s reload"
}
