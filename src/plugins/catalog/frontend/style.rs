//! The catalog pages' few extra styles, inlined (they build on the app's `--bl-*` variables).

use maud::{Markup, PreEscaped, html};

const CSS: &str = concat!(
    ".bl-main{max-width:1480px}.bl-link{text-decoration:none}.bl-link:hover{text-decoration:underline}",
    ".cat-filters{display:flex;flex-wrap:wrap;align-items:flex-end;gap:12px 16px;background:var(--bl-surface);border:1px solid var(--bl-border);border-radius:10px;padding:14px 16px;margin-bottom:16px}",
    ".cat-field{display:flex;flex-direction:column;gap:4px;margin:0;border:0;padding:0;min-width:150px}",
    ".cat-search{flex:1 1 220px}",
    ".cat-field>span,.cat-field legend,.cat-tags summary{font-size:.75rem;font-weight:600;text-transform:uppercase;letter-spacing:.04em;color:var(--bl-muted);padding:0}",
    ".cat-field select,.cat-field input[type=search]{width:100%}",
    ".cat-checks>div{display:flex;flex-wrap:wrap;gap:4px 14px;padding:7px 0}.cat-checks label{display:flex;gap:6px;align-items:center;font-size:.9rem}",
    ".cat-count{color:var(--bl-muted);font-size:.8rem}",
    ".cat-tags{flex-basis:100%}.cat-tags summary{cursor:pointer;padding:4px 0}",
    ".cat-tags>div{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:4px 14px;padding:8px 0 0}",
    ".cat-actions{display:flex;gap:12px;align-items:center;margin-left:auto}",
    ".cat-name{font-weight:600}.cat-desc{display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;overflow:hidden;color:var(--bl-muted);font-size:.9rem}",
    ".bl-table td{vertical-align:top}.bl-table .bl-chips li{font-size:.75rem;padding:1px 8px}",
    ".cat-table .bl-table th,.cat-table .bl-table td{padding:10px 14px}.cat-table td:nth-child(-n+4){white-space:nowrap}.cat-table td:nth-child(6){min-width:220px}",
    ".cat-paging{display:flex;justify-content:space-between;align-items:center;margin-top:12px}",
    ".cat-page[aria-disabled]{padding:8px 14px;color:var(--bl-muted);border:1px solid var(--bl-border);border-radius:6px}",
    ".cat-entity-head{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:center;margin:-8px 0 18px}",
    ".cat-kind{font-size:.75rem;font-weight:600;text-transform:uppercase;letter-spacing:.05em;background:var(--bl-accent);color:var(--bl-accent-text);padding:2px 10px;border-radius:999px}",
    ".cat-about dd{font-weight:500}.cat-about .bl-dl>div:first-child{grid-column:1/-1}",
    ".cat-overview>.bl-grid{align-items:start}.cat-overview>.bl-grid>section:first-child{grid-column:span 2}",
    ".cat-rel{display:grid;grid-template-columns:max-content 1fr;gap:6px 16px;margin:0}.cat-rel dt{color:var(--bl-muted)}.cat-rel dd{margin:0}",
    ".cat-list{list-style:none;margin:0;padding:0}.cat-list li{padding:8px 0;border-top:1px solid var(--bl-border)}.cat-list li:first-child{border-top:0}",
    ".cat-links{display:flex;flex-wrap:wrap;gap:8px;margin-top:14px}",
    ".cat-links a{padding:4px 12px;border:1px solid var(--bl-border);border-radius:999px;font-size:.85rem;background:var(--bl-bg)}",
    "@media (max-width:1100px){.cat-overview>.bl-grid>section:first-child{grid-column:auto}}",
);

/// The `<style>` element the catalog pages include.
pub(crate) fn style() -> Markup {
    html! { style { (PreEscaped(CSS)) } }
}
