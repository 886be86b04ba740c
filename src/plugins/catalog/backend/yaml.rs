//! Bounded YAML parsing: catalog files are split into documents that are parsed one by one,
//! each within a budget on its expanded size.
//!
//! serde_yaml expands aliases while it deserializes: a list anchored once and aliased
//! thousands of times turns a few kilobytes of text into gigabytes of values. Its own
//! repetition limit counts alias jumps, not the nodes they replay, so it does not stop a
//! quadratic expansion. Here every document is deserialized through a seed that charges each
//! node it builds (aliases included, as serde_yaml replays them) to a budget and fails as soon
//! as the budget is spent, so a bomb is refused after allocating about the budget, never more.
//!
//! A syntax error stops serde_yaml's document iterator, losing every later document. The text
//! is therefore split at document markers first (a `---` or `...` line at column 0, which YAML
//! forbids inside any scalar), and each part is parsed on its own, the way Backstage recovers
//! at the next `---`.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// The default of `catalog.yaml.maxExpandedSize`: 32 MiB.
pub(crate) const DEFAULT_MAX_EXPANDED_SIZE: u64 = 32 * 1024 * 1024;

/// What one node costs besides its text: about the size of a JSON value in memory.
const NODE_COST: u64 = 32;

/// One document of a YAML text, with the 1-based line and the byte offset it starts at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part<'a> {
    pub(crate) line: usize,
    pub(crate) offset: usize,
    pub(crate) text: &'a str,
}

/// Whether a line is a document marker (`---` or `...`, alone or followed by a space, a tab
/// or, for `---`, content such as `--- !tag` or `--- {a: 1}`).
fn marker(line: &str) -> Option<&'static str> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    for m in ["---", "..."] {
        if let Some(rest) = line.strip_prefix(m) {
            if rest.is_empty() || rest.starts_with([' ', '\t']) {
                return Some(m);
            }
        }
    }
    None
}

/// Splits YAML text into documents at column-0 `---` lines (the marker line starts the next
/// part, since it may carry content) and after `...` lines (which end a document). Parts that
/// hold no document are kept; parsing them yields nothing. Directives (`%YAML`) before a
/// `---` travel with the document they precede.
pub(crate) fn split_documents(text: &str) -> Vec<Part<'_>> {
    let mut parts = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1usize;
    // Where trailing directive lines of the current part begin, if any.
    let mut directives: Option<(usize, usize)> = None;
    let mut offset = 0usize;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let line_no = i + 1;
        let content = line.strip_suffix('\n').unwrap_or(line);
        match marker(content) {
            Some("---") => {
                let (cut, cut_line) = directives.unwrap_or((offset, line_no));
                if cut > start {
                    parts.push(Part {
                        line: start_line,
                        offset: start,
                        text: &text[start..cut],
                    });
                }
                start = cut;
                start_line = cut_line;
                directives = None;
            }
            Some(_) => {
                let end = offset + line.len();
                parts.push(Part {
                    line: start_line,
                    offset: start,
                    text: &text[start..end],
                });
                start = end;
                start_line = line_no + 1;
                directives = None;
            }
            None if content.starts_with('%') => {
                directives.get_or_insert((offset, line_no));
            }
            None if content.trim().is_empty() || content.trim_start().starts_with('#') => {}
            None => directives = None,
        }
        offset += line.len();
    }
    if start < text.len() {
        parts.push(Part {
            line: start_line,
            offset: start,
            text: &text[start..],
        });
    }
    parts
}

/// Parses the YAML documents of `text` as JSON values, each within `budget` (see
/// `catalog.yaml.maxExpandedSize`). Empty documents are skipped; a broken document is an
/// error naming its number and first line, and the documents after it are still read.
pub(crate) fn parse_documents(text: &str, budget: u64) -> Vec<Result<Value, String>> {
    number(vec![parse_parts(split_documents(text), budget, &|v| v)])
}

/// The cores this process may use, read once (the standard library reads cgroup files each
/// time it is asked).
pub(crate) fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Texts at least this long are parsed by [`parse_documents_parallel`] in groups of at least
/// this many bytes.
const PARALLEL_GROUP_BYTES: usize = 256 * 1024;

