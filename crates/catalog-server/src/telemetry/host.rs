//! `/v1/agent/host`: the host's memory, CPUs, identity and root disk, in the shapes (and JSON
//! names) of the gopsutil structs Consul returns, read from `/proc`, `/sys` and `statvfs` the
//! way gopsutil reads them on Linux.

use super::inmem::GoFloat;
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

/// Consul's `debug.HostInfo`.
#[derive(Debug, Serialize)]
pub struct HostInfo {
    #[serde(rename = "Memory")]
    pub memory: Option<Memory>,
    #[serde(rename = "CPU")]
    pub cpu: Option<Vec<Cpu>>,
    #[serde(rename = "Host")]
    pub host: Option<Host>,
    #[serde(rename = "Disk")]
    pub disk: Option<Disk>,
    #[serde(rename = "CollectionTime")]
    pub collection_time: i64,
    /// Go's `[]error`: an error value has no exported fields, so each encodes as `{}`.
    #[serde(rename = "Errors")]
    pub errors: Option<Vec<EmptyObject>>,
}

#[derive(Debug, Serialize)]
pub struct EmptyObject {}

/// The disk whose usage is reported (Consul's `DiskUsagePath`).
const DISK_PATH: &str = "/";

/// Collects what it can; each part that fails adds an error and stays `null`, as in Consul.
pub fn collect() -> HostInfo {
    let collection_time = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64;
    let mut errors = Vec::new();
    let host = keep(host(), "info", &mut errors);
    let memory = keep(memory(), "memory", &mut errors);
    let disk = keep(disk(Path::new(DISK_PATH)), "disk", &mut errors);
    let cpu = keep(cpus(), "cpu", &mut errors);
    HostInfo {
        memory,
        cpu,
        host,
        disk,
        collection_time,
        errors: (!errors.is_empty()).then_some(errors),
    }
}

fn keep<T>(r: std::io::Result<T>, what: &str, errors: &mut Vec<EmptyObject>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::debug!(target: "agent", "host {what}: {e}");
            errors.push(EmptyObject {});
            None
        }
    }
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

/// gopsutil's `mem.VirtualMemoryStat`.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    pub total: u64,
    pub available: u64,
    pub used: u64,
    pub used_percent: GoFloat,
    pub free: u64,
    pub active: u64,
    pub inactive: u64,
    pub wired: u64,
    pub laundry: u64,
    pub buffers: u64,
    pub cached: u64,
    pub write_back: u64,
    pub dirty: u64,
    pub write_back_tmp: u64,
    pub shared: u64,
    pub slab: u64,
    pub sreclaimable: u64,
    pub sunreclaim: u64,
    pub page_tables: u64,
    pub swap_cached: u64,
    pub commit_limit: u64,
    #[serde(rename = "committedAS")]
    pub committed_as: u64,
    pub high_total: u64,
    pub high_free: u64,
    pub low_total: u64,
    pub low_free: u64,
    pub swap_total: u64,
    pub swap_free: u64,
    pub mapped: u64,
    pub vmalloc_total: u64,
    pub vmalloc_used: u64,
    pub vmalloc_chunk: u64,
    pub huge_pages_total: u64,
    pub huge_pages_free: u64,
    pub huge_pages_rsvd: u64,
    pub huge_pages_surp: u64,
    pub huge_page_size: u64,
    pub anon_huge_pages: u64,
}

impl Default for GoFloat {
    fn default() -> Self {
        GoFloat(0.0)
    }
}

fn memory() -> std::io::Result<Memory> {
    parse_meminfo(&std::fs::read_to_string("/proc/meminfo")?)
}

