//! The log file (upstream's `log_file`): the configured path names a directory and a file
//! name; lines go to `<stem>-<unix nanoseconds><ext>` there (`<ext>` is the name's extension,
//! `.log` when it has none), created 0640 and truncated. A new file is started before a write
//! once `rotate_bytes` (> 0) bytes were written to the current one or `rotate_duration`
//! passed since it was created; at start and at each rotation, older files of the pattern are
//! pruned to the newest `rotate_max_files` (0 keeps all, negative keeps none).

use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::LogFile;

/// Name used when the path ends in `/` (upstream's `DefaultLogFileName`).
pub const DEFAULT_NAME: &str = "consul-template.log";

/// An open, rotating log file.
#[derive(Debug)]
pub struct FileSink {
    dir: PathBuf,
    stem: String,
    ext: String,
    rotate_bytes: i64,
    rotate_duration: Duration,
    max_files: i64,
    file: File,
    path: PathBuf,
    created: Instant,
    written: i64,
}

/// Go's `filepath.Ext`: from the last `.` of the name, or empty.
fn go_ext(name: &str) -> &str {
    name.rfind('.').map_or("", |i| &name[i..])
}

impl FileSink {
    /// Prunes old files and opens a new one (upstream's wording on failure).
    pub fn open(path: &Path, cfg: &LogFile) -> Result<FileSink, String> {
        let text = path.to_string_lossy();
        let (dir, name) = match text.rfind('/') {
            Some(i) => (&text[..=i], &text[i + 1..]),
            None => ("", &*text),
        };
        let name = if name.is_empty() { DEFAULT_NAME } else { name };
        let ext = match go_ext(name) {
            "" => ".log",
            e => e,
        };
        let stem = name.strip_suffix(ext).unwrap_or(name);
        let dir = if dir.is_empty() {
            PathBuf::from(".")
        } else {
            PathBuf::from(dir)
        };
        let rotate_duration = if cfg.rotate_duration.is_zero() {
            LogFile::default().rotate_duration
        } else {
            cfg.rotate_duration
        };
        let (file, path) = create(&dir, stem, ext)
            .map_err(|e| format!("error setting up log_file logging : {e}"))?;
        let sink = FileSink {
            dir,
            stem: stem.to_string(),
            ext: ext.to_string(),
            rotate_bytes: cfg.rotate_bytes,
            rotate_duration,
            max_files: cfg.rotate_max_files,
            file,
            path,
            created: Instant::now(),
            written: 0,
        };
        // upstream prunes before creating the first file; pruning after it, sparing it,
        // leaves the same set of files
        sink.prune(true)
            .map_err(|e| format!("error while pruning log files: {e}"))?;
        Ok(sink)
    }

    /// The file currently written.
    pub fn current_path(&self) -> PathBuf {
        self.path.clone()
    }

    /// Writes `line`, rotating first when due. Errors are dropped, like Go's `log` does.
    pub fn write(&mut self, line: &[u8]) {
        if (self.rotate_bytes > 0 && self.written >= self.rotate_bytes)
            || self.created.elapsed() >= self.rotate_duration
        {
            if self.prune(false).is_err() {
                return;
            }
            match create(&self.dir, &self.stem, &self.ext) {
                Ok((f, p)) => {
                    self.file = f;
                    self.path = p;
                    self.created = Instant::now();
                    self.written = 0;
                }
                Err(_) => return,
            }
        }
        self.written += i64::try_from(line.len()).unwrap_or(i64::MAX);
        let _ = self.file.write_all(line);
    }

    /// Files of the pattern, sorted by name (the nanosecond stamps have equal widths).
    fn matching(&self) -> std::io::Result<Vec<PathBuf>> {
        let prefix = format!("{}-", self.stem);
        let mut out: Vec<PathBuf> = std::fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok())
            .filter(|e| {
                let n = e.file_name();
                let n = n.to_string_lossy();
                n.len() >= prefix.len() + self.ext.len()
                    && n.starts_with(&prefix)
                    && n.ends_with(&self.ext)
            })
            .map(|e| e.path())
            .collect();
        out.sort();
        Ok(out)
    }

    /// Keeps the newest `max_files` old files; `spare_current`: the open file does not count.
    fn prune(&self, spare_current: bool) -> std::io::Result<()> {
        if self.max_files == 0 {
            return Ok(());
        }
        let mut files = self.matching()?;
        if spare_current {
            files.retain(|p| *p != self.path);
        }
        let keep = usize::try_from(self.max_files.max(0)).unwrap_or(usize::MAX);
        let remove = files.len().saturating_sub(keep);
        for p in &files[..remove] {
            std::fs::remove_file(p)?;
        }
        Ok(())
    }
}

fn create(dir: &Path, stem: &str, ext: &str) -> std::io::Result<(File, PathBuf)> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let path = dir.join(format!("{stem}-{nanos}{ext}"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o640)
        .open(&path)?;
    Ok((file, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn naming_like_upstream() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LogFile::default();
        let f = FileSink::open(&dir.path().join("ct.txt"), &cfg).unwrap();
        let n = f
            .current_path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(n.starts_with("ct-") && n.ends_with(".txt"), "{n}");
        let f = FileSink::open(&dir.path().join("plain"), &cfg).unwrap();
        let n = f
            .current_path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(n.starts_with("plain-") && n.ends_with(".log"), "{n}");
        let f = FileSink::open(&dir.path().join("sub/"), &cfg);
        assert!(f.is_err(), "a missing directory is an error");
        let d = dir.path().join("d");
        std::fs::create_dir(&d).unwrap();
        let f = FileSink::open(&PathBuf::from(format!("{}/", d.display())), &cfg).unwrap();
        let n = f
            .current_path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            n.starts_with("consul-template-") && n.ends_with(".log"),
            "{n}"
        );
    }

    #[test]
    fn rotates_by_size_and_keeps_max_files() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LogFile {
            rotate_bytes: 10,
            rotate_max_files: 2,
            ..LogFile::default()
        };
        let mut f = FileSink::open(&dir.path().join("ct.log"), &cfg).unwrap();
        for i in 0..6 {
            f.write(format!("line {i} ....\n").as_bytes());
        }
        // one line per file (each exceeds 10 bytes); the current one and two old ones
        let n = names(dir.path());
        assert_eq!(n.len(), 3, "{n:?}");
        let last = std::fs::read_to_string(f.current_path()).unwrap();
        assert_eq!(last, "line 5 ....\n");
        assert_eq!(
            std::fs::read_to_string(dir.path().join(&n[1])).unwrap(),
            "line 4 ....\n"
        );
        // negative: old files removed at each rotation
        let dir = tempfile::tempdir().unwrap();
        let cfg = LogFile {
            rotate_bytes: 1,
            rotate_max_files: -1,
            ..LogFile::default()
        };
        let mut f = FileSink::open(&dir.path().join("ct.log"), &cfg).unwrap();
        for _ in 0..4 {
            f.write(b"xx\n");
        }
        assert_eq!(names(dir.path()).len(), 1);
    }

    #[test]
    fn rotates_by_time() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LogFile {
            rotate_duration: Duration::from_millis(30),
            ..LogFile::default()
        };
        let mut f = FileSink::open(&dir.path().join("ct.log"), &cfg).unwrap();
        f.write(b"a\n");
        std::thread::sleep(Duration::from_millis(50));
        f.write(b"b\n");
        assert_eq!(names(dir.path()).len(), 2);
        assert_eq!(std::fs::read_to_string(f.current_path()).unwrap(), "b\n");
    }
}
