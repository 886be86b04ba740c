#![allow(missing_docs)]
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]
//! The Tech Radar of `examples/tech_radar.rs`: its page renders the radar file as SVG with one
//! blip per entry inside its quadrant and ring (checked from the SVG's coordinates and ring
//! circles), the lists and the legend; bad files fail the start naming the entry; hostile
//! strings are escaped; headless Chromium opens `/tech-radar` (skipped without chromedriver).

mod support;

#[path = "../examples/tech_radar/mod.rs"]
mod tech_radar;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use backlot::backend::Feature;
use backlot::frontend::{App, FrontendPlugin};
use backlot::plugins::app;
use backlot::services::config::Config;
use backlot::testing::TestBackend;
use serde_json::{Value, json};
use support::webdriver::Browser;

fn sample_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tech_radar/radar.json")
}

fn sample() -> Value {
    serde_json::from_slice(&std::fs::read(sample_path()).unwrap()).unwrap()
}

fn config(data_path: &Path, extra: Value) -> Config {
    let mut radar = json!({ "dataPath": data_path });
    if let Value::Object(extra) = extra {
        radar.as_object_mut().unwrap().extend(extra);
    }
    Config::from_value(json!({ "techRadar": radar }))
}

/// The plugin for radar JSON `data` (written to a temp file) or the start error's text.
fn plugin_for(data: &Value, extra: Value) -> Result<FrontendPlugin, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("radar.json");
    std::fs::write(&path, serde_json::to_vec(data).unwrap()).unwrap();
    tech_radar::plugin_from_config(&config(&path, extra)).map_err(|e| e.to_string())
}

async fn serve(plugin: FrontendPlugin) -> TestBackend {
    TestBackend::builder()
        .feature(app::app_plugin(App::builder().feature(plugin)))
        .start()
        .await
        .unwrap()
}

async fn page_html(plugin: FrontendPlugin) -> String {
    let b = serve(plugin).await;
    let res = b.client().get("/tech-radar").await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    let html = res.text();
    b.stop().await.unwrap();
    html
}

/// The value of attribute `name` in the tag text `tag`.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let rest = &tag[start..];
    Some(&rest[..rest.find('"')?])
}

/// The opening tags `<name ...>` with class `class`.
fn tags<'a>(html: &'a str, name: &str, class: &str) -> Vec<&'a str> {
    html.match_indices(&format!("<{name} "))
        .filter_map(|(i, _)| {
            let tag = &html[i..i + html[i..].find('>')?];
            (attr(tag, "class") == Some(class)).then_some(tag)
        })
        .collect()
}

#[derive(Debug)]
struct PlacedBlip {
    key: String,
    quadrant: String,
    ring: String,
    x: f64,
    y: f64,
}

fn blips(html: &str) -> Vec<PlacedBlip> {
    tags(html, "g", "tr-blip")
        .into_iter()
        .map(|tag| {
            let t = attr(tag, "transform").unwrap();
            let xy: Vec<f64> = t
                .trim_start_matches("translate(")
                .trim_end_matches(')')
                .split(' ')
                .map(|v| v.parse().unwrap())
                .collect();
            PlacedBlip {
                key: attr(tag, "data-key").unwrap().to_string(),
                quadrant: attr(tag, "data-quadrant").unwrap().to_string(),
                ring: attr(tag, "data-ring").unwrap().to_string(),
                x: xy[0],
                y: xy[1],
            }
        })
        .collect()
}

