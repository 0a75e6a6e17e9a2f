//! One runner pass: execute the templates whose data changed (or whose quiescence elapsed),
//! start views for newly used dependencies, write the complete ones, then run the commands of
//! the files that actually changed — after all writes, in template order, identical commands
//! once. A pass is a unit of work: it is never cancelled half-way.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Instant;

use crate::config::{self, Wait};
use crate::dependency::Dependency;
use crate::engine::{CompiledTemplate, Syntax};
use crate::funcs::FuncOptions;
use crate::render::{self, RenderInput};
use gotemplate::{Options, Value};

use super::RunError;

/// Quiescence timer of one template.
#[derive(Clone, Copy, Debug)]
pub struct Quiet {
    /// When the template renders if nothing else changes.
    pub fire_at: Instant,
    /// Latest render time (first change + max).
    pub deadline: Instant,
}

/// A template and its runtime state.
pub struct Tmpl {
    /// Its configuration.
    pub cfg: config::Template,
    compiled: CompiledTemplate,
    /// Dependencies of its last execution.
    pub used: HashSet<Dependency>,
    /// Some dependency changed since the last execution.
    pub dirty: bool,
    /// It has been complete (and written or found identical) at least once.
    pub rendered: bool,
    /// Armed quiescence timer.
    pub quiet: Option<Quiet>,
    /// Upstream's template ID: hex SHA-256 of source, contents and destination
    /// (NUL-separated); names the template's de-duplication key.
    pub id: String,
    last_output: Option<String>,
}

impl Tmpl {
    /// Reads (if needed) and compiles a template.
    pub fn load(cfg: &config::Template) -> Result<Tmpl, RunError> {
        let name = cfg.display_source();
        let (text, syntax) = match (&cfg.contents, &cfg.source) {
            (Some(c), _) => (c.clone(), Syntax::Go),
            (None, Some(p)) => (
                std::fs::read_to_string(p).map_err(|e| RunError::Template {
                    name: name.clone(),
                    message: e.to_string(),
                })?,
                Syntax::for_path(&p.to_string_lossy()),
            ),
            (None, None) => (String::new(), Syntax::Go),
        };
        let mut options = Options::default();
        if let Some(l) = &cfg.left_delimiter {
            options.left_delim = l.clone();
        }
        if let Some(r) = &cfg.right_delimiter {
            options.right_delim = r.clone();
        }
        options.error_on_missing_key = cfg.error_on_missing_key;
        let funcs = FuncOptions {
            env: Vec::new(),
            denylist: cfg.function_denylist.clone(),
            sandbox_path: cfg.sandbox_path.clone(),
        };
        let compiled =
            CompiledTemplate::compile(&name, &text, syntax, &options, funcs).map_err(|e| {
                RunError::Template {
                    name,
                    message: e.to_string(),
                }
            })?;
        let id = crate::dedup::template_id(
            &cfg.source
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            &text,
            &cfg.destination.display().to_string(),
        );
        Ok(Tmpl {
            id,
            cfg: cfg.clone(),
            compiled,
            used: HashSet::new(),
            dirty: true,
            rendered: false,
            quiet: None,
            last_output: None,
        })
    }
}

/// What a pass needs from the runner besides the templates.
pub struct PassContext<'a> {
    /// Latest data.
    pub store: &'a HashMap<Dependency, Value>,
    /// Global quiescence.
    pub wait: Option<Wait>,
    /// `-once`: no quiescence.
    pub once: bool,
    /// `-dry`.
    pub dry: bool,
}

/// The result of a pass.
#[derive(Default)]
pub struct PassResult {
    /// Indices of templates whose destination changed.
    pub changed: Vec<usize>,
    /// Some template's set of used dependencies changed.
    pub deps_changed: bool,
    /// Indices of templates executed with all their data this pass (what a
    /// de-duplication leader stores).
    pub complete: Vec<usize>,
}

