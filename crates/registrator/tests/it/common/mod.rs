//! Test helpers: the Docker guards of `test-support` (every name carries a unique `regit-`
//! prefix), our registrator image, the `registrator` binary as a child with its log, the fake
//! Consul agent and the real `consul`.

pub mod consul_agent;
pub mod etcd_server;
pub mod fake_consul;

use std::process::Command;
pub use test_support::docker::{docker, docker_raw, require_docker, Container, Image};
pub use test_support::wait_until;

/// A lowercase name unique to this process and call: `regit-<pid>-<n>-<tag>`.
pub fn unique(tag: &str) -> String {
    test_support::docker::unique("regit", tag)
}

/// Our registrator image, built by `deploy/registrator/build.sh <tag>`: the static release
/// binary (`cargo build --release --target x86_64-unknown-linux-gnu`, a no-op when fresh,
/// ~35 s after a registrator change, several minutes from a cold target dir) in a
/// `FROM scratch` image. Removed on drop.
pub fn registrator_image(tag: &str) -> Image {
    let root = test_support::workspace_root();
    // Guard first, so a half-built image is still removed.
    let image = Image::adopt(tag);
    let out = Command::new(root.join("deploy/registrator/build.sh"))
        .arg(tag)
        .current_dir(&root)
        .output()
        .expect("run deploy/registrator/build.sh");
    assert!(
        out.status.success(),
        "deploy/registrator/build.sh {tag}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    image
}

/// The `registrator` binary, killed on drop; its log (stderr) for assertions.
pub struct Proc(test_support::Process);

impl Proc {
    pub fn log(&self) -> String {
        self.0.stderr()
    }
}

/// The `registrator` binary with `args`, talking to the default Docker socket.
pub fn registrator(args: &[&str]) -> Proc {
    registrator_env(args, &[])
}

/// [`registrator`] with extra environment (`CONSUL_HTTP_TOKEN`, ...).
pub fn registrator_env(args: &[&str], env: &[(&str, &str)]) -> Proc {
    let mut cmd = Command::new(test_support::binary("registrator"));
    cmd.args(args)
        .env("DOCKER_HOST", "unix:///var/run/docker.sock")
        .env("REGISTRATOR_LOG", "info")
        .env_remove("CONSUL_HTTP_TOKEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    Proc(test_support::Process::spawn(cmd))
}

/// This host's name, as registrator puts it in service IDs.
pub fn hostname() -> String {
    registrator::hostname()
}
