//! The `${{ }}` templater against the real Nunjucks.
//!
//! Every template of [`CORPUS`] is rendered by our templater and compared with the output
//! written next to it (what Nunjucks 3.2 gives). With `BACKLOT_TEST_NUNJUCKS_MODULES` set to a
//! `node_modules` directory holding `nunjucks`, the corpus is also rendered by
//! `tests/support/nunjucks/render.js` (Nunjucks set up like Backstage's SecureTemplater) and
//! both outputs must be identical.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use backlot::plugins::scaffolder::node::templating::TemplaterOptions;
use backlot::plugins::scaffolder::node::templating::{self, TemplateFunction};
use backlot::plugins::scaffolder::node::{Templater, TemplatingExtensions};
use serde_json::{Value, json};

const CONTEXT: &str = r##"{
  "parameters": {
    "name": "My Service",
    "owner": "group:default/team-a",
    "repoUrl": "github.com?owner=acme&repo=svc",
    "replicas": 3,
    "ratio": 2.5,
    "whole": 2.0,
    "big": 1e+21,
    "tiny": 1e-07,
    "flag": true,
    "off": false,
    "nothing": null,
    "tags": [
      "b",
      "a",
      "C"
    ],
    "nums": [
      3,
      1,
      2
    ],
    "empty": [],
    "emptyObj": {},
    "obj": {
      "b": 2,
      "a": 1
    },
    "people": [
      {
        "name": "ann",
        "team": "x",
        "age": 30,
        "admin": true
      },
      {
        "name": "bob",
        "team": "y",
        "age": 25,
        "admin": false
      },
      {
        "name": "cy",
        "team": "x",
        "age": 41
      }
    ],
    "html": "<b>bold</b> & 'q' \\ end",
    "text": "the quick brown fox jumps over the lazy dog",
    "multi": "line1\nline2",
    "json": "{\"a\":1}"
  }
}"##;

