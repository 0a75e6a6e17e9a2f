//! The tutorial's scenario with a real nginx (Debian's `nginx` package; the test fails when
//! it is not installed): the upstream file is rendered from the tutorial's `nginx.ctmpl`,
//! `nginx -s reload` runs on change, and requests through nginx reach the registered backends.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use super::harness::{read, tpl, wait_until, Consul, Ct};

const T: Duration = Duration::from_secs(20);

fn nginx_bin() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// nginx under its own prefix, master in the foreground; killed on drop.
struct Nginx {
    child: Child,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its workers; SIGKILL would orphan them
        let _ = ctemplate::signal::send(self.child.id(), ctemplate::signal::Signal::TERM, false);
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A backend on a free port answering its own name (a plain thread: the test's own runtime
/// blocks in `get`).
fn backend(name: &'static str) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{name}",
                name.len()
            );
            let _ = s.write_all(resp.as_bytes());
        }
    });
    port
}

/// One GET through nginx; the body.
fn get(port: u16) -> String {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split("\r\n\r\n").nth(1).unwrap_or_default().to_string()
}

fn bodies(port: u16, n: usize) -> Vec<String> {
    let mut v: Vec<String> = (0..n).map(|_| get(port)).collect();
    v.sort();
    v.dedup();
    v
}

fn write_conf(prefix: &Path) -> PathBuf {
    for d in ["conf/vhost", "logs", "tmp"] {
        std::fs::create_dir_all(prefix.join(d)).unwrap();
    }
    let p = prefix.display();
    let conf = prefix.join("conf/nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "worker_processes 1;\ndaemon off;\npid {p}/logs/nginx.pid;\nerror_log {p}/logs/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  client_body_temp_path {p}/tmp/body;\n  proxy_temp_path {p}/tmp/proxy;\n  \
             fastcgi_temp_path {p}/tmp/fcgi;\n  uwsgi_temp_path {p}/tmp/uwsgi;\n  scgi_temp_path {p}/tmp/scgi;\n  \
             include {p}/conf/vhost/*.conf;\n}}\n"
        ),
    )
    .unwrap();
    conf
}

#[tokio::test]
async fn tutorial_nginx_upstream_follows_registrations() {
    let nginx = nginx_bin().expect("this test needs nginx: apt-get install -y nginx");
    let consul = Consul::start().await;
    let (a, b) = (backend("backend-a"), backend("backend-b"));
    consul.register("web1", "nginx", a).await;
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("nginx");
    let conf = write_conf(&prefix);
    // nginx binds its own port: the racy free_port is the only way.
    let listen = test_support::free_port();
    let tutorial = include_str!("nginx.ctmpl");
    let src = dir.path().join("nginx.ctmpl");
    std::fs::write(
        &src,
        tutorial
            .replace("listen 1234;", &format!("listen 127.0.0.1:{listen};"))
            .replace(
                "/var/log/nginx/access.log",
                &format!("{}/logs/access.log", prefix.display()),
            ),
    )
    .unwrap();
    let dst = prefix.join("conf/vhost/wt.conf");
    // the first file, before nginx runs (its reload would fail): -once without a command
    let mut once = Ct::start(&[
        "-consul-addr".into(),
        consul.addr(),
        "-template".into(),
        tpl(&src, &dst, None),
        "-once".into(),
    ]);
    assert_eq!(once.wait_exit(T).await, Some(0), "{}", once.stderr());
    let nginx_cmd = |extra: &[&str]| {
        let mut c = Command::new(&nginx);
        c.arg("-p").arg(&prefix).arg("-c").arg(&conf).args(extra);
        c
    };
    let _nginx = Nginx {
        child: nginx_cmd(&[])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    };
    assert!(
        wait_until(T, || async { get(listen) == "backend-a" }).await,
        "nginx: {}",
        read(&prefix.join("logs/error.log"))
    );

    let reload = format!(
        "{} -p {} -c {} -s reload",
        nginx.display(),
        prefix.display(),
        conf.display()
    );
    let args = vec![
        "-consul-addr".into(),
        consul.addr(),
        "-template".into(),
        tpl(&src, &dst, Some(&reload)),
        "--log-level=info".into(),
    ];
    let ct = Ct::start(&args);
    consul.register("web2", "nginx", b).await;
    assert!(
        wait_until(T, || async {
            read(&dst).contains(&format!("server 127.0.0.1:{b};"))
        })
        .await,
        "{}",
        ct.stderr()
    );
    assert!(
        wait_until(T, || async {
            bodies(listen, 6) == ["backend-a", "backend-b"]
        })
        .await,
        "both backends behind nginx: {:?} {}",
        bodies(listen, 6),
        ct.stderr()
    );
    consul.deregister("web1").await;
    assert!(
        wait_until(T, || async { bodies(listen, 6) == ["backend-b"] }).await,
        "{}",
        ct.stderr()
    );
    assert!(ct.stderr().contains("[INFO] (runner) executing command"));
}
