//! Runtime lifecycle: quiescence (`-wait`), Consul down at start and coming back (and going
//! away again without touching the last good file), SIGHUP reloads, SIGINT/SIGTERM stop
//! cleanly, a failing command ends the run with exit code 14.

use std::time::{Duration, Instant};

use ctemplate::signal::Signal;

use super::harness::{read, tpl, wait_until, Consul, Ct, ReservedPort};

const T: Duration = Duration::from_secs(15);

#[tokio::test]
async fn wait_coalesces_a_burst_into_one_render() {
    let consul = Consul::start().await;
    consul.put("n", "0").await;
    let dir = tempfile::tempdir().unwrap();
    let (src, dst, count) = (
        dir.path().join("n.ctmpl"),
        dir.path().join("n.out"),
        dir.path().join("count"),
    );
    std::fs::write(&src, "{{key \"n\"}}").unwrap();
    let cmd = format!("echo run >> {}", count.display());
    let args = vec![
        "-consul-addr".into(),
        consul.addr(),
        "-template".into(),
        tpl(&src, &dst, Some(&cmd)),
        "-wait=800ms:5s".into(),
    ];
    let ct = Ct::start(&args);
    // the first render is immediate
    assert!(
        wait_until(T, || async { read(&dst) == "0" }).await,
        "{}",
        ct.stderr()
    );
    assert!(wait_until(T, || async { read(&count).lines().count() == 1 }).await);
    for i in 1..=4 {
        consul.put("n", &i.to_string()).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let last_write = Instant::now();
    assert!(
        wait_until(T, || async { read(&dst) == "4" }).await,
        "{:?}",
        read(&dst)
    );
    assert!(
        last_write.elapsed() >= Duration::from_millis(600),
        "rendered before the quiet period"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        read(&count).lines().count(),
        2,
        "one command for the whole burst"
    );
}

#[tokio::test]
async fn consul_down_at_start_then_up_then_down_keeps_last_output() {
    // Held, not listening, until consul takes it: connections are refused meanwhile.
    let held = ReservedPort::loopback();
    let port = held.port();
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("s.ctmpl"), dir.path().join("s.out"));
    std::fs::write(&src, "{{range service \"api\"}}{{.Port}} {{end}}").unwrap();
    std::fs::write(&dst, "previous").unwrap();
    let args = vec![
        format!("-consul-addr=127.0.0.1:{port}"),
        "-template".into(),
        tpl(&src, &dst, None),
        "-consul-retry-backoff=50ms".into(),
        "-consul-retry-max-backoff=200ms".into(),
        "-consul-retry-attempts=0".into(),
        "-log-level=warn".into(),
    ];
    let mut ct = Ct::start(&args);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        read(&dst),
        "previous",
        "nothing written while consul is down"
    );
    assert!(ct.stderr().contains("retry attempt"), "{}", ct.stderr());
    let mut consul = Consul::start_on(held).await;
    consul.register("api-1", "api", 9001).await;
    assert!(
        wait_until(T, || async { read(&dst) == "9001 " }).await,
        "{:?} {}",
        read(&dst),
        ct.stderr()
    );
    consul.kill();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(read(&dst), "9001 ", "last good output kept");
    assert_eq!(
        ct.wait_exit(Duration::from_millis(10)).await,
        None,
        "still running"
    );
}

#[tokio::test]
async fn sighup_reloads_templates_and_signals_stop_cleanly() {
    let consul = Consul::start().await;
    consul.put("k", "x").await;
    let dir = tempfile::tempdir().unwrap();
    let (src, dst, pid) = (
        dir.path().join("r.ctmpl"),
        dir.path().join("r.out"),
        dir.path().join("ct.pid"),
    );
    std::fs::write(&src, "v1 {{key \"k\"}}").unwrap();
    let args = vec![
        "-consul-addr".into(),
        consul.addr(),
        "-template".into(),
        tpl(&src, &dst, None),
        "-pid-file".into(),
        pid.display().to_string(),
    ];
    let mut ct = Ct::start(&args);
    assert!(
        wait_until(T, || async { read(&dst) == "v1 x" }).await,
        "{}",
        ct.stderr()
    );
    assert!(!read(&pid).is_empty());
    std::fs::write(&src, "v2 {{key \"k\"}}").unwrap();
    ct.signal(Signal::HUP);
    assert!(
        wait_until(T, || async { read(&dst) == "v2 x" }).await,
        "{}",
        ct.stderr()
    );
    assert!(ct.stderr().contains("Reloading configuration..."));
    // still watching after the reload
    consul.put("k", "y").await;
    assert!(wait_until(T, || async { read(&dst) == "v2 y" }).await);
    ct.signal(Signal::TERM);
    assert_eq!(ct.wait_exit(T).await, Some(0), "{}", ct.stderr());
    assert!(!pid.exists(), "pid file removed");

    let mut ct = Ct::start(&args);
    assert!(wait_until(T, || async { read(&pid).parse::<u32>().is_ok() }).await);
    ct.signal(Signal::INT);
    assert_eq!(ct.wait_exit(T).await, Some(0));
}

#[tokio::test]
async fn failing_command_exits_14_after_writing() {
    let consul = Consul::start().await;
    consul.put("f", "1").await;
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("f.ctmpl"), dir.path().join("f.out"));
    std::fs::write(&src, "{{key \"f\"}}").unwrap();
    let args = vec![
        "-consul-addr".into(),
        consul.addr(),
        "-template".into(),
        tpl(&src, &dst, Some("echo failing; exit 3")),
    ];
    let mut ct = Ct::start(&args);
    assert_eq!(ct.wait_exit(T).await, Some(14), "{}", ct.stderr());
    assert_eq!(read(&dst), "1");
    assert!(
        ct.stderr().contains("non-zero exit status"),
        "{}",
        ct.stderr()
    );
}