/// [`parse_documents`], each value then passed through `map`, for a text that may be large
/// (a location file of thousands of entities): its documents are parsed in contiguous groups,
/// one per core (the first on the calling thread, the others on blocking threads), and come
/// back in order, numbered as [`parse_documents`] numbers them. Every document is parsed
/// before any is returned either way, so parsing in groups holds no more than parsing in one
/// go; it only uses the cores a single parse leaves idle (during a first ingestion, the
/// database waits for each file).
pub(crate) async fn parse_documents_parallel<T, F>(
    text: String,
    budget: u64,
    map: F,
) -> Vec<Result<T, String>>
where
    T: Send + 'static,
    F: Fn(Value) -> T + Send + Sync + 'static,
{
    let groups = match text.len() / PARALLEL_GROUP_BYTES {
        0 | 1 => 1,
        n => n.min(cores()),
    };
    parse_in_groups(text, budget, map, groups).await
}

/// [`parse_documents_parallel`] in `groups` groups.
async fn parse_in_groups<T, F>(
    text: String,
    budget: u64,
    map: F,
    groups: usize,
) -> Vec<Result<T, String>>
where
    T: Send + 'static,
    F: Fn(Value) -> T + Send + Sync + 'static,
{
    if groups <= 1 {
        return number(vec![parse_parts(split_documents(&text), budget, &map)]);
    }
    // Each group as the (first line, byte range) of its parts, cut where a part crosses the
    // next multiple of len / groups.
    let target = text.len().div_ceil(groups);
    let mut spans: Vec<Vec<(usize, std::ops::Range<usize>)>> = vec![Vec::new()];
    for part in split_documents(&text) {
        let start = part.offset;
        let range = start..start + part.text.len();
        if start >= target * spans.len() && spans.last().is_some_and(|g| !g.is_empty()) {
            spans.push(Vec::new());
        }
        if let Some(group) = spans.last_mut() {
            group.push((part.line, range));
        }
    }
    let text: std::sync::Arc<str> = text.into();
    let map = std::sync::Arc::new(map);
    let mut spans = spans.into_iter();
    // The first group is parsed on the calling thread (which parsed whole files before), the
    // others on blocking threads: what a blocking thread allocates and another thread frees
    // stays in that thread's allocator heap while it idles, so fewer of them hold less.
    let first = spans.next().unwrap_or_default();
    let handles: Vec<_> = spans
        .map(|group| {
            let (text, map) = (text.clone(), map.clone());
            let first_line = group.first().map_or(1, |(line, _)| *line);
            let task = tokio::task::spawn_blocking(move || {
                let parts = group.into_iter().map(|(line, range)| Part {
                    line,
                    offset: range.start,
                    text: &text[range],
                });
                parse_parts(parts, budget, &*map)
            });
            (first_line, task)
        })
        .collect();
    let mut parsed = Vec::with_capacity(handles.len() + 1);
    let parts = first.into_iter().map(|(line, range)| Part {
        line,
        offset: range.start,
        text: &text[range],
    });
    parsed.push(parse_parts(parts, budget, &*map));
    for (first_line, task) in handles {
        parsed.push(task.await.unwrap_or_else(|_| {
            vec![Parsed::Failed {
                line: first_line,
                message: "the parser stopped unexpectedly".into(),
            }]
        }));
    }
    number(parsed)
}

/// One document of a part, before documents are numbered across the text.
enum Parsed<T> {
    Document(T),
    Empty,
    Failed { line: usize, message: String },
}

/// Parses `parts` in order; a broken document ends its part (the rest of it cannot be read).
fn parse_parts<'a, T>(
    parts: impl IntoIterator<Item = Part<'a>>,
    budget: u64,
    map: &(impl Fn(Value) -> T + ?Sized),
) -> Vec<Parsed<T>> {
    let mut out = Vec::new();
    for part in parts {
        for doc in serde_yaml::Deserializer::from_str(part.text) {
            match parse_one(doc, budget) {
                Ok(Value::Null) => out.push(Parsed::Empty),
                Ok(v) => out.push(Parsed::Document(map(v))),
                Err(message) => {
                    out.push(Parsed::Failed {
                        line: part.line,
                        message,
                    });
                    break;
                }
            }
        }
    }
    out
}

