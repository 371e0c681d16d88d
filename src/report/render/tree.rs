//! The survivors' spawn chains drawn as one tree.

use std::fmt::{self, Formatter};
use std::panic::Location;

use super::MAX_TREE_DEPTH;
use crate::report::LeakedTask;
use crate::report::color::Palette;
use crate::util::escape::Term;

/// One spawn site in the tree, with the entries that end there.
struct Node {
    site: &'static Location<'static>,
    entries: Vec<(usize, usize)>,
    children: Vec<Node>,
}

/// Draws the survivors' spawn chains as one tree, when some of them share
/// ancestors: who spawned whom is then easier to see than in the chains.
pub(super) fn tree(f: &mut Formatter<'_>, p: Palette, groups: &[Vec<&LeakedTask>]) -> fmt::Result {
    let mut roots: Vec<Node> = Vec::new();
    for (i, group) in groups.iter().enumerate() {
        let mut path = group[0].chain_key();
        path.reverse(); // root first
        let mut level = &mut roots;
        for (depth, site) in path.iter().enumerate() {
            let at = match level.iter().position(|n| n.site == *site) {
                Some(at) => at,
                None => {
                    level.push(Node {
                        site,
                        entries: Vec::new(),
                        children: Vec::new(),
                    });
                    level.len() - 1
                }
            };
            if depth == path.len() - 1 {
                level[at].entries.push((i + 1, group.len()));
            }
            level = &mut level[at].children;
        }
    }
    if groups.len() < 2 || roots.iter().all(|r| r.children.is_empty()) {
        return Ok(());
    }
    let depth = groups
        .iter()
        .map(|g| g[0].chain_key().len())
        .max()
        .unwrap_or(0);
    if depth > MAX_TREE_DEPTH {
        writeln!(f)?;
        writeln!(
            f,
            "  {} not drawn: {depth} spawns deep (more than {MAX_TREE_DEPTH}); the chains above \
             show who spawned whom",
            p.strong("spawn tree:")
        )?;
        return Ok(());
    }
    writeln!(f)?;
    writeln!(f, "  {}", p.strong("spawn tree:"))?;
    for root in &roots {
        node(f, p, root, "    ", "    ")?;
    }
    Ok(())
}

fn node(f: &mut Formatter<'_>, p: Palette, n: &Node, head: &str, rest: &str) -> fmt::Result {
    write!(f, "{head}{}", Term(n.site))?;
    for (entry, count) in &n.entries {
        let what = if *count == 1 {
            format!("[{entry}]")
        } else {
            format!("[{entry}] {count} tasks")
        };
        write!(f, "  {}", p.strong(what))?;
    }
    if n.entries.is_empty() {
        write!(f, "  {}", p.dim("(not leaked)"))?;
    }
    writeln!(f)?;
    for (i, child) in n.children.iter().enumerate() {
        let last = i + 1 == n.children.len();
        let (h, r) = if last {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        node(f, p, child, &format!("{rest}{h}"), &format!("{rest}{r}"))?;
    }
    Ok(())
}
