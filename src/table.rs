//! Transition tables as data.
//!
//! Each machine keeps its whole transition table in one `const` array of
//! `(from, input, to)` edges, next to its module docs. The docs show the
//! same table for people; a unit test parses the docs and compares them
//! edge by edge with the array, so neither can change alone.
//!
//! A lookup that finds no edge means the input is not allowed in that
//! state. For inputs the caller chooses (`accept`, `send_close`, …) that is
//! a [`crate::LocalError::WrongState`]. For inputs a machine derives itself
//! from the peer's bytes or the clock, every state that can produce the
//! input has an edge for it; a missing one is a bug, caught by a debug
//! assertion, and release builds leave the state unchanged and report the
//! call as a wrong-state error rather than invent a target.

/// The state an input leads to from `from`, if the table has that edge.
///
/// A call on 32-bit targets: the search was inlined at each machine's
/// transitions (firmware .text 23,276 -> 23,136 B, .rodata +48); 64-bit
/// targets inline it as before.
#[cfg_attr(not(target_pointer_width = "64"), inline(never))]
pub(crate) fn next<S: Copy + PartialEq, I: Copy + PartialEq>(
    table: &[(S, I, S)],
    from: S,
    input: I,
) -> Option<S> {
    table
        .iter()
        .find(|(f, i, _)| *f == from && *i == input)
        .map(|&(_, _, to)| to)
}

/// Checks a module doc's `# Transition table` against the machine's array:
/// the same edges, each once. A doc row may list several source states
/// separated by commas.
#[cfg(test)]
pub(crate) fn assert_doc_matches<S: Copy + PartialEq + core::fmt::Debug, I: Copy + PartialEq>(
    source: &str,
    table: &[(S, I, S)],
    state_name: impl Fn(S) -> &'static str,
    input_doc: impl Fn(I) -> &'static str,
) {
    use std::string::{String, ToString};
    use std::vec::Vec;

    let mut documented: Vec<(String, String, String)> = Vec::new();
    let mut lines = source
        .lines()
        .skip_while(|l| !l.contains("# Transition table"))
        .skip(1)
        .skip_while(|l| !l.starts_with("//! |"));
    // The header row and the separator.
    lines.next();
    lines.next();
    for line in lines.take_while(|l| l.starts_with("//! |")) {
        let cells: Vec<&str> = line["//! ".len()..]
            .split('|')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        let [from, input, to] = cells[..] else {
            panic!("a table row needs three cells: {line}");
        };
        let unquote = |s: &str| s.trim().trim_matches('`').to_string();
        for from in from.split(',') {
            documented.push((unquote(from), input.to_string(), unquote(to)));
        }
    }
    let mut actual: Vec<(String, String, String)> = table
        .iter()
        .map(|&(f, i, t)| {
            (
                state_name(f).to_string(),
                input_doc(i).to_string(),
                state_name(t).to_string(),
            )
        })
        .collect();
    documented.sort();
    actual.sort();
    assert_eq!(documented, actual, "the doc table and the array differ");
    for (n, &(f, i, _)) in table.iter().enumerate() {
        let again = table[n + 1..].iter().any(|&(g, j, _)| g == f && j == i);
        assert!(!again, "two edges from {f:?} on one input");
    }
}