/// Numbers the documents of consecutive groups from 1 and drops the empty ones.
fn number<T>(groups: Vec<Vec<Parsed<T>>>) -> Vec<Result<T, String>> {
    let mut out = Vec::new();
    for (i, parsed) in groups.into_iter().flatten().enumerate() {
        match parsed {
            Parsed::Document(v) => out.push(Ok(v)),
            Parsed::Empty => {}
            Parsed::Failed { line, message } => out.push(Err(format!(
                "YAML error in document {} (starting at line {line}): {message}",
                i + 1
            ))),
        }
    }
    out
}

/// Parses one YAML document (as `$yaml` placeholders hold) within `budget`.
pub(crate) fn parse_single(text: &str, budget: u64) -> Result<Value, String> {
    parse_one(serde_yaml::Deserializer::from_str(text), budget)
}

fn parse_one<'de, D: de::Deserializer<'de>>(doc: D, budget: u64) -> Result<Value, String>
where
    D::Error: fmt::Display,
{
    let remaining = Cell::new(budget);
    Budgeted {
        remaining: &remaining,
    }
    .deserialize(doc)
    .map_err(|e| redact(&e.to_string()))
}

/// Removes quoted values from a parser or deserializer message, so that an error about a file
/// never repeats the file's content (`invalid type: string "root:x:0:0", expected ...`).
pub(crate) fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars();
    while let Some(c) = chars.next() {
        if c == '"' {
            let mut escaped = false;
            for c in chars.by_ref() {
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => break,
                    _ => escaped = false,
                }
            }
            out.push_str("\"…\"");
        } else {
            out.push(c);
        }
    }
    out
}

/// A `serde_json::Value` seed charging every node to a shared budget.
#[derive(Clone, Copy)]
struct Budgeted<'b> {
    remaining: &'b Cell<u64>,
}

impl Budgeted<'_> {
    fn charge<E: de::Error>(&self, text_len: usize) -> Result<(), E> {
        let cost = NODE_COST.saturating_add(text_len as u64);
        match self.remaining.get().checked_sub(cost) {
            Some(left) => {
                self.remaining.set(left);
                Ok(())
            }
            None => {
                self.remaining.set(0);
                Err(E::custom(
                    "document expands beyond catalog.yaml.maxExpandedSize (aliases included)",
                ))
            }
        }
    }
}

