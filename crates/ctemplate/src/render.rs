//! Writing a rendered template: nothing when the destination already holds the same bytes
//! (so no command runs), otherwise an atomic replace — a temp file in the destination's own
//! directory, fsync'd, given the configured `perms` or the existing file's mode (new files
//! 0644) and the existing owner, optionally a `<dest>.bak` hard link, then `rename`. `-dry`
//! prints `> <dest>` and the contents to stdout instead.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// Why a write failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The parent directory is missing and `create_dest_dirs` is off.
    #[error("failed writing file: parent directory is missing: {0}")]
    NoParent(PathBuf),
    /// An I/O step failed.
    #[error("failed writing file {path}: {source}")]
    Io {
        /// The destination.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// One write request.
#[derive(Debug, Clone, Copy)]
pub struct RenderInput<'a> {
    /// Destination path.
    pub path: &'a Path,
    /// New contents.
    pub contents: &'a [u8],
    /// Mode to set; `None` keeps the existing mode.
    pub perms: Option<u32>,
    /// Keep `<dest>.bak`.
    pub backup: bool,
    /// `mkdir -p` the parent (0755).
    pub create_dest_dirs: bool,
    /// Print instead of writing.
    pub dry: bool,
}

/// Writes `input` if the destination differs; returns whether anything was written.
pub fn render(input: &RenderInput<'_>) -> Result<bool, RenderError> {
    let path = input.path;
    let io = |source| RenderError::Io {
        path: path.to_path_buf(),
        source,
    };
    let existing = fs::metadata(path).ok();
    if let Some(meta) = &existing {
        let same_mode = input
            .perms
            .map_or(true, |p| meta.permissions().mode() & 0o7777 == p);
        if same_mode && fs::read(path).is_ok_and(|old| old == input.contents) {
            return Ok(false);
        }
    }
    if input.dry {
        let mut out = std::io::stdout().lock();
        out.write_all(format!("> {}\n", path.display()).as_bytes())
            .and_then(|_| out.write_all(input.contents))
            .and_then(|_| out.flush())
            .map_err(io)?;
        return Ok(true);
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.exists() {
        if !input.create_dest_dirs {
            return Err(RenderError::NoParent(parent));
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&parent)
            .map_err(io)?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "ct".to_string());
    let tmp = parent.join(format!(
        ".{name}.{}.{:08x}.tmp",
        std::process::id(),
        rand::random::<u32>()
    ));
    let result = write_replace(input, existing.as_ref(), &tmp).map_err(io);
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map(|_| true)
}

fn write_replace(
    input: &RenderInput<'_>,
    existing: Option<&fs::Metadata>,
    tmp: &Path,
) -> std::io::Result<()> {
    let mut f = fs::File::create(tmp)?;
    f.write_all(input.contents)?;
    f.sync_all()?;
    drop(f);
    let mode = input
        .perms
        .or_else(|| existing.map(|m| m.permissions().mode() & 0o7777))
        .unwrap_or(0o644);
    fs::set_permissions(tmp, fs::Permissions::from_mode(mode))?;
    if let Some(m) = existing {
        // best effort, like upstream: only root may give a file away
        let _ = std::os::unix::fs::chown(tmp, Some(m.uid()), Some(m.gid()));
    }
    if input.backup && existing.is_some() {
        let bak = sibling(input.path, ".bak");
        let old = sibling(input.path, ".old.bak");
        let _ = fs::rename(&bak, &old);
        if fs::hard_link(input.path, &bak).is_err() {
            fs::copy(input.path, &bak)?;
        }
        let _ = fs::remove_file(&old);
    }
    fs::rename(tmp, input.path)
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(path: &'a Path, contents: &'a [u8]) -> RenderInput<'a> {
        RenderInput {
            path,
            contents,
            perms: None,
            backup: false,
            create_dest_dirs: true,
            dry: false,
        }
    }

    #[test]
    fn writes_only_changes_and_keeps_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/dir/out.conf");
        assert!(render(&input(&p, b"one")).unwrap());
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o644
        );
        assert!(!render(&input(&p, b"one")).unwrap());
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        let mut i = input(&p, b"two");
        i.backup = true;
        assert!(render(&i).unwrap());
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(fs::read(sibling(&p, ".bak")).unwrap(), b"one");
        i.contents = b"two";
        i.perms = Some(0o640);
        assert!(render(&i).unwrap());
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o640
        );
        let leftovers = fs::read_dir(p.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 2, "no temp files left");
    }

    #[test]
    fn missing_parent_without_create() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nope/out");
        let mut i = input(&p, b"x");
        i.create_dest_dirs = false;
        assert!(matches!(render(&i), Err(RenderError::NoParent(_))));
    }
}
