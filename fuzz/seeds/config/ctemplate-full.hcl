
consul {
  address = "127.0.0.1:8500"
  token = "abcd"
  retry { enabled = true attempts = 12 backoff = "250ms" max_backoff = "1m" }
}
max_stale = "10m"
kill_signal = "SIGINT"
reload_signal = "SIGHUP"
wait { min = "5s" max = "10s" }
pid_file = "/tmp/ct.pid"
template {
  source = "in.ctmpl"
  destination = "out.txt"
  command = ["nginx", "-s", "reload"]
  command_timeout = "60s"
  perms = 0644
  backup = true
  left_delimiter = "[["
  right_delimiter = "]]"
  wait = "2s:6s"
  error_on_missing_key = true
  function_denylist = ["file", "plug*"]
}
exec { command = "app" splay = "5s" kill_signal = "SIGTERM" kill_timeout = "30s" }