fn parse_meminfo(text: &str) -> std::io::Result<Memory> {
    let mut kv: HashMap<&str, u64> = HashMap::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let mut parts = v.split_whitespace();
        let Some(n) = parts.next().and_then(|n| n.parse::<u64>().ok()) else {
            continue;
        };
        // Sizes are in kB; the huge page counts have no unit.
        let n = if parts.next() == Some("kB") {
            n * 1024
        } else {
            n
        };
        kv.insert(k.trim(), n);
    }
    let g = |k: &str| kv.get(k).copied().unwrap_or(0);
    let total = *kv.get("MemTotal").ok_or_else(|| invalid("no MemTotal"))?;
    let mut m = Memory {
        total,
        free: g("MemFree"),
        buffers: g("Buffers"),
        cached: g("Cached") + g("SReclaimable"),
        active: g("Active"),
        inactive: g("Inactive"),
        write_back: g("Writeback"),
        write_back_tmp: g("WritebackTmp"),
        dirty: g("Dirty"),
        shared: g("Shmem"),
        slab: g("Slab"),
        sreclaimable: g("SReclaimable"),
        sunreclaim: g("SUnreclaim"),
        page_tables: g("PageTables"),
        swap_cached: g("SwapCached"),
        commit_limit: g("CommitLimit"),
        committed_as: g("Committed_AS"),
        high_total: g("HighTotal"),
        high_free: g("HighFree"),
        low_total: g("LowTotal"),
        low_free: g("LowFree"),
        swap_total: g("SwapTotal"),
        swap_free: g("SwapFree"),
        mapped: g("Mapped"),
        vmalloc_total: g("VmallocTotal"),
        vmalloc_used: g("VmallocUsed"),
        vmalloc_chunk: g("VmallocChunk"),
        huge_pages_total: g("HugePages_Total"),
        huge_pages_free: g("HugePages_Free"),
        huge_pages_rsvd: g("HugePages_Rsvd"),
        huge_pages_surp: g("HugePages_Surp"),
        huge_page_size: g("Hugepagesize"),
        anon_huge_pages: g("AnonHugePages"),
        ..Memory::default()
    };
    m.available = kv
        .get("MemAvailable")
        .copied()
        .unwrap_or(m.free + m.buffers + m.cached);
    m.used = total.saturating_sub(m.free + m.buffers + m.cached);
    m.used_percent = GoFloat(if total == 0 {
        0.0
    } else {
        m.used as f64 / total as f64 * 100.0
    });
    Ok(m)
}

/// gopsutil's `cpu.InfoStat`, one per logical CPU.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cpu {
    pub cpu: i32,
    pub vendor_id: String,
    pub family: String,
    pub model: String,
    pub stepping: i32,
    pub physical_id: String,
    pub core_id: String,
    pub cores: i32,
    pub model_name: String,
    pub mhz: GoFloat,
    pub cache_size: i32,
    pub flags: Vec<String>,
    pub microcode: String,
}

fn cpus() -> std::io::Result<Vec<Cpu>> {
    let mut cpus = parse_cpuinfo(&std::fs::read_to_string("/proc/cpuinfo")?);
    for c in &mut cpus {
        // gopsutil prefers the maximum frequency cpufreq reports (kHz).
        let max = format!(
            "/sys/devices/system/cpu/cpu{}/cpufreq/cpuinfo_max_freq",
            c.cpu
        );
        if let Some(khz) = std::fs::read_to_string(max)
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
        {
            c.mhz = GoFloat(khz / 1000.0);
        }
    }
    if cpus.is_empty() {
        return Err(invalid("no processor in /proc/cpuinfo"));
    }
    Ok(cpus)
}

fn parse_cpuinfo(text: &str) -> Vec<Cpu> {
    let mut out: Vec<Cpu> = Vec::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if k == "processor" {
            out.push(Cpu {
                cpu: v.parse().unwrap_or(0),
                cores: 1,
                ..Cpu::default()
            });
            continue;
        }
        let Some(c) = out.last_mut() else {
            continue;
        };
        match k {
            "vendor_id" | "vendorId" => c.vendor_id = v.to_string(),
            "cpu family" => c.family = v.to_string(),
            "model" => c.model = v.to_string(),
            "model name" => c.model_name = v.to_string(),
            "stepping" => c.stepping = v.parse().unwrap_or(0),
            "physical id" => c.physical_id = v.to_string(),
            "core id" => c.core_id = v.to_string(),
            "cpu cores" => c.cores = v.parse().unwrap_or(1),
            "cpu MHz" => c.mhz = GoFloat(v.parse().unwrap_or(0.0)),
            "cache size" => c.cache_size = v.trim_end_matches("KB").trim().parse().unwrap_or(0),
            "flags" | "Features" => c.flags = v.split_whitespace().map(str::to_string).collect(),
            "microcode" => c.microcode = v.to_string(),
            _ => {}
        }
    }
    out
}

