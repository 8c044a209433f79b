//! Runs the steps of a composite GitHub Action (action.yml) the way the
//! runner does: each step's `run` script in bash, with its `env` (the
//! `${{ … }}` expressions it uses evaluated), `GITHUB_ACTION_PATH`, and the
//! `GITHUB_PATH` / `GITHUB_OUTPUT` files read back between steps.
//!
//! action.yml is read by a small reader of the YAML it is written in (block
//! mappings, a `steps` list, `|` and `>-` block scalars, plain and quoted
//! scalars), not a YAML library: it fails loudly on anything else, so a
//! change to the file's shape shows up here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::process::Output;

/// One step of the action.
#[derive(Debug, Default)]
pub struct Step {
    /// `name`.
    pub name: String,
    /// `id`, if any.
    pub id: Option<String>,
    /// `shell`.
    pub shell: String,
    /// `env`, unevaluated.
    pub env: Vec<(String, String)>,
    /// `run`.
    pub run: String,
}

/// What action.yml declares.
#[derive(Debug, Default)]
pub struct Action {
    /// `runs.using`.
    pub using: String,
    /// Each input's default.
    pub inputs: BTreeMap<String, String>,
    /// `runs.steps`.
    pub steps: Vec<Step>,
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// A plain, single- or double-quoted scalar (no escapes used in our file).
fn scalar(text: &str) -> String {
    let t = text.trim();
    for q in ['"', '\''] {
        if t.len() >= 2 && t.starts_with(q) && t.ends_with(q) {
            return t[1..t.len() - 1].to_owned();
        }
    }
    assert!(
        !t.starts_with(['"', '\'', '[', '{', '&', '*', '!']),
        "action.yml: a scalar this reader does not know: {t}"
    );
    t.to_owned()
}

/// Splits `key: value` (value may be empty).
fn key_value(line: &str) -> (String, String) {
    let t = line.trim();
    let (k, v) = t
        .split_once(':')
        .unwrap_or_else(|| panic!("action.yml: not `key: value`: {t}"));
    (k.trim().to_owned(), v.trim().to_owned())
}

/// The lines of a block scalar that starts after `lines[at]` (more indented
/// than `key_indent`), with their common indent removed; and where it ends.
fn block(lines: &[&str], at: usize, key_indent: usize) -> (String, usize) {
    let mut end = at + 1;
    while end < lines.len() && (lines[end].trim().is_empty() || indent(lines[end]) > key_indent) {
        end += 1;
    }
    let body = &lines[at + 1..end];
    let strip = body
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| indent(l))
        .min()
        .unwrap_or(0);
    let text = body
        .iter()
        .map(|l| l.get(strip..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    (text, end)
}

/// Reads action.yml.
pub fn read(path: &Path) -> Action {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    let mut action = Action::default();
    let mut i = 0;
    let mut section = String::new();
    while i < lines.len() {
        let line = lines[i];
        if line.trim().is_empty() {
            i += 1;
            continue;
        }
        let ind = indent(line);
        if ind == 0 {
            section = key_value(line).0;
            i += 1;
            continue;
        }
        match (section.as_str(), ind) {
            ("inputs", 2) => {
                let name = key_value(line).0;
                action.inputs.insert(name.clone(), String::new());
                i += 1;
                while i < lines.len() && (lines[i].trim().is_empty() || indent(lines[i]) > 2) {
                    if lines[i].trim().is_empty() {
                        i += 1;
                        continue;
                    }
                    let (k, v) = key_value(lines[i]);
                    if k == "default" {
                        action.inputs.insert(name.clone(), scalar(&v));
                    }
                    if v == "|" || v == ">-" || v == ">" {
                        i = block(&lines, i, indent(lines[i])).1;
                    } else {
                        i += 1;
                    }
                }
            }
            ("runs", 2) => {
                let (k, v) = key_value(line);
                match k.as_str() {
                    "using" => {
                        action.using = scalar(&v);
                        i += 1;
                    }
                    "steps" => {
                        i += 1;
                        while i < lines.len()
                            && (lines[i].trim().is_empty() || indent(lines[i]) > 2)
                        {
                            let (step, next) = read_step(&lines, i);
                            action.steps.push(step);
                            i = next;
                        }
                    }
                    other => panic!("action.yml: runs.{other} is not read here"),
                }
            }
            _ => i += 1,
        }
    }
    action
}

/// One `- name: …` item of `steps`, starting at `lines[at]`.
fn read_step(lines: &[&str], at: usize) -> (Step, usize) {
    let first = lines[at];
    let dash = indent(first);
    assert!(
        first.trim_start().starts_with("- "),
        "action.yml: a step starts with `- `: {first}"
    );
    let keys = dash + 2;
    let mut step = Step::default();
    let mut i = at;
    let mut first_line = true;
    while i < lines.len() {
        let line = lines[i];
        if line.trim().is_empty() {
            i += 1;
            continue;
        }
        let content = if first_line {
            first_line = false;
            format!("{}{}", " ".repeat(keys), &line[dash + 2..])
        } else {
            if indent(line) < keys {
                break;
            }
            line.to_owned()
        };
        assert_eq!(
            indent(&content),
            keys,
            "action.yml: unexpected indent: {line}"
        );
        let (k, v) = key_value(&content);
        match k.as_str() {
            "name" => step.name = scalar(&v),
            "id" => step.id = Some(scalar(&v)),
            "shell" => step.shell = scalar(&v),
            "run" => {
                assert_eq!(v, "|", "action.yml: `run` is a `|` block");
                let (text, end) = block(lines, i, keys);
                step.run = text;
                i = end;
                continue;
            }
            "env" => {
                i += 1;
                while i < lines.len() && indent(lines[i]) > keys {
                    let (ek, ev) = key_value(lines[i]);
                    step.env.push((ek, scalar(&ev)));
                    i += 1;
                }
                continue;
            }
            other => panic!("action.yml: the step key `{other}` is not read here"),
        }
        i += 1;
    }
    (step, i)
}

/// A run of the action's steps, as the runner would do them.
pub struct Runner {
    /// `${{ inputs.* }}`: the defaults, then what the test sets.
    pub inputs: BTreeMap<String, String>,
    /// `${{ runner.temp }}`.
    pub temp: PathBuf,
    /// The environment every step starts from.
    pub env: Vec<(String, String)>,
    /// `${{ steps.ID.outputs.NAME }}`, as the steps write them.
    pub outputs: BTreeMap<String, String>,
    /// The lines steps appended to `GITHUB_PATH`.
    pub path: Vec<String>,
    /// Secrets for the leak rule on every step's output.
    pub secrets: Vec<String>,
}

impl Runner {
    /// `${{ … }}` in `text`, evaluated.
    fn eval(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find("}}")
                .unwrap_or_else(|| panic!("action.yml: unclosed expression in {text}"))
                + start;
            let expr = rest[start + 3..end].trim();
            let value = if let Some(name) = expr.strip_prefix("inputs.") {
                self.inputs
                    .get(name)
                    .unwrap_or_else(|| panic!("action.yml uses the undeclared input {name}"))
                    .clone()
            } else if expr == "runner.temp" {
                self.temp.display().to_string()
            } else if let Some(output) = expr.strip_prefix("steps.") {
                self.outputs.get(output).cloned().unwrap_or_default()
            } else {
                panic!("action.yml: the expression `{expr}` is not evaluated here")
            };
            out.push_str(&value);
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    /// Runs `step` (bash, within 120 s) with `GITHUB_ACTION_PATH` the
    /// repository, and reads back what it wrote to `GITHUB_PATH` and
    /// `GITHUB_OUTPUT`.
    pub fn run(&mut self, step: &Step, action_path: &Path) -> Output {
        assert_eq!(
            step.shell, "bash",
            "step {:?}: a composite step names its shell",
            step.name
        );
        let files = tempfile::tempdir_in(&self.temp).unwrap();
        let github_path = files.path().join("path");
        let github_output = files.path().join("output");
        std::fs::write(&github_path, "").unwrap();
        std::fs::write(&github_output, "").unwrap();
        let mut cmd = Command::new("bash");
        cmd.args([
            "--noprofile",
            "--norc",
            "-e",
            "-o",
            "pipefail",
            "-c",
            &step.run,
        ])
        .current_dir(&self.temp)
        .env_clear()
        .envs(self.env.iter().map(|(k, v)| (k, v)))
        .env("GITHUB_ACTION_PATH", action_path)
        .env("GITHUB_PATH", &github_path)
        .env("GITHUB_OUTPUT", &github_output)
        .env("RUNNER_TEMP", &self.temp);
        for (k, v) in &step.env {
            cmd.env(k, self.eval(v));
        }
        let out = super::release::run(cmd, 120, &self.secrets);
        for line in std::fs::read_to_string(&github_path).unwrap().lines() {
            self.path.push(line.to_owned());
        }
        if let Some(id) = &step.id {
            for line in std::fs::read_to_string(&github_output).unwrap().lines() {
                let (k, v) = line
                    .split_once('=')
                    .unwrap_or_else(|| panic!("a GITHUB_OUTPUT line is not NAME=VALUE: {line}"));
                self.outputs
                    .insert(format!("{id}.outputs.{k}"), v.to_owned());
            }
        }
        out
    }
}