/// `(template, what Nunjucks renders)`. Objects of the context reach templates with their keys
/// sorted (the backend's JSON maps are ordered by key), so that is what Nunjucks is given too.
const CORPUS: &[(&str, &str)] = &[
    (r##"hello ${{ parameters.name }}"##, r##"hello My Service"##),
    (
        r##"${{ parameters.replicas }}-${{ parameters.ratio }}-${{ parameters.whole }}"##,
        r##"3-2.5-2"##,
    ),
    (
        r##"${{ parameters.big }} ${{ parameters.tiny }} ${{ 0.1 + 0.2 }} ${{ 10 / 4 }} ${{ 4 / 2 }} ${{ 7 // 2 }} ${{ 2 ** 10 }} ${{ 7 % 3 }}"##,
        r##"1e+21 1e-7 0.30000000000000004 2.5 2 3 1024 1"##,
    ),
    (
        r##"${{ parameters.flag }} ${{ parameters.off }} [${{ parameters.nothing }}] [${{ parameters.missing }}] [${{ parameters.missing.deeper.still }}]"##,
        r##"true false [] [] []"##,
    ),
    (
        r##"${{ parameters.tags }} | ${{ parameters.obj }} | ${{ parameters.empty }} | ${{ [1, [2, 3], null] }}"##,
        r##"b,a,C | [object Object] |  | 1,2,3,"##,
    ),
    (r##"${{ parameters.obj | dump }}"##, r##"{"a":1,"b":2}"##),
    (
        r##"${{ parameters.people | dump(2) }}"##,
        r##"[
  {
    "admin": true,
    "age": 30,
    "name": "ann",
    "team": "x"
  },
  {
    "admin": false,
    "age": 25,
    "name": "bob",
    "team": "y"
  },
  {
    "age": 41,
    "name": "cy",
    "team": "x"
  }
]"##,
    ),
    (
        r##"${{ parameters.tags | dump('\t') }}|${{ parameters.missing | dump }}|${{ parameters.ratio | dump }}|${{ parameters.json | dump }}"##,
        r##"[
	"b",
	"a",
	"C"
]||2.5|"{\"a\":1}""##,
    ),
    (
        r##"${{ parameters.missing | default('dflt') }} ${{ parameters.nothing | default('dflt') }} ${{ '' | default('dflt') }} ${{ '' | default('dflt', true) }} ${{ 0 | d('zero', true) }} ${{ parameters.empty | default('e', true) }}"##,
        r##"dflt   dflt zero "##,
    ),
    (
        r##"${{ parameters.text | replace('o', '0') }} ${{ parameters.text | replace('o', '0', 2) }} ${{ 'abc' | replace('', '.') }} ${{ 12345 | replace(3, 'x') }}"##,
        r##"the quick br0wn f0x jumps 0ver the lazy d0g the quick br0wn f0x jumps over the lazy dog .a.b.c. 12x45"##,
    ),
    (
        r##"${{ parameters.text | truncate(9) }}|${{ parameters.text | truncate(9, true) }}|${{ parameters.text | truncate(12, false, '…') }}|${{ 'short' | truncate(10) }}"##,
        r##"the quick...|the quick...|the quick…|short"##,
    ),
    (
        r##"${{ parameters.multi | indent }}|${{ parameters.multi | indent(2, true) }}|${{ '' | indent }}"##,
        r##"line1
    line2|  line1
  line2|"##,
    ),
    (
        r##"${{ parameters.text | title }} ${{ 'hELLO wORLD' | capitalize }} ${{ parameters.name | upper }} ${{ parameters.name | lower }}"##,
        r##"The Quick Brown Fox Jumps Over The Lazy Dog Hello world MY SERVICE my service"##,
    ),
    (
        r##"${{ parameters.tags | join }} ${{ parameters.tags | join(', ') }} ${{ parameters.people | join('/', 'name') }}"##,
        r##"baC b, a, C ann/bob/cy"##,
    ),
    (
        r##"${{ parameters.tags | first }} ${{ parameters.tags | last }} ${{ 'xyz' | first }} ${{ 'xyz' | last }}"##,
        r##"b C x z"##,
    ),
    (
        r##"${{ parameters.tags | length }} ${{ parameters.obj | length }} ${{ parameters.name | length }} ${{ parameters.missing | length }}"##,
        r##"3 2 10 0"##,
    ),
    (
        r##"${{ parameters.tags | sort }} ${{ parameters.tags | sort(true) }} ${{ parameters.tags | sort(false, true) }} ${{ parameters.nums | sort }}"##,
        r##"a,b,C C,b,a C,a,b 1,2,3"##,
    ),
    (
        r##"${{ parameters.people | sort(attribute='age') | join(',', 'name') }} ${{ parameters.people | sort(true, false, 'name') | join(',', 'name') }}"##,
        r##"bob,ann,cy cy,bob,ann"##,
    ),
    (
        r##"${{ parameters.tags | reverse }} ${{ 'abc' | reverse }}"##,
        r##"C,a,b cba"##,
    ),
    (
        r##"${{ '42' | int }} ${{ '42px' | int }} ${{ 'x' | int }} ${{ 'x' | int(7) }} ${{ 3.9 | int }} ${{ 'ff' | int(0, 16) }}"##,
        r##"42 42  7 3 255"##,
    ),
    (
        r##"${{ '3.25' | float }} ${{ 'abc' | float }} ${{ 'abc' | float(1.5) }} ${{ 2 | float }}"##,
        r##"3.25  1.5 2"##,
    ),
    (
        r##"${{ 2.5 | round }} ${{ 3.14159 | round(2) }} ${{ 3.14159 | round(1, 'floor') }} ${{ 3.01 | round(0, 'ceil') }} ${{ -2.5 | round }}"##,
        r##"3 3.14 3.1 4 -2"##,
    ),
    (
        r##"${{ 'a b&c/é?' | urlencode }} ${{ parameters.obj | urlencode }}"##,
        r##"a%20b%26c%2F%C3%A9%3F a=1&b=2"##,
    ),
    (
        r##"${{ parameters.html | striptags }}|${{ '<p>a   b</p>\n\n\n\n<i>c</i>' | striptags(true) }}"##,
        r##"bold & 'q' \ end|a b

c"##,
    ),
    (
        r##"[${{ '  pad  ' | trim }}] ${{ parameters.text | wordcount }} ${{ '' | wordcount }}"##,
        r##"[pad] 9 "##,
    ),
    (
        r##"${{ 'abc' | list }} ${{ parameters.obj | list | dump }}"##,
        r##"a,b,c [{"key":"a","value":1},{"key":"b","value":2}]"##,
    ),
    (
        r##"${{ parameters.nums | sum }} ${{ parameters.people | sum('age') }} ${{ parameters.nums | sum(null, 10) }}"##,
        r##"6 96 16"##,
    ),
    (
        r##"${{ parameters.people | selectattr('admin') | join(',', 'name') }} ${{ parameters.people | rejectattr('admin') | join(',', 'name') }}"##,
        r##"ann bob,cy"##,
    ),
    (
        r##"${{ parameters.people | groupby('team') | dump }}"##,
        r##"{"x":[{"admin":true,"age":30,"name":"ann","team":"x"},{"age":41,"name":"cy","team":"x"}],"y":[{"admin":false,"age":25,"name":"bob","team":"y"}]}"##,
    ),
    (
        r##"${{ parameters.obj | dictsort | dump }} ${{ {'b': 1, 'A': 2, 'c': 0} | dictsort(false, 'value') | dump }}"##,
        r##"[["a",1],["b",2]] [["c",0],["b",1],["A",2]]"##,
    ),
    (
        r##"${{ [1,2,3,4,5] | batch(2) | dump }} ${{ [1,2,3] | batch(2, 0) | dump }} ${{ [1,2,3,4,5] | slice(2) | dump }}"##,
        r##"[[1,2],[3,4],[5]] [[1,2],[3]] [[1,2,3],[4,5]]"##,
    ),
    (
        r##"${{ parameters.html | escape }} ${{ parameters.html | escape | escape }} ${{ parameters.html | safe }} ${{ parameters.html | forceescape }}"##,
        r##"&lt;b&gt;bold&lt;/b&gt; &amp; &#39;q&#39; &#92; end &lt;b&gt;bold&lt;/b&gt; &amp; &#39;q&#39; &#92; end <b>bold</b> & 'q' \ end &lt;b&gt;bold&lt;/b&gt; &amp; &#39;q&#39; &#92; end"##,
    ),
    (
        r##"${{ 'hi' | center(10) }}| ${{ -3 | abs }} ${{ parameters.multi | nl2br }}"##,
        r##"    hi    | 3 line1<br />
line2"##,
    ),
    (
        r##"{% if parameters.flag %}yes{% else %}no{% endif %} {% if parameters.missing %}a{% elif parameters.replicas > 2 %}b{% endif %}"##,
        r##"yes b"##,
    ),
    (
        r##"{% for t in parameters.tags %}${{ loop.index }}:${{ t }}{% if not loop.last %}, {% endif %}{% endfor %}"##,
        r##"1:b, 2:a, 3:C"##,
    ),
    (
        r##"{% for p in parameters.people %}${{ loop.index0 }}/${{ loop.length }}/${{ loop.revindex }} ${{ p.name }}{% if loop.first %}*{% endif %};{% endfor %}"##,
        r##"0/3/3 ann*;1/3/2 bob;2/3/1 cy;"##,
    ),
    (
        r##"{% for x in parameters.empty %}x{% else %}none{% endfor %}"##,
        r##"none"##,
    ),
    (
        r##"<ul>
  {%- for t in parameters.tags %}
  <li>${{ t }}</li>
  {%- endfor %}
</ul>"##,
        r##"<ul>
  <li>b</li>
  <li>a</li>
  <li>C</li>
</ul>"##,
    ),
    (
        r##"a {%- if true %} b {% endif -%} c ${{- ' d ' -}} e"##,
        r##"a b c d e"##,
    ),
    (
        r##"{% set greeting = 'hi ' ~ parameters.name %}${{ greeting }} ${{ parameters.replicas ~ 'x' }}"##,
        r##"hi My Service 3x"##,
    ),
    (
        r##"${{ parameters.replicas if parameters.flag else 'n' }} ${{ parameters.off or 'fallback' }} ${{ parameters.flag and 'both' }} ${{ not parameters.flag }}"##,
        r##"3 fallback both false"##,
    ),
    (
        r##"${{ parameters.name.split(' ') | join('-') }} ${{ parameters.name.toLowerCase() }} ${{ parameters.tags.includes('a') }}"##,
        r##"My-Service my service true"##,
    ),
    (
        r##"${{ parameters.repoUrl | parseRepoUrl | dump }} ${{ parameters.repoUrl | projectSlug }} ${{ (parameters.repoUrl | parseRepoUrl).owner }}"##,
        r##"{"host":"github.com","owner":"acme","repo":"svc"} acme/svc acme"##,
    ),
    (
        r##"${{ parameters.owner | parseEntityRef | dump }} ${{ 'team-b' | parseEntityRef({ defaultKind: 'group', defaultNamespace: 'ops' }) | pick('namespace') }}"##,
        r##"{"kind":"group","namespace":"default","name":"team-a"} ops"##,
    ),
    (
        r##"${{ parameters | pick('people[1].name') }} ${{ parameters.people[0].name }} ${{ parameters.people | length > 2 }}"##,
        r##"bob ann true"##,
    ),
    (
        r##"{# a comment #}x${{ 'y' }}z {{ not a var }}"##,
        r##"xyz {{ not a var }}"##,
    ),
    (
        r##"${{ range(3) }} ${{ range(1, 7, 2) | join(' ') }}"##,
        r##"0,1,2 1 3 5"##,
    ),
    (
        r##"${{ parameters.json }} ${{ parameters.tags[5] }}| ${{ 'a' in parameters.tags }} ${{ parameters.replicas == 3 }}"##,
        r##"{"a":1} | true true"##,
    ),
    (
        r##"{% if parameters.empty %}empty list is true{% endif %} {% if parameters.emptyObj %}empty object is true{% endif %} {% if '' %}no{% else %}empty string is false{% endif %} {% if 0 %}no{% endif %}"##,
        r##"empty list is true empty object is true empty string is false "##,
    ),
    (
        r##"${{ parameters.empty | length }} ${{ parameters.emptyObj | length }} ${{ parameters.emptyObj | dump }} ${{ parameters.empty | dump }} ${{ parameters.empty | default('d', true) }}|${{ parameters.tags == parameters.tags }}"##,
        r##"0 0 {} [] |true"##,
    ),
    (
        r##"{% for k, v in parameters.obj %}${{ k }}=${{ v }};{% endfor %} {% for a, b in [[1, 2], [3, 4]] %}${{ a }}-${{ b }};{% endfor %} {%- for k, v in parameters.emptyObj %}x{% else %} none{% endfor %}"##,
        r##"a=1;b=2; 1-2;3-4; none"##,
    ),
    (
        r##"{% raw %}${{ not rendered }}{% endraw %}"##,
        r##"${{ not rendered }}"##,
    ),
    (
        r##"${{ parameters.nums | dump }} ${{ parameters.nums | sort | first }} ${{ -0.0000001 }} ${{ 123456789.123 }}"##,
        r##"[3,1,2] 1 -1e-7 123456789.123"##,
    ),
];