/// gopsutil's `host.InfoStat`.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Host {
    pub hostname: String,
    pub uptime: u64,
    pub boot_time: u64,
    pub procs: u64,
    pub os: String,
    pub platform: String,
    pub platform_family: String,
    pub platform_version: String,
    pub kernel_version: String,
    pub kernel_arch: String,
    pub virtualization_system: String,
    pub virtualization_role: String,
    pub host_id: String,
}

fn host() -> std::io::Result<Host> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let boot_time = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| invalid("no btime in /proc/stat"))?;
    let uptime = std::fs::read_to_string("/proc/uptime")?
        .split_whitespace()
        .next()
        .and_then(|v| v.parse::<f64>().ok())
        .ok_or_else(|| invalid("unreadable /proc/uptime"))? as u64;
    let procs = std::fs::read_dir("/proc")?
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .count() as u64;
    let kernel_version = std::fs::read_to_string("/proc/sys/kernel/osrelease")?
        .trim()
        .to_string();
    let (platform, platform_family, platform_version) = platform();
    let (virtualization_system, virtualization_role) = virtualization();
    let host_id = [
        "/sys/class/dmi/id/product_uuid",
        "/proc/sys/kernel/random/boot_id",
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok())
    .map(|s| s.trim().to_lowercase())
    .unwrap_or_default();
    Ok(Host {
        hostname: gethostname::gethostname().to_string_lossy().into_owned(),
        uptime,
        boot_time,
        procs,
        os: std::env::consts::OS.to_string(),
        platform,
        platform_family,
        platform_version,
        kernel_version,
        kernel_arch: std::env::consts::ARCH.to_string(),
        virtualization_system,
        virtualization_role,
        host_id,
    })
}

/// (platform, family, version) as gopsutil names them: Debian's version from
/// `/etc/debian_version`, others from `/etc/os-release`.
fn platform() -> (String, String, String) {
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let field = |k: &str| {
        os_release
            .lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .map(|v| v.trim().trim_matches('"').to_string())
            .unwrap_or_default()
    };
    let id = field("ID");
    let (platform, version) = match std::fs::read_to_string("/etc/debian_version") {
        Ok(v) if id == "debian" || id.is_empty() => ("debian".to_string(), v.trim().to_string()),
        _ => (id.clone(), field("VERSION_ID")),
    };
    let family = match platform.as_str() {
        "debian" | "ubuntu" | "linuxmint" | "raspbian" => "debian",
        "fedora" => "fedora",
        "oracle"
        | "centos"
        | "redhat"
        | "scientific"
        | "enterpriseenterprise"
        | "amazon"
        | "xenserver"
        | "cloudlinux"
        | "ibm_powerkvm"
        | "rocky"
        | "almalinux" => "rhel",
        "suse" | "opensuse" | "opensuse-leap" | "opensuse-tumbleweed" | "sles" => "suse",
        "gentoo" => "gentoo",
        "arch" | "archlinux" | "manjaro" => "arch",
        "alpine" => "alpine",
        _ => "",
    };
    (platform, family.to_string(), version)
}

/// gopsutil's container and hypervisor detection, reduced to what it finds most often.
fn virtualization() -> (String, String) {
    let guest = |s: &str| (s.to_string(), "guest".to_string());
    if Path::new("/.dockerenv").exists() {
        return guest("docker");
    }
    if let Ok(cg) = std::fs::read_to_string("/proc/self/cgroup") {
        if cg.contains("docker") {
            return guest("docker");
        }
        if cg.contains("lxc") {
            return guest("lxc");
        }
    }
    if let Ok(ci) = std::fs::read_to_string("/proc/cpuinfo") {
        if ci.contains("QEMU Virtual CPU") || ci.contains("Common KVM processor") {
            return guest("kvm");
        }
    }
    (String::new(), String::new())
}

