//! The one table printer of the workspace's command-line tools: aligned columns for a
//! person at a terminal (`siem`'s reports), Markdown for documents
//! (`docs/configuration.md`, and `cargo xtask bench`'s tables for BENCHMARKS.md).
//!
//! siem-cli and xtask both include this file as a module (xtask through `#[path]`): no
//! library has to depend on a binary for two functions, and neither tool keeps a copy.

/// Columns aligned with spaces, a header line first; a cell is never cut (the last column
/// is not padded, so a long last cell does not widen the others).
pub fn aligned(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        for (i, (cell, w)) in cells.zip(&widths).enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            out.push_str(cell);
            if i + 1 < widths.len() {
                out.push_str(&" ".repeat(w.saturating_sub(cell.chars().count())));
            }
        }
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// A Markdown (GitHub) table; `|` inside a cell is escaped.
pub fn markdown(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!(
        "| {} |\n|{}\n",
        headers.join(" | "),
        " --- |".repeat(headers.len())
    );
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| c.replace('|', "\\|")).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_pads_every_column_but_the_last() {
        let rows = vec![
            vec!["a".to_owned(), "long cell".to_owned(), "x".to_owned()],
            vec![
                "bbb".to_owned(),
                "c".to_owned(),
                "the whole last cell".to_owned(),
            ],
        ];
        assert_eq!(
            aligned(&["h1", "h2", "h3"], &rows),
            "h1   h2         h3\na    long cell  x\nbbb  c          the whole last cell\n"
        );
    }

    #[test]
    fn markdown_escapes_pipes() {
        let rows = vec![vec!["a|b".to_owned(), "c".to_owned()]];
        assert_eq!(
            markdown(&["x", "y"], &rows),
            "| x | y |\n| --- | --- |\n| a\\|b | c |\n"
        );
    }
}