/// Executes and writes every dirty or due template.
pub fn run(templates: &mut [Tmpl], cx: &PassContext<'_>) -> Result<PassResult, RunError> {
    let now = Instant::now();
    let mut result = PassResult::default();
    for (i, t) in templates.iter_mut().enumerate() {
        let due = t.quiet.is_some_and(|q| q.fire_at <= now);
        if !t.dirty && !due {
            continue;
        }
        t.dirty = false;
        let name = t.cfg.display_source();
        crate::trace!(
            "(runner) checking template \"{name}\" => \"{}\"",
            t.cfg.destination.display()
        );
        let exec = match t.compiled.execute(cx.store) {
            Ok(exec) => exec,
            Err(e) if t.cfg.error_fatal == Some(false) => {
                // upstream: logged, the template keeps watching what it used before and is
                // executed again when that changes
                crate::error!("(runner) {name}: {e}");
                continue;
            }
            Err(e) => {
                return Err(RunError::Template {
                    name: name.clone(),
                    message: e.to_string(),
                })
            }
        };
        let used: HashSet<Dependency> = exec.used.iter().cloned().collect();
        if used != t.used {
            t.used = used;
            result.deps_changed = true;
        }
        if !exec.complete() {
            for m in &exec.missing {
                crate::debug!("(runner) missing dependency: {m}");
            }
            t.quiet = None;
            continue;
        }
        result.complete.push(i);
        if t.last_output.as_deref() == Some(exec.output.as_str()) && t.quiet.is_none() {
            continue;
        }
        let wait = t.cfg.wait.or(cx.wait);
        if let (Some(w), false, true, false) = (wait, cx.once, t.rendered, due) {
            t.quiet = Some(match t.quiet {
                None => Quiet {
                    fire_at: now + w.min,
                    deadline: now + w.max,
                },
                Some(q) => Quiet {
                    fire_at: (now + w.min).min(q.deadline),
                    deadline: q.deadline,
                },
            });
            continue;
        }
        t.quiet = None;
        let did = match render::render(&RenderInput {
            path: &t.cfg.destination,
            contents: exec.output.as_bytes(),
            perms: t.cfg.perms,
            backup: t.cfg.backup,
            create_dest_dirs: t.cfg.create_dest_dirs,
            dry: cx.dry,
        }) {
            Ok(did) => did,
            Err(e) if t.cfg.error_fatal == Some(false) => {
                crate::error!(
                    "(runner) error rendering: \"{name}\" => \"{}\": {e}",
                    t.cfg.destination.display()
                );
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        t.rendered = true;
        t.last_output = Some(exec.output);
        if did {
            crate::info!(
                "(runner) rendered \"{name}\" => \"{}\"",
                t.cfg.destination.display()
            );
            result.changed.push(i);
        } else {
            crate::debug!("(runner) \"{}\" is unchanged", t.cfg.destination.display());
        }
    }
    Ok(result)
}

/// Runs the commands of changed templates: in order, identical commands once.
pub async fn commands(
    templates: &[Tmpl],
    changed: &[usize],
    env: &[(String, String)],
) -> Result<(), RunError> {
    let mut seen: HashSet<&[String]> = HashSet::new();
    for &i in changed {
        let t = &templates[i];
        if t.cfg.command.is_empty() || !seen.insert(&t.cfg.command) {
            continue;
        }
        let list = serde_json::to_string(&t.cfg.command).unwrap_or_default();
        crate::info!(
            "(runner) executing command {list:?} from \"{}\" => \"{}\"",
            t.cfg.display_source(),
            t.cfg.destination.display()
        );
        crate::command::run(&t.cfg.command, t.cfg.command_timeout, &t.cfg.env, env)
            .await
            .map_err(|e| RunError::Command {
                source_name: t.cfg.display_source(),
                destination: display(&t.cfg.destination),
                error: e,
            })?;
    }
    Ok(())
}

fn display(p: &Path) -> String {
    p.display().to_string()
}
