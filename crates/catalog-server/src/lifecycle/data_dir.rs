//! The agent's data directory: held by one process at a time (`<data-dir>/lock`), the node ID
//! kept in `<data-dir>/node-id`, and `-dev`'s temporary directory removed at exit.

use std::path::{Path, PathBuf};

/// The data directory, locked for the life of this value.
pub struct DataDir {
    path: PathBuf,
    _lock: std::fs::File,
    _dev: Option<DevDir>,
}

impl DataDir {
    /// Opens (creating) `configured`, or a fresh temporary directory for `-dev`, and locks it.
    pub fn open(configured: Option<&Path>) -> anyhow::Result<DataDir> {
        let (path, dev) = match configured {
            Some(d) => (d.to_path_buf(), None),
            None => {
                let d = tempfile_dir()?;
                (d.clone(), Some(DevDir(d)))
            }
        };
        std::fs::create_dir_all(&path)
            .map_err(|e| anyhow::anyhow!("Error creating data dir {}: {e}", path.display()))?;
        let lock = lock_data_dir(&path)?;
        Ok(DataDir {
            path,
            _lock: lock,
            _dev: dev,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The node ID: `configured`, else the one kept here, else a new one kept from now on.
    pub fn node_id(&self, configured: Option<&str>) -> anyhow::Result<String> {
        load_node_id(&self.path, configured)
    }
}

fn load_node_id(data_dir: &Path, configured: Option<&str>) -> anyhow::Result<String> {
    if let Some(id) = configured {
        return Ok(id.to_string());
    }
    let path = data_dir.join("node-id");
    match std::fs::read_to_string(&path) {
        Ok(id) => {
            let id = id.trim().to_string();
            uuid::Uuid::parse_str(&id).map_err(|e| {
                anyhow::anyhow!(
                    "Error starting agent: {} does not hold a node ID ({e}): it was edited or \
                     damaged. Write this node's ID back into it (`consul operator raft \
                     list-peers` on another server shows it), or remove it on a node without \
                     Raft data",
                    path.display()
                )
            })?;
            Ok(id)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = uuid::Uuid::new_v4().to_string();
            std::fs::write(&path, &id)?;
            Ok(id)
        }
        Err(e) => Err(anyhow::anyhow!("Error reading {}: {e}", path.display())),
    }
}

/// Holds `<data-dir>/lock` for the life of the process: a second agent on the same data dir
/// is refused instead of corrupting it.
fn lock_data_dir(data_dir: &Path) -> anyhow::Result<std::fs::File> {
    use std::io::{Read, Seek, Write};
    let path = data_dir.join("lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("Error opening {}: {e}", path.display()))?;
    if rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        let holder = holder.trim();
        anyhow::bail!(
            "Error starting agent: the data dir {} is in use by another consul agent{}",
            data_dir.display(),
            if holder.is_empty() {
                String::new()
            } else {
                format!(" (pid {holder})")
            }
        );
    }
    file.set_len(0)?;
    file.rewind()?;
    write!(file, "{}", std::process::id())?;
    Ok(file)
}

/// `-dev` keeps its state in a temporary directory removed at exit.
struct DevDir(PathBuf);

impl Drop for DevDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let d = std::env::temp_dir().join(format!(
        "consul-dev-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}
