//! The functions that reach outside the template: `plugin` (runs a program, its trimmed
//! standard output is the value) and `writeToFile` (writes a file as a side effect), with
//! upstream's arguments, limits and error words. Both can be switched off with
//! `function_denylist`.

use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{string, strings_of, Env};
use api_types::go_io_error;
use gotemplate::{FuncError, Value};

/// Upstream's fixed limit for a plugin run.
const PLUGIN_TIMEOUT: Duration = Duration::from_secs(30);

/// `plugin name args...`: each argument trimmed and the empty ones dropped; the program found
/// on `PATH` as Go's `exec.Command` finds it; stdin is `/dev/null`; killed after 30 s.
pub(super) fn plugin(_: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    if args.is_empty() {
        return Err(FuncError::arity_at_least(1, 0));
    }
    let args = strings_of(&args)?;
    let name = &args[0];
    if name.is_empty() {
        return Ok(Value::str(""));
    }
    let argv: Vec<&str> = args[1..]
        .iter()
        .map(|a| a.trim())
        .filter(|a| !a.is_empty())
        .collect();
    let failed = |err: &str, out: &[u8], errout: &[u8]| {
        FuncError::call(format!(
            "exec {name:?}: {err}\n\nstdout:\n\n{}\n\nstderr:\n\n{}",
            String::from_utf8_lossy(out),
            String::from_utf8_lossy(errout)
        ))
    };
    let program = look_path(name).map_err(|e| failed(&e, b"", b""))?;
    let mut child = Command::new(&program)
        .args(&argv)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            failed(
                &go_io_error("fork/exec", &program.display().to_string(), &e),
                b"",
                b"",
            )
        })?;
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + PLUGIN_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                child
                    .kill()
                    .map_err(|_| FuncError::call(format!("exec {name:?}: failed to kill")))?;
                let _ = child.wait();
                return Err(FuncError::call(format!(
                    "exec {name:?}: did not finish in 30s"
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(failed(&go_io_error("wait", name, &e), b"", b"")),
        }
    };
    let (out, err) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    if !status.success() {
        let why = match status.code() {
            Some(code) => format!("exit status {code}"),
            None => {
                use std::os::unix::process::ExitStatusExt;
                format!("signal: {}", signal_text(status.signal().unwrap_or(0)))
            }
        };
        return Err(failed(&why, &out, &err));
    }
    Ok(Value::str(String::from_utf8_lossy(&out).trim()))
}

/// How Go's `ProcessState.String` names the signal that ended a process.
fn signal_text(sig: i32) -> String {
    match sig {
        libc::SIGKILL => "killed".into(),
        libc::SIGTERM => "terminated".into(),
        libc::SIGINT => "interrupt".into(),
        libc::SIGHUP => "hangup".into(),
        libc::SIGSEGV => "segmentation fault".into(),
        libc::SIGABRT => "aborted".into(),
        libc::SIGPIPE => "broken pipe".into(),
        n => format!("signal {n}"),
    }
}

/// Go's `exec.LookPath` text for a program that cannot be found.
fn look_path(name: &str) -> Result<PathBuf, String> {
    if name.contains('/') {
        return Ok(PathBuf::from(name));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let candidate = dir.join(name);
        if let Ok(meta) = std::fs::metadata(&candidate) {
            if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
                return Ok(candidate);
            }
        }
    }
    Err(format!(
        "exec: {name:?}: executable file not found in $PATH"
    ))
}

