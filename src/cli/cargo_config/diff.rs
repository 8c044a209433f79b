//! A small unified-style line diff of an edit, with secret values redacted
//! and control characters escaped.

use std::fmt::Write as _;

use super::super::redact_toml::{env_lines, redact_line};
use super::super::shown::shown;

/// Lines of context around each change in [`diff`].
pub(super) const CONTEXT: usize = 3;

/// A unified-style diff of `old` to `new` for the file `label` (empty when
/// they are equal). Values of `token` and `secret-key` keys and of the
/// `[env]` table are shown as `[redacted]`, and the user-info of URLs
/// (`http://user:pass@proxy`) as `***`, in changed and context lines alike
/// ([`redact_line`](super::redact_toml::redact_line)); control, bidi and zero-width characters escaped
/// ([`shown`]).
pub fn diff(label: &str, old: &str, new: &str, old_exists: bool) -> String {
    let a: Vec<&str> = old.split_inclusive('\n').collect();
    let b: Vec<&str> = new.split_inclusive('\n').collect();
    let (a_env, b_env) = (env_lines(&a), env_lines(&b));
    let ops = line_ops(&a, &b);
    let mut hunks: Vec<(usize, usize)> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        if matches!(op, Op::Same(..)) {
            continue;
        }
        let (start, end) = (i.saturating_sub(CONTEXT), (i + 1 + CONTEXT).min(ops.len()));
        match hunks.last_mut() {
            Some(last) if start <= last.1 => last.1 = end,
            _ => hunks.push((start, end)),
        }
    }
    if hunks.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    let from = if old_exists { label } else { "/dev/null" };
    let _ = writeln!(out, "--- {}\n+++ {}", shown(from), shown(label));
    for (start, end) in hunks {
        let before = &ops[..start];
        let hunk = &ops[start..end];
        let count = |ops: &[Op], old_side: bool| {
            ops.iter()
                .filter(|o| match o {
                    Op::Same(..) => true,
                    Op::Del(_) => old_side,
                    Op::Add(_) => !old_side,
                })
                .count()
        };
        let (old_before, new_before) = (count(before, true), count(before, false));
        let (old_len, new_len) = (count(hunk, true), count(hunk, false));
        let _ = writeln!(
            out,
            "@@ -{},{old_len} +{},{new_len} @@",
            old_before + usize::from(old_len > 0),
            new_before + usize::from(new_len > 0)
        );
        for op in hunk {
            let (mark, line, in_env) = match *op {
                Op::Same(i) => (' ', a[i], a_env[i]),
                Op::Del(i) => ('-', a[i], a_env[i]),
                Op::Add(j) => ('+', b[j], b_env[j]),
            };
            let text = line.strip_suffix('\n').unwrap_or(line);
            let text = text.strip_suffix('\r').unwrap_or(text);
            let _ = writeln!(out, "{mark}{}", shown(&redact_line(text, in_env)));
            if !line.ends_with('\n') {
                out.push_str("\\ No newline at end of file\n");
            }
        }
    }
    out
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Op {
    Same(usize),
    Del(usize),
    Add(usize),
}

/// The edit script from `a` to `b`: common ends first, then a longest
/// common subsequence of the rest (small: an edit touches a few lines).
pub(super) fn line_ops(a: &[&str], b: &[&str]) -> Vec<Op> {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (ma, mb) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let mut ops: Vec<Op> = (0..prefix).map(Op::Same).collect();
    if ma.len().saturating_mul(mb.len()) > 4_000_000 {
        // Too large to align: everything in between replaced.
        ops.extend((0..ma.len()).map(|i| Op::Del(prefix + i)));
        ops.extend((0..mb.len()).map(|j| Op::Add(prefix + j)));
    } else {
        // lcs[i][j]: the longest common subsequence of ma[i..] and mb[j..].
        let width = mb.len() + 1;
        let mut lcs = vec![0u32; (ma.len() + 1) * width];
        for i in (0..ma.len()).rev() {
            for j in (0..mb.len()).rev() {
                lcs[i * width + j] = if ma[i] == mb[j] {
                    lcs[(i + 1) * width + j + 1] + 1
                } else {
                    lcs[(i + 1) * width + j].max(lcs[i * width + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < ma.len() || j < mb.len() {
            if i < ma.len() && j < mb.len() && ma[i] == mb[j] {
                ops.push(Op::Same(prefix + i));
                i += 1;
                j += 1;
            } else if i < ma.len()
                && (j == mb.len() || lcs[(i + 1) * width + j] >= lcs[i * width + j + 1])
            {
                ops.push(Op::Del(prefix + i));
                i += 1;
            } else {
                ops.push(Op::Add(prefix + j));
                j += 1;
            }
        }
    }
    let sa = a.len() - suffix;
    ops.extend((0..suffix).map(|k| Op::Same(sa + k)));
    ops
}