fn context() -> Value {
    serde_json::from_str(CONTEXT).unwrap()
}

/// Renders every `(template, context)` with the real Nunjucks; `None` when skipped.
fn nunjucks(items: &[(&str, Value)]) -> Option<Vec<Result<String, String>>> {
    let Ok(modules) = std::env::var("BACKLOT_TEST_NUNJUCKS_MODULES") else {
        eprintln!(
            "BACKLOT_TEST_NUNJUCKS_MODULES is not set: skipping the comparison with the real nunjucks"
        );
        return None;
    };
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/nunjucks/render.js"
    );
    let mut child = Command::new("node")
        .arg(script)
        .env("NODE_PATH", &modules)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node must run when BACKLOT_TEST_NUNJUCKS_MODULES is set");
    let mut input = String::new();
    for (template, ctx) in items {
        input.push_str(&json!({"template": template, "context": ctx}).to_string());
        input.push('\n');
    }
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "render.js failed");
    let lines: Vec<Result<String, String>> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            match v.get("ok") {
                Some(ok) => Ok(ok.as_str().unwrap().to_string()),
                None => Err(v["err"].as_str().unwrap_or_default().to_string()),
            }
        })
        .collect();
    assert_eq!(
        lines.len(),
        items.len(),
        "render.js answered every template"
    );
    Some(lines)
}

