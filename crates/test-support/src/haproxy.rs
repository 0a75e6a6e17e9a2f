//! Debian's HAProxy finding its backends through our DNS interface, as Consul's users set it up:
//! a `resolvers` section pointing at the agent's DNS port and `server-template` on a service's
//! RFC 2782 SRV name, re-resolved every half second.

use std::path::Path;
use std::process::Command;

use crate::Process;

/// HAProxy on 127.0.0.1:`front`, balancing HTTP round-robin over up to 5 servers found at the
/// SRV name `srv` (`_web._tcp.service.consul`) by asking 127.0.0.1:`dns`. The config is written
/// to `dir` and checked with `haproxy -c` first; a missing haproxy fails saying what to install.
pub fn start_srv_balancer(dir: &Path, dns: u16, front: u16, srv: &str) -> Process {
    let cfg = dir.join("haproxy.cfg");
    let text = format!(
        "global
  log stderr format raw local0 warning
defaults
  mode http
  log global
  timeout connect 1s
  timeout client 5s
  timeout server 5s
resolvers consul
  nameserver consul 127.0.0.1:{dns}
  accepted_payload_size 8192
  resolve_retries 3
  timeout resolve 200ms
  timeout retry 200ms
  hold valid 500ms
  hold obsolete 500ms
frontend fe
  bind 127.0.0.1:{front}
  default_backend be
backend be
  balance roundrobin
  server-template srv 5 {srv} resolvers consul resolve-prefer ipv4 init-addr none
"
    );
    if let Err(e) = std::fs::write(&cfg, text) {
        panic!("writing {}: {e}", cfg.display());
    }
    let check = Command::new("haproxy")
        .arg("-c")
        .arg("-f")
        .arg(&cfg)
        .output()
        .unwrap_or_else(|e| panic!("haproxy: {e}; install Debian's haproxy"));
    assert!(
        check.status.success(),
        "haproxy -c: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let mut cmd = Command::new("haproxy");
    cmd.arg("-db").arg("-f").arg(&cfg);
    Process::spawn(cmd)
}
