//! The process's own gauges, Consul's `consul.runtime.*` where a meaning carries over.
//!
//! Go's runtime reports goroutines, heap objects and GC pauses; a Rust process has no GC and
//! no goroutines, so those names are not emitted rather than filled with something else.
//! What is emitted instead, every second:
//! - `consul.runtime.alloc_bytes`: bytes of heap in use (glibc's `mallinfo2`: arena bytes in
//!   use plus mmapped chunks), the meaning of Go's `alloc_bytes`; only on glibc builds;
//! - `consul.runtime.sys_bytes`: the process's resident set (`/proc/self/status` `VmRSS`), the memory
//!   it holds from the OS (Go's counts reserved address space, which overstates it here);
//! - `consul.runtime.num_threads`: OS threads (`/proc/self/stat`);
//! - `consul.runtime.num_tasks`: tokio tasks alive, the closest thing to goroutines;
//! - `consul.runtime.open_fds`: open file descriptors (connections included).

/// Records the gauges once.
pub fn sample() {
    if let Some(b) = alloc_bytes() {
        metrics::gauge!("consul.runtime.alloc_bytes").set(b as f64);
    }
    if let Some(rss) = rss_bytes() {
        metrics::gauge!("consul.runtime.sys_bytes").set(rss as f64);
    }
    if let Some(n) = num_threads() {
        metrics::gauge!("consul.runtime.num_threads").set(n as f64);
    }
    if let Ok(h) = tokio::runtime::Handle::try_current() {
        metrics::gauge!("consul.runtime.num_tasks").set(h.metrics().num_alive_tasks() as f64);
    }
    if let Some(n) = open_fds() {
        metrics::gauge!("consul.runtime.open_fds").set(n as f64);
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn alloc_bytes() -> Option<u64> {
    // SAFETY: mallinfo2 takes no arguments and returns a plain struct by value.
    let m = unsafe { libc::mallinfo2() };
    Some((m.uordblks + m.hblkhd) as u64)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn alloc_bytes() -> Option<u64> {
    None
}

fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn num_threads() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces, inside parentheses).
    let rest = &stat[stat.rfind(')')? + 1..];
    // state is field 3; num_threads is field 20.
    rest.split_whitespace().nth(17)?.parse().ok()
}

fn open_fds() -> Option<u64> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count() as u64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn process_facts_are_read() {
        assert!(super::rss_bytes().unwrap() > 0);
        assert!(super::num_threads().unwrap() >= 1);
        assert!(super::open_fds().unwrap() >= 3);
    }
}
