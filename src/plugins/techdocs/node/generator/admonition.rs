//! Admonitions (`!!! note "Title"`, collapsible `???` / `???+`): cut out of the Markdown
//! before parsing and replaced by placeholders that the renderer fills in.

/// One admonition block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Admonition {
    /// The classes: the type first (`note`, `warning`, ...).
    pub(crate) classes: Vec<String>,
    /// The title: given, empty (no title bar), or `None` for the capitalized type.
    pub(crate) title: Option<String>,
    /// `None`: always open (`!!!`); `Some(open)`: collapsible (`???` / `???+`).
    pub(crate) collapsible: Option<bool>,
    /// The dedented Markdown body.
    pub(crate) body: String,
}

/// The placeholder for admonition `index`: an HTML comment, so it is a raw HTML block.
pub(crate) fn placeholder(index: usize) -> String {
    format!("<!--backlot-admonition-{index}-->")
}

fn parse_header(line: &str) -> Option<(Vec<String>, Option<String>, Option<bool>)> {
    let (collapsible, rest) = if let Some(r) = line.strip_prefix("!!!") {
        (None, r)
    } else if let Some(r) = line.strip_prefix("???+") {
        (Some(true), r)
    } else if let Some(r) = line.strip_prefix("???") {
        (Some(false), r)
    } else {
        return None;
    };
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let rest = rest.trim();
    let (head, title) = match rest.find('"') {
        Some(q) => {
            let t = rest[q + 1..].trim_end();
            let t = t.strip_suffix('"')?;
            (&rest[..q], Some(t.to_owned()))
        }
        None => (rest, None),
    };
    let classes: Vec<String> = head.split_whitespace().map(str::to_owned).collect();
    let valid = !classes.is_empty()
        && classes.iter().all(|c| {
            c.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        });
    valid.then_some((classes, title, collapsible))
}

fn indent_of(line: &str) -> usize {
    let mut width = 0;
    for c in line.chars() {
        match c {
            ' ' => width += 1,
            '\t' => width += 4 - width % 4,
            _ => break,
        }
    }
    width
}

/// Removes `width` columns of indentation.
fn dedent(line: &str, width: usize) -> &str {
    let mut col = 0;
    for (i, c) in line.char_indices() {
        if col >= width {
            return &line[i..];
        }
        match c {
            ' ' => col += 1,
            '\t' => col += 4 - col % 4,
            _ => return &line[i..],
        }
    }
    ""
}

/// Replaces admonition blocks (outside fenced code) by placeholders numbered from `first`.
pub(crate) fn extract(markdown: &str, first: usize) -> (String, Vec<Admonition>) {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut out = String::with_capacity(markdown.len());
    let mut found = Vec::new();
    let mut fence: Option<(char, usize)> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        if let Some((ch, len)) = fence {
            let run = trimmed.chars().take_while(|c| *c == ch).count();
            if run >= len && trimmed[run * ch.len_utf8()..].trim().is_empty() {
                fence = None;
            }
            out.push_str(line);
            out.push('\n');
            i += 1;
            continue;
        }
        if let Some(ch) = trimmed.chars().next().filter(|c| *c == '`' || *c == '~') {
            let run = trimmed.chars().take_while(|c| *c == ch).count();
            if run >= 3 {
                fence = Some((ch, run));
                out.push_str(line);
                out.push('\n');
                i += 1;
                continue;
            }
        }
        let indent = indent_of(line);
        if let Some((classes, title, collapsible)) = parse_header(trimmed) {
            let body_indent = indent + 4;
            let mut body = String::new();
            let mut j = i + 1;
            while j < lines.len() {
                let l = lines[j];
                if l.trim().is_empty() {
                    body.push('\n');
                } else if indent_of(l) >= body_indent {
                    body.push_str(dedent(l, body_indent));
                    body.push('\n');
                } else {
                    break;
                }
                j += 1;
            }
            let index = first + found.len();
            found.push(Admonition {
                classes,
                title,
                collapsible,
                body,
            });
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            out.push_str(&placeholder(index));
            out.push_str("\n\n");
            i = j;
            continue;
        }
        out.push_str(line);
        out.push('\n');
        i += 1;
    }
    (out, found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_cut_out_with_their_indented_body() {
        let md = "intro\n\n!!! warning \"Be careful\"\n    first\n\n    second\n\nafter\n";
        let (text, found) = extract(md, 0);
        assert!(text.contains("<!--backlot-admonition-0-->"));
        assert!(text.contains("after"));
        assert!(!text.contains("first"));
        assert_eq!(found[0].classes, vec!["warning"]);
        assert_eq!(found[0].title.as_deref(), Some("Be careful"));
        assert_eq!(found[0].body.trim(), "first\n\nsecond");
        assert_eq!(found[0].collapsible, None);
    }

    #[test]
    fn collapsible_and_fenced_code_are_respected() {
        let md = "???+ tip\n    open\n\n```\n!!! note\n    not an admonition\n```\n??? danger \"\"\n    shut\n";
        let (text, found) = extract(md, 3);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].collapsible, Some(true));
        assert_eq!(found[0].title, None);
        assert_eq!(found[1].collapsible, Some(false));
        assert_eq!(found[1].title.as_deref(), Some(""));
        assert!(text.contains("<!--backlot-admonition-3-->"));
        assert!(text.contains("<!--backlot-admonition-4-->"));
        assert!(text.contains("!!! note\n    not an admonition"));
    }

    #[test]
    fn headers_need_a_type() {
        assert!(parse_header("!!!").is_none());
        assert!(parse_header("!!!note").is_none());
        assert!(parse_header("!!! <script>").is_none());
    }
}