#[test]
fn corpus_renders_as_nunjucks_does() {
    assert!(CORPUS.len() >= 40);
    let t = Templater::new(&TemplatingExtensions::default());
    let ctx = context();
    let mut failures = Vec::new();
    for (template, expected) in CORPUS {
        match t.render_str(template, &ctx) {
            Ok(out) if out == *expected => {}
            other => failures.push(format!(
                "{template:?}\n  want {expected:?}\n  got  {other:?}"
            )),
        }
    }
    if let Some(real) = nunjucks(
        &CORPUS
            .iter()
            .map(|(t, _)| (*t, ctx.clone()))
            .collect::<Vec<_>>(),
    ) {
        for ((template, expected), real) in CORPUS.iter().zip(real) {
            if real.as_deref() != Ok(*expected) {
                failures.push(format!(
                    "nunjucks disagrees with the expectation of {template:?}: {real:?}"
                ));
            }
            let ours = t.render_str(template, &ctx).map_err(|e| e.to_string());
            if ours.as_ref().ok() != real.as_ref().ok() {
                failures.push(format!(
                    "{template:?}\n  nunjucks {real:?}\n  ours     {ours:?}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn errors_where_nunjucks_errors() {
    let t = Templater::new(&TemplatingExtensions::default());
    let ctx = context();
    let bad = [
        "${{ parameters.name | noSuchFilter }}",
        "${{ 'github.com?owner=o' | parseRepoUrl }}",
        "${{ '?owner=o&repo=r' | parseRepoUrl }}",
        "${{ 'team-a' | parseEntityRef }}",
        "{% if %}",
        "${{ parameters.name | dictsort }}",
    ];
    for template in bad {
        assert!(
            t.render_str(template, &ctx).is_err(),
            "{template} must fail"
        );
    }
    let err = t.render_str(bad[1], &ctx).unwrap_err().to_string();
    assert!(err.contains("missing repo"), "{err}");
    if let Some(real) = nunjucks(&bad.iter().map(|b| (*b, ctx.clone())).collect::<Vec<_>>()) {
        for (template, r) in bad.iter().zip(real) {
            assert!(r.is_err(), "nunjucks renders {template}: {r:?}");
        }
    }
}

#[test]
fn lone_expressions_keep_their_type_as_in_the_runner() {
    let t = Templater::new(&TemplatingExtensions::default());
    let ctx = context();
    let input = json!({
        "n": "${{ parameters.replicas }}",
        "f": "${{ parameters.whole }}",
        "b": "${{ parameters.flag }}",
        "o": "${{ parameters.obj }}",
        "l": "${{ parameters.tags }}",
        "null": "${{ parameters.nothing }}",
        "undef": "${{ parameters.missing }}",
        "emptyText": "",
        "looksJson": "${{ parameters.json }}",
        "dumped": "${{ parameters.obj | dump }}",
        "padded": " ${{ parameters.replicas }}",
        "two": "${{ parameters.replicas }}${{ parameters.replicas }}",
        "text": "n=${{ parameters.replicas }}",
        "block": "{% if parameters.flag %}42{% else %}0{% endif %}",
        "blockText": "{% if parameters.flag %}yes{% endif %}",
        "list": ["${{ parameters.missing }}", "${{ parameters.ratio }}", 7, true],
    });
    let out = t.render_value(&input, &ctx).unwrap();
    assert_eq!(
        out,
        json!({
            "n": 3,
            "f": 2,
            "b": true,
            "o": {"b": 2, "a": 1},
            "l": ["b", "a", "C"],
            "null": null,
            "looksJson": "{\"a\":1}",
            "dumped": "{\"a\":1,\"b\":2}",
            "padded": " 3",
            "two": "33",
            "text": "n=3",
            "block": 42,
            "blockText": "yes",
            "list": [null, 2.5, 7, true],
        })
    );
    assert_eq!(
        t.render_value(&json!("${{ parameters.missing }}"), &ctx)
            .unwrap(),
        Value::Null
    );
}

#[test]
fn hostile_templates_are_refused_quickly() {
    let t = Templater::new(&TemplatingExtensions::default());
    let ctx = json!({});
    let started = Instant::now();
    // Nested loops: far more work than the fuel allows.
    let bomb = "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}";
    let err = t.render_str(bomb, &ctx).unwrap_err();
    assert!(err.is_limit(), "{err}");
    // Output that grows past maxOutputSize in few instructions.
    let wide = "{% for a in range(1000) %}${{ 'y' * 100000 }}{% endfor %}";
    let err = t.render_str(wide, &ctx).unwrap_err();
    assert!(err.to_string().contains("maxOutputSize"), "{err}");
    // Unbounded recursion.
    let rec = "{% macro f(n) %}${{ f(n + 1) }}{% endmacro %}${{ f(0) }}";
    assert!(t.render_str(rec, &ctx).is_err());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused in {:?}",
        started.elapsed()
    );
    // A smaller bound from options.
    let small = Templater::with_options(
        &TemplatingExtensions::default(),
        TemplaterOptions {
            max_output_size: Some(10),
            ..TemplaterOptions::default()
        },
    );
    assert_eq!(small.render_str("0123456789", &ctx).unwrap(), "0123456789");
    assert!(small.render_str("${{ '01234567890' }}", &ctx).is_err());
    // Templates are never loaded from disk.
    for load in [
        "{% include '/etc/passwd' %}",
        "{% import 'Cargo.toml' as x %}",
        "{% extends 'Cargo.toml' %}",
    ] {
        let err = t.render_str(load, &ctx).unwrap_err();
        assert!(!err.to_string().contains("[package]"), "{err}");
    }
    // No namespace() to carry state across loop iterations (Nunjucks has none).
    assert!(t.render_str("{% set ns = namespace(a=1) %}", &ctx).is_err());
}

#[test]
fn limits_come_from_config() {
    let config = backlot::services::config::Config::from_value(json!({
        "scaffolder": {"templating": {"maxOutputSize": "2KiB", "fuel": 500}}
    }));
    let opts = TemplaterOptions::from_config(&config).unwrap();
    assert_eq!(opts.max_output_size, Some(2048));
    assert_eq!(opts.fuel, Some(500));
    let t = Templater::with_options(&TemplatingExtensions::default(), opts);
    assert!(
        t.render_str(
            "{% for a in range(10000) %}${{ a }}{% endfor %}",
            &json!({})
        )
        .unwrap_err()
        .is_limit()
    );
    let bad = backlot::services::config::Config::from_value(json!({
        "scaffolder": {"templating": {"maxOutputSize": "lots"}}
    }));
    assert!(TemplaterOptions::from_config(&bad).is_err());
}

#[test]
fn extensions_and_describe() {
    let ext = TemplatingExtensions::default();
    ext.add_filter(
        "shout",
        TemplateFunction::new(|a| {
            Ok(json!(
                format!("{}!", a[0].as_str().unwrap_or("")).to_uppercase()
            ))
        }),
    );
    ext.add_global_function(
        "twice",
        TemplateFunction::new(|a| Ok(json!(a[0].as_f64().unwrap_or(0.0) * 2.0))),
    );
    ext.add_global_value("org", json!({"name": "acme"}));
    let t = Templater::new(&ext);
    assert_eq!(
        t.render_str(
            "${{ 'hi' | shout }} ${{ twice(2) }} ${{ org.name }}",
            &json!({})
        )
        .unwrap(),
        "HI! 4 acme"
    );
    let d = templating::describe(&ext);
    for name in [
        "parseRepoUrl",
        "parseEntityRef",
        "pick",
        "projectSlug",
        "shout",
    ] {
        assert!(d["filters"][name].is_object(), "{name} listed");
    }
    for name in ["parseRepoUrl", "parseEntityRef", "pick", "projectSlug"] {
        assert!(
            d["filters"][name]["description"].is_string(),
            "{name} described"
        );
        assert!(
            !d["filters"][name]["examples"]
                .as_array()
                .unwrap()
                .is_empty(),
            "{name} has examples"
        );
    }
    assert!(d["globals"]["functions"]["twice"].is_object());
    assert_eq!(
        d["globals"]["values"]["org"]["value"],
        json!({"name": "acme"})
    );
}

#[test]
fn cookiecutter_compat_uses_plain_braces_and_jsonify() {
    let t = Templater::with_options(
        &TemplatingExtensions::default(),
        TemplaterOptions {
            cookiecutter_compat: true,
            ..TemplaterOptions::default()
        },
    );
    let ctx = json!({"cookiecutter": {"name": "svc", "tags": ["a"]}});
    assert_eq!(
        t.render_str(
            "{{ cookiecutter.name }} {{ cookiecutter.tags | jsonify }} ${{ x }}",
            &ctx
        )
        .unwrap(),
        "svc [\"a\"] $"
    );
}
