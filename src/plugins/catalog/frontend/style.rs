//! The catalog pages' few extra styles, inlined (they build on the app's `--bl-*` variables).

use maud::{Markup, PreEscaped, html};

const CSS: &str = concat!(
    ".cat-layout{display:grid;grid-template-columns:240px minmax(0,1fr);gap:24px;align-items:start}",
    ".cat-filters{display:flex;flex-direction:column;gap:14px;background:var(--bl-surface);border:1px solid var(--bl-border);border-radius:10px;padding:16px;position:sticky;top:16px}",
    ".cat-field{display:flex;flex-direction:column;gap:4px;margin:0;border:0;padding:0;min-width:0}",
    ".cat-field>span,.cat-field legend{font-size:.75rem;font-weight:600;text-transform:uppercase;letter-spacing:.04em;color:var(--bl-muted);padding:0}",
    ".cat-field select,.cat-field input[type=search]{width:100%}",
    ".cat-checks{max-height:220px;overflow:auto}.cat-checks label{display:flex;gap:6px;align-items:center;font-size:.9rem;padding:1px 0}",
    ".cat-checks .bl-muted{margin:0 0 0 auto;font-size:.8rem}",
    ".cat-actions{display:flex;gap:12px;align-items:center}",
    ".cat-name{font-weight:600}.cat-desc{display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;overflow:hidden;color:var(--bl-muted);font-size:.9rem;max-width:36ch}",
    ".bl-table td{vertical-align:top}.bl-table .bl-chips li{font-size:.75rem;padding:1px 8px}",
    ".cat-paging{display:flex;justify-content:space-between;align-items:center;margin-top:12px}",
    ".cat-page[aria-disabled]{padding:8px 14px;color:var(--bl-muted);border:1px solid var(--bl-border);border-radius:6px}",
    ".cat-entity-head{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:center;margin:-8px 0 18px}",
    ".cat-kind{font-size:.75rem;font-weight:600;text-transform:uppercase;letter-spacing:.05em;background:var(--bl-accent);color:var(--bl-accent-text);padding:2px 10px;border-radius:999px}",
    ".cat-about dd{font-weight:500}.cat-about .cat-wide{grid-column:1/-1}",
    ".cat-rel{display:grid;grid-template-columns:max-content 1fr;gap:6px 16px;margin:0}.cat-rel dt{color:var(--bl-muted)}.cat-rel dd{margin:0}",
    ".cat-list{list-style:none;margin:0;padding:0}.cat-list li{padding:8px 0;border-top:1px solid var(--bl-border)}.cat-list li:first-child{border-top:0}",
    ".cat-links{display:flex;flex-wrap:wrap;gap:8px;margin-top:14px}",
    "@media (max-width:900px){.cat-layout{grid-template-columns:1fr}.cat-filters{position:static}}",
);

/// The `<style>` element the catalog pages include.
pub(crate) fn style() -> Markup {
    html! { style { (PreEscaped(CSS)) } }
}
