//! Test helpers: Docker gating and self-cleaning guards for images, containers and processes
//! (every name carries a unique `regit-` prefix), `wait_until`, the fake Consul agent and the
//! real-`consul` launcher.

pub mod consul_agent;
pub mod fake_consul;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// True when the Docker engine socket exists; otherwise prints why the test is skipped.
pub fn docker_available() -> bool {
    if Path::new("/var/run/docker.sock").exists() {
        true
    } else {
        eprintln!("note: /var/run/docker.sock absent; skipping Docker test");
        false
    }
}

/// A lowercase name unique to this process and call: `regit-<pid>-<n>-<tag>`.
pub fn unique(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "regit-{}-{}-{tag}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `docker <args>`; panics with its stderr on failure.
pub fn docker(args: &[&str]) -> String {
    let out = docker_raw(args);
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn docker_raw(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .expect("docker CLI")
}

/// A locally built `FROM scratch` image holding a static busybox; removed on drop.
pub struct Image {
    pub tag: String,
}

impl Image {
    /// Builds `<name>:latest` from busybox with `extra` Dockerfile lines (EXPOSE, HEALTHCHECK…).
    /// Default command: `httpd -f -p 80`.
    pub fn busybox(name: &str, extra: &str) -> Image {
        Self::busybox_tagged(&format!("{name}:latest"), extra)
    }

    /// As [`Image::busybox`], tagged exactly `tag` (e.g. `regit-1-0-x/nginx:test`, whose base
    /// name — the default service name — is `nginx`).
    pub fn busybox_tagged(tag: &str, extra: &str) -> Image {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::copy("/bin/busybox", dir.path().join("busybox"))
            .expect("static busybox (apt-get install busybox-static)");
        let dockerfile = format!(
            "FROM scratch\nCOPY busybox /bin/busybox\n{extra}\nENTRYPOINT [\"/bin/busybox\"]\nCMD [\"httpd\", \"-f\", \"-p\", \"80\"]\n"
        );
        std::fs::write(dir.path().join("Dockerfile"), dockerfile).expect("Dockerfile");
        let ctx = dir.path().to_string_lossy().into_owned();
        docker(&["build", "-q", "-t", tag, &ctx]);
        Image {
            tag: tag.to_string(),
        }
    }

    /// Our registrator image, built by `deploy/registrator/build.sh <tag>`: the static release
    /// binary (`cargo build --release --target x86_64-unknown-linux-gnu`, a no-op when fresh,
    /// ~35 s after a registrator change, several minutes from a cold target dir) in a
    /// `FROM scratch` image.
    pub fn registrator(tag: &str) -> Image {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = Command::new(root.join("deploy/registrator/build.sh"))
            .arg(tag)
            .current_dir(&root)
            .output()
            .expect("run deploy/registrator/build.sh");
        // Guard first, so a half-built image is still removed.
        let image = Image {
            tag: tag.to_string(),
        };
        assert!(
            out.status.success(),
            "deploy/registrator/build.sh {tag}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        image
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = docker_raw(&["rmi", "-f", &self.tag]);
    }
}

/// A container removed (forcefully) on drop.
pub struct Container {
    pub name: String,
    pub id: String,
}

impl Container {
    /// `docker run -d --name <name> <args…>`.
    pub fn run(name: &str, args: &[&str]) -> Container {
        let mut all = vec!["run", "-d", "--name", name];
        all.extend_from_slice(args);
        let id = docker(&all);
        Container {
            name: name.to_string(),
            id,
        }
    }

    /// The host port `docker port` reports for `port` (e.g. `80/tcp`), IPv4 binding.
    pub fn host_port(&self, port: &str) -> u16 {
        let out = docker(&["port", &self.name, port]);
        out.lines()
            .find(|l| l.starts_with("0.0.0.0:"))
            .and_then(|l| l.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no host port in {out:?}"))
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker_raw(&["rm", "-f", "-v", &self.name]);
    }
}

/// A child process killed on drop; its stderr goes to a file shown by [`Proc::log`].
pub struct Proc {
    pub child: Child,
    pub log_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Proc {
    pub fn spawn(mut cmd: Command) -> Proc {
        let dir = tempfile::tempdir().expect("tempdir");
        let log_path = dir.path().join("stderr.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let child = cmd
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn");
        Proc {
            child,
            log_path,
            _dir: dir,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `registrator` binary with `args`, talking to the default Docker socket.
pub fn registrator(args: &[&str]) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_registrator"));
    cmd.args(args)
        .env("DOCKER_HOST", "unix:///var/run/docker.sock")
        .env("REGISTRATOR_LOG", "info");
    Proc::spawn(cmd)
}

/// Polls `cond` every 50 ms until it holds or `timeout` passes.
pub async fn wait_until<F, Fut>(timeout: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + timeout;
    loop {
        if cond().await {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// This host's name, as registrator puts it in service IDs.
pub fn hostname() -> String {
    registrator::hostname()
}
