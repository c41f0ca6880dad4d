//! The crate's modules depend on each other without a cycle, and the leaf modules depend on none.
//!
//! Reads `src/*.rs` and `src/*/*.rs` and takes an edge `a -> b` for every `crate::b` path in
//! module `a` (`use crate::b::X`, `crate::b::f()`, `use crate::{b::X, ..}`), and for `super::`
//! in a submodule (`a::c -> a`). Comments are skipped: a doc link is not a dependency.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// Module name -> source text, for every module file of the crate but `lib.rs`.
fn modules() -> BTreeMap<String, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            for sub in std::fs::read_dir(&path).unwrap() {
                let sub = sub.unwrap().path();
                if sub.extension().is_some_and(|e| e == "rs") {
                    let name = sub.file_stem().unwrap().to_string_lossy();
                    out.insert(format!("{stem}::{name}"), std::fs::read_to_string(&sub).unwrap());
                }
            }
        } else if path.extension().is_some_and(|e| e == "rs") && stem != "lib" {
            out.insert(stem, std::fs::read_to_string(&path).unwrap());
        }
    }
    out
}

/// The code of a line, without its `//` comment.
fn code(line: &str) -> &str {
    line.find("//").map_or(line, |i| &line[..i])
}

fn ident_at(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The modules `source` (module `name`) names through `crate::` or `super::`.
fn edges(name: &str, source: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let mut to = BTreeSet::new();
    // The module a path starting at `rest` (after `crate::`) names: the longest known prefix.
    let target = |rest: &str| -> Option<String> {
        let first = ident_at(rest);
        let after = &rest[first.len()..];
        if let Some(second) = after.strip_prefix("::").map(ident_at) {
            let nested = format!("{first}::{second}");
            if known.contains(&nested) {
                return Some(nested);
            }
        }
        known.contains(first).then(|| first.to_string())
    };
    for line in source.lines().map(code) {
        for (i, _) in line.match_indices("crate::") {
            let rest = &line[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                to.extend(group.split(',').filter_map(|item| target(item.trim())));
            } else {
                to.extend(target(rest));
            }
        }
        if let Some((parent, _)) = name.split_once("::") {
            if line.contains("super::") {
                to.insert(parent.to_string());
            }
        }
    }
    to.remove(name);
    to
}

fn graph() -> Graph {
    let modules = modules();
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    modules
        .iter()
        .map(|(name, source)| (name.clone(), edges(name, source, &known)))
        .collect()
}

/// A cycle of `graph`, as the path that closes it, if there is one.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(node: &str, graph: &Graph, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_imports_itself_through_others() {
    let graph = graph();
    for (from, to) in &graph {
        println!("{from} -> {}", to.iter().cloned().collect::<Vec<_>>().join(", "));
    }
    assert_eq!(find_cycle(&graph), None);
}

#[test]
fn leaf_modules_import_nothing_of_the_crate() {
    let graph = graph();
    for leaf in ["units", "counters", "state", "callers", "isolation", "backoff"] {
        assert_eq!(
            graph.get(leaf).map(BTreeSet::len),
            Some(0),
            "{leaf}: {:?}",
            graph.get(leaf)
        );
    }
}

#[test]
fn the_decision_function_needs_only_the_state_word_and_time_units() {
    let graph = graph();
    let wanted: BTreeSet<String> = ["state", "units"].map(String::from).into();
    assert_eq!(graph.get("decide"), Some(&wanted));
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let mut graph = Graph::new();
    graph.insert("a".into(), ["b".into()].into());
    graph.insert("b".into(), ["c".into()].into());
    graph.insert("c".into(), ["a".into()].into());
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    graph.insert("c".into(), BTreeSet::new());
    assert_eq!(find_cycle(&graph), None);
}

#[test]
fn edges_come_from_crate_and_super_paths_not_comments() {
    let known: BTreeSet<String> = ["a", "b", "c", "d", "p", "p::q"].map(String::from).into();
    let source = "use crate::a::X;\n// use crate::b::Y;\nlet z = crate::c::f(); use crate::{d::W, p::q::V};\n";
    assert_eq!(
        edges("m", source, &known),
        ["a", "c", "d", "p::q"].map(String::from).into()
    );
    assert_eq!(edges("p::q", "use super::T;", &known), ["p"].map(String::from).into());
}
