//! TechDocs build throughput: a generated site of 100 pages (10 sections × 10 pages, each
//! with headings, a table, code, lists, an admonition and links) built by the native
//! generator. `benches/techdocs_vs_mkdocs.sh` compares the same build with `mkdocs build`.
#![allow(clippy::unwrap_used, clippy::print_stdout)] // test helpers outside #[test] fns

use std::fmt::Write as _;
use std::path::Path;

use backlot::plugins::techdocs::node::{GenerateOptions, Generator, MkDocsGenerator};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SECTIONS: usize = 10;
const PAGES_PER_SECTION: usize = 10;

fn page(section: usize, page: usize) -> String {
    let mut md = format!("# Section {section} page {page}\n\n");
    for h in 0..4 {
        let _ = write!(
            md,
            "## Topic {h}\n\nThis paragraph explains topic {h} of page {page} with **bold**, *emphasis*, \
             `inline code` and a [link to the next page](page-{next}.md#topic-1).\n\n\
             | Key | Value | Notes |\n|---|---:|---|\n| a | {h} | first |\n| b | {page} | second |\n\n\
             ```python\ndef handler_{h}(event):\n    return {{\"status\": {h}}}\n```\n\n\
             - item one\n- item two\n    - nested item\n\n\
             !!! note \"Remember\"\n    Admonition body for topic {h}.\n\n",
            next = (page + 1) % PAGES_PER_SECTION
        );
    }
    md
}

/// Writes the benchmark site into `dir`.
fn write_site(dir: &Path) {
    let mut nav = String::from("nav:\n  - Home: index.md\n");
    std::fs::create_dir_all(dir.join("docs")).unwrap();
    std::fs::write(dir.join("docs/index.md"), "# Home\n\nThe benchmark site.\n").unwrap();
    for s in 0..SECTIONS {
        let _ = writeln!(nav, "  - Section {s}:");
        let sdir = dir.join(format!("docs/section-{s}"));
        std::fs::create_dir_all(&sdir).unwrap();
        for p in 0..PAGES_PER_SECTION {
            let _ = writeln!(nav, "      - section-{s}/page-{p}.md");
            std::fs::write(sdir.join(format!("page-{p}.md")), page(s, p)).unwrap();
        }
    }
    std::fs::write(
        dir.join("mkdocs.yml"),
        format!(
            "site_name: Bench\nmarkdown_extensions:\n  - admonition\n  - tables\n  - toc\n{nav}"
        ),
    )
    .unwrap();
}

fn bench(c: &mut Criterion) {
    let src = tempfile::tempdir().unwrap();
    write_site(src.path());
    let out = tempfile::tempdir().unwrap();
    let generator = MkDocsGenerator::new();
    let mut group = c.benchmark_group("techdocs");
    group.throughput(Throughput::Elements(
        (SECTIONS * PAGES_PER_SECTION + 1) as u64,
    ));
    group.sample_size(30);
    group.bench_function("generate_101_pages", |b| {
        b.iter(|| {
            generator
                .generate(src.path(), out.path(), &GenerateOptions::new())
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
