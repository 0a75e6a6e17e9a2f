//! Slow and idle clients at the file limit: the server runs with RLIMIT_NOFILE 512 and gets
//! 500 connections from 127.0.0.1 that send half a request line or nothing; a normal client on
//! another loopback address (127.0.0.2, so a per-client cap does not apply to it), on a new
//! connection each time, must still be answered, every second while they are held.

use super::START;
use crate::guard::scratch;
use crate::kv::{self, Write};
use crate::report::Outcome;
use crate::server::{client, Consul};
use crate::Ctx;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const NAME: &str = "idle-clients";
const CONNS: usize = 500;
const NOFILE: u64 = 512;

pub async fn run(ctx: &Ctx) -> anyhow::Result<Vec<Outcome>> {
    let dir = scratch(NAME)?;
    let mut s = Consul::in_dir(&ctx.consul, dir.path(), &[])?;
    s.nofile = Some(NOFILE);
    s.start(START).await?;
    // A new connection per request: a kept-alive one would prove nothing about accepting.
    let other = client(Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))), false)?;
    let base = s.url("");
    match kv::put(&other, &base, "chaos/probe", "", b"ok".to_vec()).await {
        Write::Acked => {}
        w => anyhow::bail!("probe key write from 127.0.0.2: {w:?}"),
    }
    let rounds = ctx.plan.client_rounds;
    let hold = Duration::from_secs(ctx.plan.client_hold_secs);
    let tried = format!(
        "{rounds} rounds: {CONNS} idle/half-request conns from 127.0.0.1 held {hold:?}, server nofile {NOFILE}, GET from 127.0.0.2 every 1s"
    );
    let (mut probes, mut established, mut closed) = (0, 0, 0);
    for r in 0..rounds {
        let mut conns = Vec::with_capacity(CONNS);
        for i in 0..CONNS {
            let c = tokio::time::timeout(
                Duration::from_secs(1),
                TcpStream::connect(("127.0.0.1", s.http_port)),
            )
            .await;
            if let Ok(Ok(mut c)) = c {
                if i % 2 == 0 {
                    let _ = c.write_all(b"GET /v1/kv/chaos/probe HTT").await;
                }
                conns.push(c);
            }
        }
        established += conns.len();
        let t0 = Instant::now();
        while t0.elapsed() < hold {
            probes += 1;
            let got = tokio::time::timeout(
                Duration::from_secs(5),
                kv::get(&other, &base, "chaos/probe"),
            )
            .await;
            match got {
                Ok(Ok(Some((v, _)))) if v == b"ok" => {}
                other => {
                    return Ok(vec![Outcome::fail(
                        NAME,
                        tried,
                        format!(
                            "round {}: with {} connections held for {:.1}s, a GET from 127.0.0.2 got {}",
                            r + 1,
                            conns.len(),
                            t0.elapsed().as_secs_f64(),
                            describe(other)
                        ),
                    )]);
                }
            }
            crate::sleep(Duration::from_secs(1)).await;
        }
        closed += conns.iter().filter(|c| peer_closed(c)).count();
        drop(conns);
        if !s.running() {
            anyhow::bail!(
                "the server exited: {}",
                crate::server::last_error(&s.log_text())
            );
        }
    }
    Ok(vec![Outcome::pass(
        NAME,
        tried,
        format!(
            "{probes} GETs answered; {established} conns established, {closed} closed by the server while held"
        ),
    )])
}

/// One probe's answer: timed out, or what the GET returned.
type Probe = Result<anyhow::Result<Option<(Vec<u8>, u64)>>, tokio::time::error::Elapsed>;

fn describe(r: Probe) -> String {
    match r {
        Err(_) => "no answer within 5s".into(),
        Ok(Err(e)) => format!("an error: {e:#}"),
        Ok(Ok(None)) => "404".into(),
        Ok(Ok(Some((v, _)))) => format!("a wrong value {:?}", String::from_utf8_lossy(&v)),
    }
}

/// Whether the server has closed this connection (a read would return EOF or an error).
fn peer_closed(c: &TcpStream) -> bool {
    let mut b = [0u8; 512];
    match c.try_read(&mut b) {
        Ok(_) => true, // EOF, or an answer such as a 408/429 before closing
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}
