//! Things the campaign must undo whatever happens: temporary directories and loop-mounted
//! filesystems. Each is undone by its `Drop`.

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A temporary directory under the system temp dir, removed on drop.
pub fn scratch(name: &str) -> anyhow::Result<tempfile::TempDir> {
    Ok(tempfile::Builder::new()
        .prefix(&format!("chaos-{name}-"))
        .tempdir()?)
}

/// A small ext4 filesystem in an image file, attached to a loop device and mounted.
/// Drop unmounts it and detaches the device (the image goes with its directory).
pub struct LoopFs {
    pub mnt: PathBuf,
    dev: Option<String>,
    mounted: bool,
}

impl LoopFs {
    /// Creates a `size_mib` image in `dir`, formats it and mounts it at `dir/mnt`.
    pub fn create(dir: &Path, size_mib: u64) -> anyhow::Result<LoopFs> {
        let img = dir.join("fs.img");
        let mnt = dir.join("mnt");
        std::fs::create_dir_all(&mnt)?;
        std::fs::File::create(&img)?.set_len(size_mib << 20)?;
        run(
            "mkfs.ext4",
            &["-q", "-F", "-m", "0", &img.display().to_string()],
        )?;
        let out = Command::new("losetup")
            .args(["--find", "--show"])
            .arg(&img)
            .output()
            .context("losetup")?;
        if !out.status.success() {
            bail!(
                "losetup --find --show: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let mut fs = LoopFs {
            mnt,
            dev: Some(String::from_utf8_lossy(&out.stdout).trim().to_string()),
            mounted: false,
        };
        let dev = fs.dev.clone().unwrap_or_default();
        run("mount", &[&dev, &fs.mnt.display().to_string()])?;
        fs.mounted = true;
        Ok(fs)
    }

    /// Bytes available to a (root) writer.
    pub fn free(&self) -> anyhow::Result<u64> {
        let s = rustix::fs::statvfs(&self.mnt)?;
        Ok(s.f_bavail * s.f_frsize)
    }

    /// Creates `name` with `bytes` allocated (`fallocate`), so deleting it frees space at once.
    pub fn fill(&self, name: &str, bytes: u64) -> anyhow::Result<PathBuf> {
        let p = self.mnt.join(name);
        run(
            "fallocate",
            &["-l", &bytes.to_string(), &p.display().to_string()],
        )?;
        Ok(p)
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        if self.mounted {
            let m = self.mnt.display().to_string();
            if run("umount", &[&m]).is_err() {
                std::thread::sleep(std::time::Duration::from_millis(500));
                if run("umount", &[&m]).is_err() {
                    let _ = run("umount", &["-l", &m]);
                }
            }
        }
        if let Some(dev) = self.dev.take() {
            let _ = run("losetup", &["-d", &dev]);
        }
    }
}

fn run(prog: &str, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(prog)
        .args(args)
        .output()
        .with_context(|| format!("run {prog}"))?;
    if !out.status.success() {
        bail!(
            "{prog} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Copies a directory tree (regular files and directories) from `from` to `to`.
pub fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    let out = Command::new("cp")
        .args(["-a", "--sparse=always"])
        .arg(from)
        .arg(to)
        .output()
        .context("cp")?;
    if !out.status.success() {
        bail!("cp -a: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}