impl<'de> DeserializeSeed<'de> for Budgeted<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Budgeted<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.charge(0)?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.charge(0)?;
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.charge(0)?;
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.charge(0)?;
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.charge(v.len())?;
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.charge(v.len())?;
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.charge(0)?;
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.charge(0)?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.charge(0)?;
        let mut out = Map::new();
        while let Some(key) = map.next_key_seed(self)? {
            let key = match key {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null => "null".to_owned(),
                _ => return Err(de::Error::custom("mapping keys must be scalars")),
            };
            let value = map.next_value_seed(self)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        // A tagged node (`!Tag value`): keep the value, as serde_json's own Value does not
        // accept tags at all.
        use de::VariantAccess as _;
        let (tag, variant): (String, _) = data.variant()?;
        self.charge(tag.len())?;
        variant.newtype_variant_seed(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_split_at_column_zero_markers_only() {
        let text = "a: 1\n---\nb: |\n  ---\n  x\n--- {c: 3}\n...\nd: 4\n";
        let parts: Vec<_> = split_documents(text)
            .into_iter()
            .map(|p| (p.line, p.text))
            .collect();
        assert_eq!(
            parts,
            [
                (1, "a: 1\n"),
                (2, "---\nb: |\n  ---\n  x\n"),
                (6, "--- {c: 3}\n...\n"),
                (8, "d: 4\n"),
            ]
        );
        for part in split_documents(text) {
            assert_eq!(&text[part.offset..part.offset + part.text.len()], part.text);
        }
        // `----` and `---x` are not markers.
        assert_eq!(split_documents("a: ----\n---x: 1\n").len(), 1);
    }

    #[test]
    fn directives_travel_with_the_next_document() {
        let parts = split_documents("a: 1\n%YAML 1.2\n---\nb: 2\n");
        assert_eq!(parts[0].text, "a: 1\n");
        assert_eq!(parts[1].text, "%YAML 1.2\n---\nb: 2\n");
        let docs = parse_documents("a: 1\n%YAML 1.2\n---\nb: 2\n", 1 << 20);
        assert_eq!(docs, [Ok(json!({"a": 1})), Ok(json!({"b": 2}))]);
    }

    #[test]
    fn a_broken_document_does_not_lose_the_others() {
        let text = "a: 1\n---\nb: [unclosed\nc: 2\n---\nd: 4\n---\n---\n";
        let docs = parse_documents(text, 1 << 20);
        assert_eq!(docs.len(), 3, "{docs:?}");
        assert_eq!(docs[0], Ok(json!({"a": 1})));
        let err = docs[1].clone().unwrap_err();
        assert!(err.contains("document 2 (starting at line 2)"), "{err}");
        assert_eq!(docs[2], Ok(json!({"d": 4})));
    }

    #[tokio::test]
    async fn groups_parse_as_one_text_does() {
        // Empty documents, a broken one and a non-object spread over the groups.
        let mut text = String::new();
        for i in 0..300 {
            match i % 50 {
                7 => text.push_str("---\n# only a comment\n"),
                21 => text.push_str("---\nb: [unclosed\nc: 2\n"),
                33 => text.push_str("---\n- a list\n"),
                _ => text.push_str(&format!("---\nkind: Component\nmetadata:\n  name: c-{i}\n")),
            }
        }
        let expected = parse_documents(&text, 1 << 20);
        assert_eq!(expected.iter().filter(|d| d.is_err()).count(), 6);
        for groups in [1, 2, 3, 7] {
            let docs = parse_in_groups(text.clone(), 1 << 20, |v| v, groups).await;
            assert_eq!(docs, expected, "{groups} groups");
        }
        // Document 22 (i = 21) is the first broken one; the empty document 8 is not listed.
        let err = expected[20].clone().unwrap_err();
        assert!(err.contains("document 22 (starting at line 83)"), "{err}");
        // `map` runs on every document, in order.
        let names = parse_in_groups(text, 1 << 20, |v| v["metadata"]["name"].clone(), 3).await;
        assert_eq!(names[0], Ok(json!("c-0")));
        assert_eq!(names.last(), Some(&Ok(json!("c-299"))));
    }

    #[test]
    fn values_match_serde_yaml() {
        let text = "a: [1, -2, 2.5, true, null, ~, 'x']\nb: {c: d}\n1: one\n";
        let docs = parse_documents(text, 1 << 20);
        let expected: Value = serde_yaml::from_str(text).unwrap();
        assert_eq!(docs, [Ok(expected)]);
        let aliases = parse_single("a: &x [1, 2]\nb: *x\n", 1 << 20).unwrap();
        assert_eq!(aliases, json!({"a": [1, 2], "b": [1, 2]}));
    }

    #[test]
    fn quadratic_aliases_are_refused_within_the_budget() {
        // A list of 2,000 items aliased 2,000 times: 4 million nodes from 20 KB.
        let mut text = String::from("a: &a [");
        text.push_str(&vec!["1"; 2000].join(","));
        text.push_str("]\nb: [");
        text.push_str(&vec!["*a"; 2000].join(","));
        text.push_str("]\n");
        let started = std::time::Instant::now();
        let err = parse_single(&text, 1 << 20).unwrap_err();
        assert!(err.contains("maxExpandedSize"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // Long aliased strings count their length.
        let long = format!("a: &a '{}'\nb: [*a, *a, *a, *a]\n", "x".repeat(1000));
        assert!(parse_single(&long, 4000).is_err());
        assert!(parse_single(&long, 6000).is_ok());
    }

    #[test]
    fn errors_do_not_repeat_quoted_content() {
        assert_eq!(
            redact(r#"invalid type: string "root:x:0\"0", expected struct Metadata"#),
            "invalid type: string \"…\", expected struct Metadata"
        );
    }
}
