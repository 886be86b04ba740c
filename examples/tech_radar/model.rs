//! The radar data, in the shape of Backstage's tech-radar plugin (`TechRadarLoaderResponse`),
//! and its validation: every problem is an error naming the entry.

use std::collections::HashSet;
use std::path::Path;

use serde::Deserialize;

/// A quadrant of the radar (`{ id, name }`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RadarQuadrant {
    pub(crate) id: String,
    pub(crate) name: String,
}

/// A ring of the radar (`{ id, name, color, description? }`), innermost first.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RadarRing {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) color: String,
    #[serde(default)]
    pub(crate) description: Option<String>,
}

/// A link of an entry (`{ url, title }`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RadarLink {
    pub(crate) url: String,
    pub(crate) title: String,
}

/// One step of an entry's history; the first one is the current state. `moved` is `1` when
/// the entry moved in (towards the centre), `-1` when it moved out, `0` or absent otherwise.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RadarTimeline {
    #[serde(default)]
    pub(crate) moved: Option<i64>,
    pub(crate) ring_id: String,
    pub(crate) date: String,
    #[serde(default)]
    pub(crate) description: Option<String>,
}

/// An entry (a blip) of the radar.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RadarEntry {
    pub(crate) id: String,
    pub(crate) key: String,
    pub(crate) title: String,
    pub(crate) quadrant: String,
    pub(crate) timeline: Vec<RadarTimeline>,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) url: Option<String>,
    #[serde(default)]
    pub(crate) links: Vec<RadarLink>,
}

/// How an entry moved, from its latest timeline step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Moved {
    /// Towards the centre (a more adopted ring).
    In,
    /// Away from the centre.
    Out,
    /// Unchanged.
    None,
}

impl RadarEntry {
    /// The ring the entry is in now: its first timeline step's.
    pub(crate) fn ring_id(&self) -> &str {
        self.timeline.first().map_or("", |t| t.ring_id.as_str())
    }

    /// How it moved in its latest step.
    pub(crate) fn moved(&self) -> Moved {
        match self.timeline.first().and_then(|t| t.moved) {
            Some(m) if m > 0 => Moved::In,
            Some(m) if m < 0 => Moved::Out,
            _ => Moved::None,
        }
    }

    /// Its description, else its latest step's.
    pub(crate) fn description(&self) -> Option<&str> {
        self.description
            .as_deref()
            .or_else(|| self.timeline.first()?.description.as_deref())
    }
}

/// A whole radar: `{ quadrants, rings, entries }`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RadarData {
    pub(crate) quadrants: Vec<RadarQuadrant>,
    pub(crate) rings: Vec<RadarRing>,
    pub(crate) entries: Vec<RadarEntry>,
}

/// The limits a radar file is held to (`techRadar.maxBytes`, `techRadar.maxEntries`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RadarLimits {
    pub(crate) max_bytes: u64,
    pub(crate) max_entries: usize,
}

impl Default for RadarLimits {
    fn default() -> Self {
        Self {
            max_bytes: 1024 * 1024,
            max_entries: 500,
        }
    }
}

/// Why a radar file was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RadarError {
    /// The file could not be read.
    #[error("cannot read the radar file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// The file is bigger than `techRadar.maxBytes`.
    #[error("the radar file {path} has {size} bytes, more than techRadar.maxBytes ({max})")]
    TooLarge { path: String, size: u64, max: u64 },
    /// Not JSON of the radar's shape.
    #[error("the radar file {path} is not radar JSON: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    /// A structural problem, naming the entry, ring or quadrant.
    #[error("the radar file {path}: {message}")]
    Invalid { path: String, message: String },
}

/// The number of quadrants a radar has (Backstage's radar draws four).
pub(crate) const QUADRANTS: usize = 4;
/// The most rings drawn.
const MAX_RINGS: usize = 8;

/// Whether `color` is a safe CSS colour: `#rgb`, `#rrggbb`, `#rrggbbaa` or a colour name.
fn is_color(color: &str) -> bool {
    if let Some(hex) = color.strip_prefix('#') {
        return matches!(hex.len(), 3 | 4 | 6 | 8) && hex.chars().all(|c| c.is_ascii_hexdigit());
    }
    !color.is_empty() && color.len() <= 32 && color.chars().all(|c| c.is_ascii_alphabetic())
}

/// Whether `url` may be a link: http(s) or a path of this site (never `javascript:`).
fn is_safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("https://")
        || lower.starts_with("http://")
        || (lower.starts_with('/') && !lower.starts_with("//"))
}

