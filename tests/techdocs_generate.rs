//! Builds docs sites with the native generator and checks the HTML, nav, metadata and
//! search index.
#![allow(clippy::unwrap_used, clippy::print_stdout)] // test helpers outside #[test] fns

use std::fs;
use std::path::Path;

use backlot::plugins::techdocs::common::TechDocsMetadata;
use backlot::plugins::techdocs::node::{
    GenerateOptions, Generator, GeneratorError, MkDocsGenerator,
};

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn read(root: &Path, rel: &str) -> String {
    fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

const MKDOCS: &str = "\
site_name: Payments <Docs>
site_description: How payments work
nav:
  - Home: index.md
  - Guides:
      - Setup: guides/setup.md
      - guides/advanced.md
      - Deep:
          - guides/deep/inner.md
  - Source: https://example.com/payments
plugins:
  - techdocs-core
markdown_extensions:
  - admonition
  - toc:
      permalink: true
";

const INDEX: &str = "\
# Payments

Welcome to **payments**. See the [setup guide](guides/setup.md#install) and
[advanced topics](guides/advanced.md).

| Method | Fee |
|--------|----:|
| Card   | 2%  |
| Wire   | 1 & co |

- [x] Accept cards
- [ ] Accept crypto

This has a footnote.[^1] And ~~strikethrough~~ text.

[^1]: The footnote text.

!!! warning \"Mind the fees\"
    Fees change **monthly**.

??? tip \"More\"
    Hidden tip.

![Logo](images/logo.png)

```rust
fn main() { println!(\"<hi>\"); }
```

<script>alert('x')</script>

## Usage

Use it.

## Usage
";

fn site(root: &Path) {
    write(root, "mkdocs.yml", MKDOCS);
    write(root, "docs/index.md", INDEX);
    write(
        root,
        "docs/guides/setup.md",
        "# Setup\n\n## Install\n\nRun the installer. Back [home](../index.md).\n\n![Logo](../images/logo.png)\n",
    );
    write(
        root,
        "docs/guides/advanced.md",
        "# Advanced Topics\n\nSee [inner](deep/inner.md#x).\n",
    );
    write(
        root,
        "docs/guides/deep/inner.md",
        "# Inner\n\n## X\n\nDeep text.\n",
    );
    write(root, "docs/orphan.md", "# Orphan\n");
    fs::create_dir_all(root.join("docs/images")).unwrap();
    fs::write(root.join("docs/images/logo.png"), [0x89, b'P', b'N', b'G']).unwrap();
}

#[test]
fn full_site_builds_with_nav_admonitions_tables_and_links() {
    let src = tempfile::tempdir().unwrap();
    site(src.path());
    let out = tempfile::tempdir().unwrap();
    let report = MkDocsGenerator::new()
        .generate(
            src.path(),
            out.path(),
            &GenerateOptions::new().etag("etag-1"),
        )
        .unwrap();
    assert_eq!(report.pages, 5);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let o = out.path();

    let home = read(o, "index.html");
    // Site name escaped in title and nav.
    assert!(
        home.contains("<title>Payments - Payments &lt;Docs&gt;</title>"),
        "{home}"
    );
    // Nested nav: section with a nested section and an external link.
    assert!(home.contains(r#"<span class="md-nav__link">Guides</span>"#));
    assert!(home.contains(r#"<span class="md-nav__link">Deep</span>"#));
    assert!(home.contains(r#"href="guides/setup/">Setup</a>"#));
    assert!(home.contains(r#"href="guides/advanced/">Advanced Topics</a>"#));
    assert!(home.contains(r#"href="guides/deep/inner/">Inner</a>"#));
    assert!(home.contains(r#"href="https://example.com/payments">Source</a>"#));
    assert!(home.contains(r#"md-nav__item--active"><a class="md-nav__link" href="./">Home</a>"#));
    // Links between pages.
    assert!(
        home.contains(r#"<a href="guides/setup/#install">setup guide</a>"#),
        "{home}"
    );
    assert!(home.contains(r#"<a href="guides/advanced/">advanced topics</a>"#));
    // Table, task list, footnote, strikethrough.
    assert!(home.contains("<table>"));
    assert!(
        home.contains(r#"<th style="text-align: right">Fee</th>"#),
        "{home}"
    );
    assert!(
        home.contains(r#"<td style="text-align: right">1 &amp; co</td>"#),
        "{home}"
    );
    assert!(
        home.contains(r#"<input disabled="" type="checkbox" checked=""/>"#),
        "{home}"
    );
    assert!(home.contains(r#"<input disabled="" type="checkbox"/>"#));
    assert!(home.contains("footnote-reference"));
    assert!(home.contains("footnote-definition"));
    assert!(home.contains("<del>strikethrough</del>"));
    // Admonitions.
    assert!(home.contains(r#"<div class="admonition warning">"#));
    assert!(home.contains(r#"<p class="admonition-title">Mind the fees</p>"#));
    assert!(home.contains("Fees change <strong>monthly</strong>."));
    assert!(home.contains(r#"<details class="tip">"#));
    assert!(home.contains("<summary>More</summary>"));
    // Code with language class and escaped content.
    assert!(
        home.contains(r#"<pre><code class="language-rust">fn main() { println!("&lt;hi&gt;"); }"#),
        "{home}"
    );
    // Script escaped.
    assert!(!home.contains("<script>"));
    assert!(home.contains("&lt;script&gt;"));
    // Image link and copied file.
    assert!(
        home.contains(r#"<img src="images/logo.png" alt="Logo" />"#),
        "{home}"
    );
    assert_eq!(
        fs::read(o.join("images/logo.png")).unwrap(),
        [0x89, b'P', b'N', b'G']
    );
    // Deduplicated heading anchors and the table of contents.
    assert!(home.contains(r#"<h2 id="usage">Usage</h2>"#));
    assert!(home.contains(r#"<h2 id="usage_1">Usage</h2>"#));
    assert!(home.contains(r##"<a class="md-nav__link" href="#usage_1">Usage</a>"##));

    let setup = read(o, "guides/setup/index.html");
    assert!(setup.contains(r#"<h2 id="install">Install</h2>"#));
    assert!(setup.contains(r#"<a href="../../">home</a>"#), "{setup}");
    assert!(setup.contains(r#"<img src="../../images/logo.png""#));
    assert!(setup.contains(r#"href="../../assets/stylesheets/techdocs.css""#));
    let advanced = read(o, "guides/advanced/index.html");
    assert!(
        advanced.contains(r#"<a href="../deep/inner/#x">inner</a>"#),
        "{advanced}"
    );
    // Pages outside the nav are still built.
    assert!(o.join("orphan/index.html").exists());

    let meta: TechDocsMetadata = serde_json::from_str(&read(o, "techdocs_metadata.json")).unwrap();
    assert_eq!(meta.site_name, "Payments <Docs>");
    assert_eq!(meta.site_description, "How payments work");
    assert_eq!(meta.etag, "etag-1");
    assert!(meta.build_timestamp > 1_600_000_000_000);
    for f in [
        "index.html",
        "guides/setup/index.html",
        "images/logo.png",
        "search/search_index.json",
    ] {
        assert!(
            meta.files.contains(&f.to_owned()),
            "{f} missing from {:?}",
            meta.files
        );
    }
}

#[test]
fn search_index_has_pages_and_sections() {
    let src = tempfile::tempdir().unwrap();
    site(src.path());
    let out = tempfile::tempdir().unwrap();
    MkDocsGenerator::new()
        .generate(src.path(), out.path(), &GenerateOptions::new())
        .unwrap();
    let index: serde_json::Value =
        serde_json::from_str(&read(out.path(), "search/search_index.json")).unwrap();
    assert_eq!(index["config"]["lang"][0], "en");
    let docs = index["docs"].as_array().unwrap();
    let find = |loc: &str| {
        docs.iter()
            .find(|d| d["location"] == loc)
            .unwrap_or_else(|| panic!("no {loc} in {docs:?}"))
    };
    assert_eq!(find("guides/setup/")["title"], "Setup");
    assert!(
        find("guides/setup/")["text"]
            .as_str()
            .unwrap()
            .contains("Run the installer")
    );
    let install = find("guides/setup/#install");
    assert_eq!(install["title"], "Install");
    assert!(
        install["text"]
            .as_str()
            .unwrap()
            .contains("Run the installer")
    );
    assert!(find("")["text"].as_str().unwrap().contains("Fees change"));
    assert_eq!(find("guides/deep/inner/#x")["text"], "Deep text.");
}

#[test]
fn default_nav_puts_index_first_then_alphabetical_and_sections() {
    let src = tempfile::tempdir().unwrap();
    write(src.path(), "mkdocs.yml", "site_name: Plain\n");
    write(src.path(), "docs/zeta.md", "# Zeta\n");
    write(src.path(), "docs/alpha.md", "no heading here\n");
    write(src.path(), "docs/README.md", "# Start\n");
    write(src.path(), "docs/sub/b.md", "# B\n");
    write(src.path(), "docs/sub/index.md", "# Sub home\n");
    let out = tempfile::tempdir().unwrap();
    MkDocsGenerator::new()
        .generate(src.path(), out.path(), &GenerateOptions::new())
        .unwrap();
    let home = read(out.path(), "index.html");
    assert!(
        home.contains(">Start</a>"),
        "README.md is the home page: {home}"
    );
    let pos = |s: &str| home.find(s).unwrap_or_else(|| panic!("{s} not in {home}"));
    assert!(pos(">Start</a>") < pos(">Alpha</a>"));
    assert!(pos(">Alpha</a>") < pos(">Zeta</a>"));
    assert!(pos(">Zeta</a>") < pos(r#"<span class="md-nav__link">Sub</span>"#));
    assert!(pos(">Sub home</a>") < pos(">B</a>"));
    assert!(out.path().join("sub/b/index.html").exists());
    assert!(out.path().join("sub/index.html").exists());
}

#[test]
fn missing_and_broken_config_are_typed_errors() {
    let src = tempfile::tempdir().unwrap();
    write(src.path(), "docs/index.md", "# x\n");
    let out = tempfile::tempdir().unwrap();
    let generator = MkDocsGenerator::new();
    let err = generator
        .generate(src.path(), out.path(), &GenerateOptions::new())
        .unwrap_err();
    assert!(matches!(err, GeneratorError::MissingConfig { .. }), "{err}");

    write(
        src.path(),
        "mkdocs.yml",
        "site_name: ok\nnav:\n  - Home: index.md\n   - bad: [\n",
    );
    let err = generator
        .generate(src.path(), out.path(), &GenerateOptions::new())
        .unwrap_err();
    match &err {
        GeneratorError::InvalidConfig { file, line, .. } => {
            assert!(file.ends_with("mkdocs.yml"));
            assert!(line.is_some(), "{err}");
            assert!(err.to_string().contains("mkdocs.yml at line"), "{err}");
        }
        other => panic!("unexpected {other:?}"),
    }

    write(src.path(), "mkdocs.yml", "site_description: no name\n");
    let err = generator
        .generate(src.path(), out.path(), &GenerateOptions::new())
        .unwrap_err();
    assert!(err.to_string().contains("site_name"), "{err}");

    write(
        src.path(),
        "mkdocs.yml",
        "site_name: x\ndocs_dir: nowhere\n",
    );
    let err = generator
        .generate(src.path(), out.path(), &GenerateOptions::new())
        .unwrap_err();
    assert!(
        matches!(err, GeneratorError::MissingDocsDir { .. }),
        "{err}"
    );
}

#[test]
fn broken_links_and_missing_nav_entries_are_warnings() {
    let src = tempfile::tempdir().unwrap();
    write(
        src.path(),
        "mkdocs.yml",
        "site_name: W\nnav:\n  - index.md\n  - gone.md\n",
    );
    write(
        src.path(),
        "docs/index.md",
        "# W\n\n[x](missing.md) ![y](nope.png)\n",
    );
    let out = tempfile::tempdir().unwrap();
    let report = MkDocsGenerator::new()
        .generate(src.path(), out.path(), &GenerateOptions::new())
        .unwrap();
    assert_eq!(report.warnings.len(), 3, "{:?}", report.warnings);
    assert!(report.warnings.iter().any(|w| w.contains("gone.md")));
}
