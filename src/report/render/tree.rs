//! The survivors' spawn chains drawn as one tree.

use std::collections::HashMap;
use std::fmt::{self, Formatter};
use std::panic::Location;

use super::MAX_TREE_DEPTH;
use crate::report::LeakedTask;
use crate::report::color::Palette;

/// One spawn site in the tree, with the entries that end there.
struct Node {
    site: &'static Location<'static>,
    entries: Vec<(usize, usize)>,
    /// Indexes into the tree's nodes.
    children: Vec<usize>,
}

/// Draws the survivors' spawn chains as one tree, when some of them share
/// ancestors: who spawned whom is then easier to see than in the chains.
pub(super) fn tree(f: &mut Formatter<'_>, p: Palette, groups: &[Vec<&LeakedTask>]) -> fmt::Result {
    // Every node once, found by (parent, site): linear in the groups'
    // chains, however many siblings there are.
    let mut nodes: Vec<Node> = Vec::new();
    let mut roots: Vec<usize> = Vec::new();
    let mut index: HashMap<(Option<usize>, &'static Location<'static>), usize> = HashMap::new();
    for (i, group) in groups.iter().enumerate() {
        let mut path = group[0].chain_key();
        path.reverse(); // root first
        let mut parent = None;
        for (depth, site) in path.iter().enumerate() {
            let at = *index.entry((parent, site)).or_insert_with(|| {
                nodes.push(Node {
                    site,
                    entries: Vec::new(),
                    children: Vec::new(),
                });
                let at = nodes.len() - 1;
                match parent {
                    Some(p) => nodes[p].children.push(at),
                    None => roots.push(at),
                }
                at
            });
            if depth == path.len() - 1 {
                nodes[at].entries.push((i + 1, group.len()));
            }
            parent = Some(at);
        }
    }
    if groups.len() < 2 || roots.iter().all(|&r| nodes[r].children.is_empty()) {
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
    for &root in &roots {
        node(f, p, &nodes, root, "    ", "    ")?;
    }
    Ok(())
}

fn node(
    f: &mut Formatter<'_>,
    p: Palette,
    nodes: &[Node],
    at: usize,
    head: &str,
    rest: &str,
) -> fmt::Result {
    let n = &nodes[at];
    write!(f, "{head}{}", super::site(n.site))?;
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
    for (i, &child) in n.children.iter().enumerate() {
        let last = i + 1 == n.children.len();
        let (h, r) = if last {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        node(
            f,
            p,
            nodes,
            child,
            &format!("{rest}{h}"),
            &format!("{rest}{r}"),
        )?;
    }
    Ok(())
}