/// gopsutil's `disk.UsageStat`.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Disk {
    pub path: String,
    pub fstype: String,
    pub total: u64,
    pub free: u64,
    pub used: u64,
    pub used_percent: GoFloat,
    pub inodes_total: u64,
    pub inodes_used: u64,
    pub inodes_free: u64,
    pub inodes_used_percent: GoFloat,
}

fn disk(path: &Path) -> std::io::Result<Disk> {
    let v = rustix::fs::statvfs(path)?;
    let s = rustix::fs::statfs(path)?;
    let frsize = v.f_frsize;
    let total = v.f_blocks * frsize;
    let free = v.f_bavail * frsize;
    let used = (v.f_blocks - v.f_bfree) * frsize;
    let pct = |part: u64, whole: u64| {
        GoFloat(if whole == 0 {
            0.0
        } else {
            part as f64 / whole as f64 * 100.0
        })
    };
    let inodes_used = v.f_files.saturating_sub(v.f_ffree);
    Ok(Disk {
        path: path.display().to_string(),
        fstype: fs_type_name(s.f_type as i64).to_string(),
        total,
        free,
        used,
        used_percent: pct(used, used + free),
        inodes_total: v.f_files,
        inodes_used,
        inodes_free: v.f_ffree,
        inodes_used_percent: pct(inodes_used, v.f_files),
    })
}

/// gopsutil's names for the common file system magic numbers.
fn fs_type_name(magic: i64) -> &'static str {
    match magic {
        0xEF53 => "ext2/ext3",
        0x794c_7630 => "overlayfs",
        0x0102_1994 => "tmpfs",
        0x5846_5342 => "xfs",
        0x9123_683E => "btrfs",
        0x6969 => "nfs",
        0x6573_5546 => "fuse",
        0x2FC1_2FC1 => "zfs",
        0x4d44 => "msdos",
        0x5346_544e => "ntfs",
        0x6462_6720 => "debugfs",
        0x9fa0 => "proc",
        0x6265_6572 => "sysfs",
        0x7275 => "romfs",
        0x7361_6673 => "squashfs",
        0xF2F5_2010 => "f2fs",
        _ => "",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_is_read_as_gopsutil_reads_it() {
        let m = parse_meminfo(
            "MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 600 kB\nBuffers: 50 kB\nCached: 200 kB\nSReclaimable: 50 kB\nHugePages_Total: 3\nHugepagesize: 2048 kB\n",
        )
        .unwrap();
        assert_eq!(m.total, 1_024_000);
        assert_eq!(m.cached, 250 * 1024);
        assert_eq!(m.used, (1000 - 100 - 50 - 250) * 1024);
        assert_eq!(m.available, 600 * 1024);
        assert_eq!(m.huge_pages_total, 3);
        assert_eq!(m.huge_page_size, 2048 * 1024);
        assert_eq!(m.used_percent.0, 60.0);
    }

    #[test]
    fn cpuinfo_gives_one_entry_per_processor() {
        let c = parse_cpuinfo(
            "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nstepping\t: 7\ncpu cores\t: 2\ncache size\t: 512 KB\nflags\t\t: fpu sse\n\nprocessor\t: 1\nvendor_id\t: GenuineIntel\n",
        );
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].family, "6");
        assert_eq!(c[0].stepping, 7);
        assert_eq!(c[0].cores, 2);
        assert_eq!(c[0].cache_size, 512);
        assert_eq!(c[0].flags, ["fpu", "sse"]);
        assert_eq!(c[1].cpu, 1);
    }

    #[test]
    fn this_host_is_described() {
        let h = collect();
        assert!(h.errors.is_none(), "{h:?}");
        assert!(h.memory.unwrap().total > 0);
        assert!(!h.cpu.unwrap().is_empty());
        assert!(h.host.unwrap().boot_time > 0);
        assert!(h.disk.unwrap().total > 0);
    }
}
