//! Safe rendering of highlighted text.

use maud::{Markup, PreEscaped};

fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// Renders `text`, in which the search engine wrapped matches in `pre_tag` … `post_tag`:
/// everything is HTML-escaped and only the tag pairs become `<mark>` elements. A `pre_tag`
/// without its `post_tag` is kept as (escaped) text.
///
/// ```
/// use backlot::plugins::search::react::highlight;
///
/// let html = highlight("a <script>alert(1)</script> <em>b</em>", "<em>", "</em>").into_string();
/// assert_eq!(html, "a &lt;script&gt;alert(1)&lt;/script&gt; <mark>b</mark>");
/// ```
pub fn highlight(text: &str, pre_tag: &str, post_tag: &str) -> Markup {
    let mut out = String::with_capacity(text.len() + 16);
    if pre_tag.is_empty() || post_tag.is_empty() {
        escape(text, &mut out);
        return PreEscaped(out);
    }
    let mut rest = text;
    while let Some(start) = rest.find(pre_tag) {
        let after = &rest[start + pre_tag.len()..];
        let Some(end) = after.find(post_tag) else {
            break;
        };
        escape(&rest[..start], &mut out);
        out.push_str("<mark>");
        escape(&after[..end], &mut out);
        out.push_str("</mark>");
        rest = &after[end + post_tag.len()..];
    }
    escape(rest, &mut out);
    PreEscaped(out)
}

#[cfg(test)]
mod tests {
    use super::highlight;

    #[test]
    fn escapes_everything_but_the_tags() {
        let html = highlight(
            "<<hl>>x<</hl>> & \"<img src=x onerror=alert(1)>\" <<hl>><b>y</b><</hl>>",
            "<<hl>>",
            "<</hl>>",
        )
        .into_string();
        assert_eq!(
            html,
            "<mark>x</mark> &amp; &quot;&lt;img src=x onerror=alert(1)&gt;&quot; <mark>&lt;b&gt;y&lt;/b&gt;</mark>"
        );
    }

    #[test]
    fn unmatched_pre_tag_stays_text() {
        assert_eq!(highlight("a [[ b", "[[", "]]").into_string(), "a [[ b");
        assert_eq!(
            highlight("[[a]] [[b", "[[", "]]").into_string(),
            "<mark>a</mark> [[b"
        );
    }

    #[test]
    fn empty_tags_only_escape() {
        assert_eq!(highlight("<x>", "", "").into_string(), "&lt;x&gt;");
    }
}