impl RadarData {
    /// Reads and validates the radar file at `path`.
    pub(crate) fn load(path: &Path, limits: RadarLimits) -> Result<Self, RadarError> {
        let shown = path.display().to_string();
        let read = |source| RadarError::Read {
            path: shown.clone(),
            source,
        };
        let size = std::fs::metadata(path).map_err(read)?.len();
        if size > limits.max_bytes {
            return Err(RadarError::TooLarge {
                path: shown,
                size,
                max: limits.max_bytes,
            });
        }
        let bytes = std::fs::read(path).map_err(read)?;
        Self::parse(&shown, &bytes, limits)
    }

    /// Parses and validates radar JSON; `path` names it in errors.
    pub(crate) fn parse(path: &str, bytes: &[u8], limits: RadarLimits) -> Result<Self, RadarError> {
        if bytes.len() as u64 > limits.max_bytes {
            return Err(RadarError::TooLarge {
                path: path.to_string(),
                size: bytes.len() as u64,
                max: limits.max_bytes,
            });
        }
        let data: RadarData =
            serde_json::from_slice(bytes).map_err(|source| RadarError::Parse {
                path: path.to_string(),
                source,
            })?;
        data.validate(limits)
            .map_err(|message| RadarError::Invalid {
                path: path.to_string(),
                message,
            })?;
        Ok(data)
    }

    fn validate(&self, limits: RadarLimits) -> Result<(), String> {
        if self.quadrants.len() != QUADRANTS {
            return Err(format!(
                "a radar has {QUADRANTS} quadrants, this one has {}",
                self.quadrants.len()
            ));
        }
        if self.rings.is_empty() || self.rings.len() > MAX_RINGS {
            return Err(format!(
                "a radar has 1 to {MAX_RINGS} rings, this one has {}",
                self.rings.len()
            ));
        }
        if self.entries.len() > limits.max_entries {
            return Err(format!(
                "{} entries, more than techRadar.maxEntries ({})",
                self.entries.len(),
                limits.max_entries
            ));
        }
        let mut quadrant_ids = HashSet::new();
        for q in &self.quadrants {
            if q.id.is_empty() || !quadrant_ids.insert(q.id.as_str()) {
                return Err(format!("quadrant {:?}: empty or duplicate id", q.id));
            }
        }
        let mut ring_ids = HashSet::new();
        for r in &self.rings {
            if r.id.is_empty() || !ring_ids.insert(r.id.as_str()) {
                return Err(format!("ring {:?}: empty or duplicate id", r.id));
            }
            if !is_color(&r.color) {
                return Err(format!(
                    "ring {:?}: color {:?} is not #hex or a colour name",
                    r.id, r.color
                ));
            }
        }
        let mut keys = HashSet::new();
        let mut ids = HashSet::new();
        for e in &self.entries {
            let name = format!("entry {:?} ({:?})", e.key, e.title);
            if e.key.is_empty() || !keys.insert(e.key.as_str()) {
                return Err(format!("{name}: duplicate or empty key"));
            }
            if !ids.insert(e.id.as_str()) {
                return Err(format!("{name}: duplicate id {:?}", e.id));
            }
            if e.title.trim().is_empty() {
                return Err(format!("{name}: empty title"));
            }
            if !quadrant_ids.contains(e.quadrant.as_str()) {
                return Err(format!("{name}: unknown quadrant {:?}", e.quadrant));
            }
            if e.timeline.is_empty() {
                return Err(format!("{name}: empty timeline"));
            }
            for step in &e.timeline {
                if !ring_ids.contains(step.ring_id.as_str()) {
                    return Err(format!("{name}: unknown ring {:?}", step.ring_id));
                }
            }
            let urls = e.url.iter().chain(e.links.iter().map(|l| &l.url));
            if let Some(bad) = urls.into_iter().find(|u| !is_safe_url(u)) {
                return Err(format!(
                    "{name}: link {bad:?} is not http(s) or a site path"
                ));
            }
        }
        Ok(())
    }

    /// The index of the ring `id`.
    pub(crate) fn ring_index(&self, id: &str) -> Option<usize> {
        self.rings.iter().position(|r| r.id == id)
    }

    /// The index of the quadrant `id`.
    pub(crate) fn quadrant_index(&self, id: &str) -> Option<usize> {
        self.quadrants.iter().position(|q| q.id == id)
    }
}
