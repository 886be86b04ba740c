#!/usr/bin/env bash
# Compares the native TechDocs generator with `mkdocs build` on the same generated site of
# 101 pages. Needs `mkdocs` on PATH (pip install mkdocs); uses hyperfine when available.
#
#   benches/techdocs_vs_mkdocs.sh
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-10}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$work/site-src" <<'PY'
import os, sys
root = sys.argv[1]
os.makedirs(f"{root}/docs", exist_ok=True)
nav = ["nav:", "  - Home: index.md"]
open(f"{root}/docs/index.md", "w").write("# Home\n\nThe benchmark site.\n")
for s in range(10):
    nav.append(f"  - Section {s}:")
    os.makedirs(f"{root}/docs/section-{s}", exist_ok=True)
    for p in range(10):
        nav.append(f"      - section-{s}/page-{p}.md")
        md = [f"# Section {s} page {p}\n"]
        for h in range(4):
            md.append(
                f"## Topic {h}\n\nThis paragraph explains topic {h} of page {p} with **bold**, *emphasis*, "
                f"`inline code` and a [link to the next page](page-{(p + 1) % 10}.md#topic-1).\n\n"
                f"| Key | Value | Notes |\n|---|---:|---|\n| a | {h} | first |\n| b | {p} | second |\n\n"
                f"```python\ndef handler_{h}(event):\n    return {{\"status\": {h}}}\n```\n\n"
                f"- item one\n- item two\n    - nested item\n\n"
                f"!!! note \"Remember\"\n    Admonition body for topic {h}.\n"
            )
        open(f"{root}/docs/section-{s}/page-{p}.md", "w").write("\n".join(md))
open(f"{root}/mkdocs.yml", "w").write(
    "site_name: Bench\nmarkdown_extensions:\n  - admonition\n  - tables\n  - toc\n" + "\n".join(nav) + "\n")
PY

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --quiet --release --example techdocs_cli
cli="$CARGO_TARGET_DIR/release/examples/techdocs_cli"
native="$cli generate --source-dir $work/site-src --output-dir $work/native-site"
python="mkdocs build --quiet --clean --config-file $work/site-src/mkdocs.yml --site-dir $work/mkdocs-site"

if command -v hyperfine >/dev/null; then
    hyperfine --warmup 2 --runs "$RUNS" --export-json "$work/h.json" -n native "$native" -n mkdocs "$python"
    python3 - "$work/h.json" <<'PY'
import json, sys
res = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
for k in ("mean", "min"):
    n, m = res["native"][k], res["mkdocs"][k]
    print(f"{k}: native {n*1000:.1f} ms, mkdocs {m*1000:.1f} ms, ratio {m/n:.1f}x")
PY
else
    # Prints "<mean ns> <min ns>"; the minimum is the least disturbed by other load.
    time_cmd() {
        local total=0 min=0
        $1 >/dev/null 2>&1   # warm-up
        for _ in $(seq "$RUNS"); do
            local start end d
            start=$(date +%s%N)
            $1 >/dev/null 2>&1
            end=$(date +%s%N)
            d=$((end - start))
            total=$((total + d))
            if [ "$min" -eq 0 ] || [ "$d" -lt "$min" ]; then min=$d; fi
        done
        echo "$((total / RUNS)) $min"
    }
    read -r n n_min <<<"$(time_cmd "$native")"
    read -r m m_min <<<"$(time_cmd "$python")"
    awk -v n="$n" -v m="$m" -v nm="$n_min" -v mm="$m_min" 'BEGIN {
        printf "mean: native %.1f ms, mkdocs %.1f ms, ratio %.1fx\n", n/1e6, m/1e6, m/n
        printf "min:  native %.1f ms, mkdocs %.1f ms, ratio %.1fx\n", nm/1e6, mm/1e6, mm/nm }'
fi