/// `writeToFile path user group perms [flags] content`: writes (or with `append` appends)
/// `content` (plus a newline with `newline`), refusing a symlink as the file or its directory,
/// creating missing directories; the file's owner is set when a user or group is given (a
/// name, else a numeric id), its mode always. Returns "".
pub(super) fn write_to_file(_: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    if args.len() < 4 {
        return Err(FuncError::arity_at_least(4, args.len()));
    }
    let (path, user, group, perms) = (
        string(&args[0])?,
        string(&args[1])?,
        string(&args[2])?,
        string(&args[3])?,
    );
    let rest = strings_of(&args[4..])?;
    let flags = if rest.len() == 2 {
        rest[0].as_str()
    } else {
        ""
    };
    let Some(content) = rest.last() else {
        return Err(FuncError::call("runtime error: index out of range [-1]"));
    };
    let mode = u32::from_str_radix(&perms, 8).map_err(|_| {
        FuncError::call(format!(
            "strconv.ParseUint: parsing {perms:?}: invalid syntax"
        ))
    })?;
    let call = |e: String| FuncError::call(e);

    let clean = super::sprig::clean_path(&path);
    let dir = match clean.rfind('/') {
        Some(0) => "/".to_string(),
        Some(i) => clean[..i].to_string(),
        None => ".".to_string(),
    };
    if std::fs::metadata(&dir).is_err() {
        std::fs::create_dir_all(&dir).map_err(|e| call(go_path_error("mkdir", &dir, &e)))?;
    }
    let dir_meta = std::fs::symlink_metadata(&dir).map_err(|e| {
        call(format!(
            "writeToFile: failed to stat directory {dir:?}: {}",
            go_path_error("lstat", &dir, &e)
        ))
    })?;
    if dir_meta.file_type().is_symlink() {
        return Err(call(format!(
            "writeToFile: refusing to write through symlinked directory in path {path:?}"
        )));
    }
    let base = clean.rsplit('/').next().unwrap_or(&clean);
    let target = Path::new(&dir).join(base);
    let shown = target.display().to_string();
    match std::fs::symlink_metadata(&target) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(call(format!(
                "writeToFile: refusing to write to symlink {path:?}"
            )))
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(call(format!(
                "writeToFile: failed to stat {shown:?}: {}",
                go_path_error("lstat", &shown, &e)
            )))
        }
    }
    let mut open = std::fs::OpenOptions::new();
    open.create(true).mode(mode).custom_flags(libc::O_NOFOLLOW);
    if flags.contains("append") {
        open.append(true);
    } else {
        open.read(true).write(true).truncate(true);
    }
    let mut file = open
        .open(&target)
        .map_err(|e| call(go_path_error("open", &shown, &e)))?;
    let mut bytes = content.as_bytes().to_vec();
    if flags.contains("newline") {
        bytes.push(b'\n');
    }
    file.write_all(&bytes)
        .map_err(|e| call(go_path_error("write", &shown, &e)))?;

    if !user.is_empty() || !group.is_empty() {
        // Go passes its own uid/gid for the one not given (`os.Getuid`/`os.Getgid`): the
        // owner of `/proc/self` is this process.
        let me = std::fs::metadata("/proc/self").ok();
        let uid = if user.is_empty() {
            me.as_ref().map(std::os::unix::fs::MetadataExt::uid)
        } else {
            Some(
                lookup_id("/etc/passwd", &user, 2)
                    .ok_or_else(|| call(format!("user: unknown user {user}")))?,
            )
        };
        let gid = if group.is_empty() {
            me.as_ref().map(std::os::unix::fs::MetadataExt::gid)
        } else {
            Some(
                lookup_id("/etc/group", &group, 2)
                    .ok_or_else(|| call(format!("group: unknown group {group}")))?,
            )
        };
        std::os::unix::fs::fchown(&file, uid, gid)
            .map_err(|e| call(go_path_error("chown", &shown, &e)))?;
    }
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| call(go_path_error("chmod", &shown, &e)))?;
    Ok(Value::str(""))
}

/// Go's `os/user` without cgo: the name's entry in `/etc/passwd` or `/etc/group` (id in
/// field `field`), else the string itself when it is a number.
fn lookup_id(db: &str, name: &str, field: usize) -> Option<u32> {
    let from_db = std::fs::read_to_string(db).ok().and_then(|text| {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.first() == Some(&name))
            .and_then(|f| f.get(field).and_then(|id| id.parse().ok()))
    });
    from_db.or_else(|| name.parse().ok())
}

/// Go's `*PathError` text: `op path: reason`.
fn go_path_error(op: &str, path: &str, e: &std::io::Error) -> String {
    go_io_error(op, path, e)
}
