//! Docker for tests: the CLI, names unique to this process, and guards that remove the
//! images, containers and networks a test created (and only those) when dropped. Everything
//! created here carries the label [`LABEL`]`=<pid>`, so a leftover says whose it was.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The label on every image, container and network created through this module; its value
/// is the creating process's pid.
pub const LABEL: &str = "consul-rs.test";

/// Where the Docker engine listens.
pub const SOCKET: &str = "/var/run/docker.sock";

/// Fails the test, saying what is missing, unless a Docker engine answers on [`SOCKET`].
pub fn require_docker() {
    assert!(
        Path::new(SOCKET).exists(),
        "this test needs a Docker engine and {SOCKET} is absent (install docker.io and start dockerd)"
    );
    let out = docker_raw(&["version", "--format", "{{.Server.Version}}"]);
    assert!(
        out.status.success(),
        "this test needs a Docker engine; `docker version` failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// Fails the test unless `/bin/busybox` is the static busybox the test images are built from.
pub fn require_busybox() {
    assert!(
        Path::new("/bin/busybox").is_file(),
        "this test builds images from /bin/busybox: apt-get install busybox-static"
    );
}

/// A lowercase name unique to this process and call: `<prefix>-<pid>-<n>-<tag>`.
pub fn unique(prefix: &str, tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}-{tag}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// `<LABEL>=<pid>`, for `--label`.
pub fn label() -> String {
    format!("{LABEL}={}", std::process::id())
}

/// Runs `docker <args>`; its trimmed stdout. Panics with its stderr when it fails.
pub fn docker(args: &[&str]) -> String {
    let out = docker_raw(args);
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Runs `docker <args>` (classic builder: `DOCKER_BUILDKIT=0`); whatever happened.
pub fn docker_raw(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap_or_else(|e| panic!("cannot run the docker CLI: {e}"))
}

/// An image, removed (`docker rmi -f`) on drop.
#[derive(Debug)]
pub struct Image {
    pub tag: String,
}

impl Image {
    /// Builds `<name>:latest` FROM scratch holding the static `/bin/busybox`, with `extra`
    /// Dockerfile lines (EXPOSE, HEALTHCHECK, ...). Default command: `httpd -f -p 80`.
    pub fn busybox(name: &str, extra: &str) -> Image {
        Self::busybox_tagged(&format!("{name}:latest"), extra)
    }

    /// As [`Image::busybox`], tagged exactly `tag`.
    pub fn busybox_tagged(tag: &str, extra: &str) -> Image {
        require_busybox();
        let dir = crate::temp_dir("image-");
        std::fs::copy("/bin/busybox", dir.path().join("busybox"))
            .unwrap_or_else(|e| panic!("copy /bin/busybox: {e}"));
        let dockerfile = format!(
            "FROM scratch\nCOPY busybox /bin/busybox\n{extra}\nENTRYPOINT [\"/bin/busybox\"]\nCMD [\"httpd\", \"-f\", \"-p\", \"80\"]\n"
        );
        std::fs::write(dir.path().join("Dockerfile"), dockerfile)
            .unwrap_or_else(|e| panic!("write Dockerfile: {e}"));
        let ctx = dir.path().to_string_lossy().into_owned();
        // The guard first, so a half-built image is still removed.
        let image = Image::adopt(tag);
        docker(&["build", "-q", "--label", &label(), "-t", tag, &ctx]);
        image
    }

    /// A guard for an image built some other way (a build script).
    pub fn adopt(tag: &str) -> Image {
        Image {
            tag: tag.to_string(),
        }
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = docker_raw(&["rmi", "-f", &self.tag]);
    }
}

/// A container, removed (`docker rm -f -v`) on drop.
#[derive(Debug)]
pub struct Container {
    pub name: String,
    pub id: String,
}

impl Container {
    /// `docker run -d --name <name> --label <LABEL>=<pid> <args...>`.
    pub fn run(name: &str, args: &[&str]) -> Container {
        let label = label();
        let mut all = vec!["run", "-d", "--name", name, "--label", &label];
        all.extend_from_slice(args);
        // Named before it exists: a run that fails half-way is still removed.
        let mut c = Container {
            name: name.to_string(),
            id: String::new(),
        };
        c.id = docker(&all);
        c
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

    /// `docker logs`: stdout, then stderr.
    pub fn logs(&self) -> String {
        let out = docker_raw(&["logs", &self.name]);
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker_raw(&["rm", "-f", "-v", &self.name]);
    }
}

/// A network, removed on drop (after the containers on it: drop those first).
#[derive(Debug)]
pub struct Network {
    pub name: String,
}

impl Network {
    /// `docker network create --label <LABEL>=<pid> <args...> <name>`.
    pub fn create(name: &str, args: &[&str]) -> Network {
        let label = label();
        let mut all = vec!["network", "create", "--label", &label];
        all.extend_from_slice(args);
        all.push(name);
        let n = Network {
            name: name.to_string(),
        };
        docker(&all);
        n
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = docker_raw(&["network", "rm", &self.name]);
    }
}