/// Ring id → outer radius, from the SVG's ring circles.
fn ring_radii(html: &str) -> HashMap<String, f64> {
    tags(html, "circle", "tr-ring")
        .into_iter()
        .map(|tag| {
            (
                attr(tag, "data-ring").unwrap().to_string(),
                attr(tag, "r").unwrap().parse().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_page_has_one_blip_per_entry_inside_its_sector() {
    let data = sample();
    let html =
        page_html(tech_radar::plugin_from_config(&config(&sample_path(), json!({}))).unwrap())
            .await;
    let entries = data["entries"].as_array().unwrap();
    let placed = blips(&html);
    assert_eq!(placed.len(), entries.len(), "one blip per entry");

    let rings: Vec<&str> = data["rings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let quadrants: Vec<&str> = data["quadrants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["id"].as_str().unwrap())
        .collect();
    let radii = ring_radii(&html);
    assert_eq!(radii.len(), rings.len());
    for entry in entries {
        let key = entry["key"].as_str().unwrap();
        let blip = placed
            .iter()
            .find(|b| b.key == key)
            .unwrap_or_else(|| panic!("no blip for {key}"));
        // Its current ring is its first timeline step's.
        let ring = entry["timeline"][0]["ringId"].as_str().unwrap();
        assert_eq!(
            (blip.ring.as_str(), blip.quadrant.as_str()),
            (ring, entry["quadrant"].as_str().unwrap())
        );
        let r = (blip.x * blip.x + blip.y * blip.y).sqrt();
        let index = rings.iter().position(|id| *id == ring).unwrap();
        let inner = if index == 0 {
            0.0
        } else {
            radii[rings[index - 1]]
        };
        let outer = radii[ring];
        assert!(
            r - 9.0 >= inner && r + 9.0 <= outer,
            "{key}: r={r} not within ring {ring} [{inner}, {outer}]"
        );
        // Quadrants: first top right, then top left, bottom left, bottom right (y grows down).
        let q = quadrants
            .iter()
            .position(|id| *id == blip.quadrant)
            .unwrap();
        let (sx, sy) = [(1.0, -1.0), (-1.0, -1.0), (-1.0, 1.0), (1.0, 1.0)][q];
        assert!(
            blip.x * sx >= 9.0 && blip.y * sy >= 9.0,
            "{key}: ({}, {}) not inside quadrant {q} with the blip's radius",
            blip.x,
            blip.y
        );
    }
    // No two blips overlap (radius 9).
    for (i, a) in placed.iter().enumerate() {
        for b in &placed[i + 1..] {
            let d = ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt();
            assert!(d >= 18.0, "{} and {} overlap ({d})", a.key, b.key);
        }
    }

    // The legend names every ring; the lists every entry under its quadrant.
    for ring in data["rings"].as_array().unwrap() {
        let id = ring["id"].as_str().unwrap();
        assert!(
            html.contains(&format!("<li data-ring=\"{id}\">")),
            "legend {id}"
        );
        assert!(html.contains(ring["name"].as_str().unwrap()));
    }
    for quadrant in data["quadrants"].as_array().unwrap() {
        let id = quadrant["id"].as_str().unwrap();
        let section = html
            .split(&format!(
                "<section class=\"tr-quadrant\" data-quadrant=\"{id}\">"
            ))
            .nth(1)
            .unwrap()
            .split("</section>")
            .next()
            .unwrap();
        for entry in entries.iter().filter(|e| e["quadrant"] == id) {
            let key = entry["key"].as_str().unwrap();
            assert!(
                section.contains(&format!("data-key=\"{key}\"")),
                "{key} listed in {id}"
            );
        }
    }
    // Moved markers follow the latest timeline step.
    let moved_in = entries
        .iter()
        .filter(|e| e["timeline"][0]["moved"] == 1)
        .count();
    let moved_out = entries
        .iter()
        .filter(|e| e["timeline"][0]["moved"] == -1)
        .count();
    assert!(moved_in > 0 && moved_out > 0, "the sample has both");
    assert_eq!(html.matches("class=\"tr-moved-in\"").count(), moved_in);
    assert_eq!(html.matches("class=\"tr-moved-out\"").count(), moved_out);
}

#[tokio::test]
async fn a_crowded_sector_still_keeps_blips_inside_and_apart() {
    let mut data = sample();
    let entries: Vec<Value> = (0..40)
        .map(|i| {
            json!({ "id": format!("e{i}"), "key": format!("e{i}"), "title": format!("Entry {i}"),
                "quadrant": "languages", "timeline": [{ "ringId": "adopt", "date": "2026-01-01" }] })
        })
        .collect();
    data["entries"] = Value::Array(entries);
    let html = page_html(plugin_for(&data, json!({})).unwrap()).await;
    let placed = blips(&html);
    assert_eq!(placed.len(), 40);
    let adopt = ring_radii(&html)["adopt"];
    for b in &placed {
        let r = (b.x * b.x + b.y * b.y).sqrt();
        assert!(r + 9.0 <= adopt && b.x >= 9.0 && b.y <= -9.0, "{b:?}");
    }
    for (i, a) in placed.iter().enumerate() {
        for b in &placed[i + 1..] {
            let d = ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt();
            assert!(d >= 18.0 - 1e-6, "{} and {} overlap ({d})", a.key, b.key);
        }
    }
}

#[tokio::test]
async fn hostile_strings_are_escaped() {
    let mut data = sample();
    data["quadrants"][0]["name"] = json!("<script>alert(1)</script>");
    data["rings"][0]["description"] = json!("\"><img src=x onerror=alert(2)>");
    data["entries"][0]["title"] = json!("<b onmouseover=alert(3)>Rust</b>");
    data["entries"][0]["key"] = json!("a\"b");
    data["entries"][0]["url"] = json!("https://example.com/?q=\"><script>");
    let html = page_html(plugin_for(&data, json!({})).unwrap()).await;
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<img src=x"));
    assert!(!html.contains("<b onmouseover"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("data-key=\"a&quot;b\""));
}

/// A change to the sample radar.
type Change = Box<dyn Fn(&mut Value)>;

#[test]
fn bad_radar_files_fail_naming_the_entry() {
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "unknown ring",
            Box::new(|d| d["entries"][2]["timeline"][0]["ringId"] = json!("maybe")),
            "entry \"go\" (\"Go\"): unknown ring \"maybe\"",
        ),
        (
            "unknown quadrant",
            Box::new(|d| d["entries"][3]["quadrant"] = json!("process")),
            "entry \"kotlin\" (\"Kotlin\"): unknown quadrant \"process\"",
        ),
        (
            "duplicate key",
            Box::new(|d| d["entries"][4]["key"] = json!("rust")),
            "entry \"rust\" (\"Python\"): duplicate or empty key",
        ),
        (
            "empty timeline",
            Box::new(|d| d["entries"][0]["timeline"] = json!([])),
            "entry \"rust\" (\"Rust\"): empty timeline",
        ),
        (
            "javascript link",
            Box::new(|d| d["entries"][1]["url"] = json!("javascript:alert(1)")),
            "entry \"typescript\" (\"TypeScript\"): link \"javascript:alert(1)\"",
        ),
        (
            "bad colour",
            Box::new(|d| d["rings"][1]["color"] = json!("red;background:url(x)")),
            "ring \"trial\": color",
        ),
        (
            "three quadrants",
            Box::new(|d| {
                d["quadrants"].as_array_mut().unwrap().pop();
            }),
            "a radar has 4 quadrants, this one has 3",
        ),
        (
            "not the radar's shape",
            Box::new(|d| d["entries"][0]["timeline"] = json!("soon")),
            "is not radar JSON",
        ),
    ];
    for (what, change, expected) in cases {
        let mut data = sample();
        change(&mut data);
        let err = plugin_for(&data, json!({})).expect_err(what);
        assert!(err.contains(expected), "{what}: {err}");
    }

    let err = plugin_for(&sample(), json!({ "maxEntries": 5 })).unwrap_err();
    assert!(err.contains("more than techRadar.maxEntries (5)"), "{err}");
    let err = plugin_for(&sample(), json!({ "maxBytes": 1000 })).unwrap_err();
    assert!(err.contains("more than techRadar.maxBytes (1000)"), "{err}");
    let missing = Path::new("/nonexistent/radar.json");
    let err = tech_radar::plugin_from_config(&config(missing, json!({})))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot read the radar file /nonexistent/radar.json"),
        "{err}"
    );
    let err = tech_radar::plugin_from_config(&Config::from_value(json!({})))
        .unwrap_err()
        .to_string();
    assert!(err.contains("techRadar"), "{err}");
}

#[tokio::test]
async fn chromium_opens_the_radar_page() {
    let plugin = tech_radar::plugin_from_config(&config(&sample_path(), json!({}))).unwrap();
    let b = TestBackend::builder()
        .real_auth()
        .feature(Feature::plugin(backlot::plugins::auth::backend::plugin()))
        .config_yaml("auth:\n  environment: development\n  providers:\n    guest: {}\n")
        .feature(app::app_plugin(App::builder().feature(plugin)))
        .start()
        .await
        .unwrap();
    let Some(browser) = Browser::start().await else {
        b.stop().await.unwrap();
        return;
    };
    browser.sign_in_as_guest(&b.url("/")).await;
    browser.goto(&b.url("/tech-radar")).await;
    assert!(browser.url().await.ends_with("/tech-radar"));
    let blips = browser.find_all("svg g.tr-blip").await;
    assert_eq!(blips.len(), sample()["entries"].as_array().unwrap().len());
    assert!(
        browser
            .text_of("section.tr-quadrant[data-quadrant='data']")
            .await
            .contains("PostgreSQL")
    );
    assert!(browser.text_of(".tr-legend").await.contains("ADOPT"));
    let nav = browser.source().await;
    assert!(nav.contains("href=\"/tech-radar\""), "nav item");
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    browser.screenshot(&shots.join("tech-radar.png")).await;
    browser.close().await;
    b.stop().await.unwrap();
}
