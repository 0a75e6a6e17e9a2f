//! The two table layouts Consul's CLI prints: ryanuber/columnize (cells split on `|`, columns
//! padded to the widest cell, joined by two spaces, last cell unpadded, no trailing newline)
//! and Go's `text/tabwriter` (cells ended by `\t`, padded per column block to width +
//! padding). Pure functions; the commands add the final newline when printing.

/// `columnize.SimpleFormat`: each line's cells are split on `|` and trimmed.
pub fn columnize(lines: &[String]) -> String {
    columnize_with(lines, '|')
}

/// [`columnize`] with another cell delimiter (`members` uses `\x1f`).
pub fn columnize_with(lines: &[String], delim: char) -> String {
    let rows: Vec<Vec<&str>> = lines
        .iter()
        .map(|l| l.split(delim).map(str::trim).collect())
        .collect();
    let mut widths: Vec<usize> = Vec::new();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            let w = cell.chars().count();
            if i >= widths.len() {
                widths.push(w);
            } else if w > widths[i] {
                widths[i] = w;
            }
        }
    }
    let mut out = String::new();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                out.push_str(cell);
            } else {
                out.push_str(cell);
                out.push_str(&" ".repeat(widths[i] - cell.chars().count()));
                out.push_str("  ");
            }
        }
        out.push('\n');
    }
    out.pop();
    out
}

/// Go `text/tabwriter` with flags 0 and a space pad character: `text` holds lines whose
/// cells end in `\t`; the text after a line's last tab is not part of any column.
pub fn tabwrite(text: &str, minwidth: usize, padding: usize) -> String {
    let lines: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
    // widths[line][col] for every tab-terminated cell.
    let mut widths: Vec<Vec<usize>> = lines
        .iter()
        .map(|c| vec![0; c.len().saturating_sub(1)])
        .collect();
    let max_cols = lines
        .iter()
        .map(|c| c.len().saturating_sub(1))
        .max()
        .unwrap_or(0);
    for col in 0..max_cols {
        let mut start = 0;
        while start < lines.len() {
            if lines[start].len() <= col + 1 {
                start += 1;
                continue;
            }
            let mut end = start;
            while end < lines.len() && lines[end].len() > col + 1 {
                end += 1;
            }
            let w = (start..end)
                .map(|l| lines[l][col].chars().count() + padding)
                .fold(minwidth, usize::max);
            for row in widths.iter_mut().take(end).skip(start) {
                row[col] = w;
            }
            start = end;
        }
    }
    let mut out = String::new();
    for (l, cells) in lines.iter().enumerate() {
        for (c, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if c + 1 < cells.len() {
                out.push_str(&" ".repeat(widths[l][c].saturating_sub(cell.chars().count())));
            }
        }
        if l + 1 < lines.len() {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columnize_pads_all_but_last() {
        let lines = vec![
            "Node|Address|Status".to_string(),
            "consul-server01|192.168.111.40:8301|alive".to_string(),
            "a|b|c".to_string(),
        ];
        assert_eq!(
            columnize(&lines),
            "Node             Address              Status\n\
             consul-server01  192.168.111.40:8301  alive\n\
             a                b                    c"
        );
    }

    #[test]
    fn columnize_short_rows_and_empty_cells() {
        let lines = vec!["a|bb|c".to_string(), "aaa|".to_string()];
        assert_eq!(columnize(&lines), "a    bb  c\naaa  ");
    }

    #[test]
    fn tabwriter_blocks() {
        let text = "CreateIndex\t336\nFlags\t0\nSession\t-\n\nKey\tx\n";
        assert_eq!(
            tabwrite(text, 0, 6),
            "CreateIndex      336\nFlags            0\nSession          -\n\nKey      x\n"
        );
    }
}
