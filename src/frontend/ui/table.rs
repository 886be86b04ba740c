//! A table with sorting and paging links (no JavaScript: both are plain query links).

use maud::{Markup, html};

/// A sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

impl SortOrder {
    fn as_str(self) -> &'static str {
        match self {
            Self::Asc => "asc",
            Self::Desc => "desc",
        }
    }
    fn aria(self) -> &'static str {
        match self {
            Self::Asc => "ascending",
            Self::Desc => "descending",
        }
    }
}

/// A column: the key used in `?sort=`, a label, and whether it can be sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The sort key.
    pub key: String,
    /// The header text.
    pub label: String,
    /// Whether the header is a sort link.
    pub sortable: bool,
}

impl Column {
    /// A plain column.
    pub fn new(key: impl Into<String>, label: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            label: label.into(),
            sortable: false,
        }
    }

    /// A sortable column.
    pub fn sortable(key: impl Into<String>, label: impl Into<String>) -> Self {
        Self {
            sortable: true,
            ..Self::new(key, label)
        }
    }
}

/// Sorting and paging read from the query: `sort`, `order` (`asc`/`desc`), `page` (from 1)
/// and `pageSize`.
///
/// ```
/// use backlot::frontend::ui::{SortOrder, TableState};
///
/// let query = vec![("sort".to_string(), "name".to_string()), ("order".into(), "desc".into()), ("page".into(), "2".into())];
/// let state = TableState::from_query(&query, 2);
/// assert_eq!(state.sort(), Some(("name", SortOrder::Desc)));
/// assert_eq!(state.page_slice(&[1, 2, 3, 4, 5]), &[3, 4]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableState {
    sort: Option<(String, SortOrder)>,
    page: usize,
    page_size: usize,
}

impl TableState {
    /// Reads the state from query pairs; `default_page_size` when `pageSize` is absent (at
    /// most 500 either way).
    pub fn from_query(query: &[(String, String)], default_page_size: usize) -> Self {
        let get = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let order = match get("order") {
            Some("desc") => SortOrder::Desc,
            _ => SortOrder::Asc,
        };
        Self {
            sort: get("sort")
                .filter(|s| !s.is_empty())
                .map(|s| (s.to_string(), order)),
            page: get("page")
                .and_then(|p| p.parse().ok())
                .filter(|p| *p >= 1)
                .unwrap_or(1),
            page_size: get("pageSize")
                .and_then(|p| p.parse().ok())
                .unwrap_or(default_page_size)
                .clamp(1, 500),
        }
    }

    /// The sort column and direction.
    pub fn sort(&self) -> Option<(&str, SortOrder)> {
        self.sort.as_ref().map(|(k, o)| (k.as_str(), *o))
    }

    /// The page, from 1.
    pub fn page(&self) -> usize {
        self.page
    }

    /// Rows per page.
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// The offset of the page's first row.
    pub fn offset(&self) -> usize {
        (self.page - 1).saturating_mul(self.page_size)
    }

    /// The rows of the current page from a full list.
    pub fn page_slice<'a, T>(&self, items: &'a [T]) -> &'a [T] {
        let start = self.offset().min(items.len());
        let end = start.saturating_add(self.page_size).min(items.len());
        &items[start..end]
    }
}

/// A data table with a caption, sortable headers (`aria-sort`) and previous/next links; links
/// keep the other query parameters.
///
/// ```
/// use backlot::frontend::ui::{Column, Table, TableState};
/// use maud::html;
///
/// let state = TableState::from_query(&[], 1);
/// let html = Table::new("Components")
///     .columns(vec![Column::sortable("name", "Name"), Column::new("owner", "Owner")])
///     .row(vec![html! { "api-<x>" }, html! { "team-a" }])
///     .state(state)
///     .total(3)
///     .link_base("/catalog", &[("kind".to_string(), "component".to_string())])
///     .render()
///     .into_string();
/// assert!(html.contains("<caption>Components</caption>"));
/// assert!(html.contains("href=\"/catalog?kind=component&amp;sort=name&amp;order=asc\""));
/// assert!(html.contains("href=\"/catalog?kind=component&amp;page=2\""));
/// assert!(html.contains("api-&lt;x&gt;"));
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Table {
    caption: String,
    columns: Vec<Column>,
    rows: Vec<Vec<Markup>>,
    state: TableState,
    paged: bool,
    total: Option<usize>,
    path: String,
    query: Vec<(String, String)>,
}

impl Table {
    /// An empty table.
    pub fn new(caption: impl Into<String>) -> Self {
        Self {
            caption: caption.into(),
            columns: Vec::new(),
            rows: Vec::new(),
            state: TableState::from_query(&[], 20),
            paged: false,
            total: None,
            path: String::new(),
            query: Vec::new(),
        }
    }

    /// Sets the columns.
    pub fn columns(mut self, columns: Vec<Column>) -> Self {
        self.columns = columns;
        self
    }

    /// Adds a row of cells (one per column).
    pub fn row(mut self, cells: Vec<Markup>) -> Self {
        self.rows.push(cells);
        self
    }

    /// Adds rows.
    pub fn rows(mut self, rows: impl IntoIterator<Item = Vec<Markup>>) -> Self {
        self.rows.extend(rows);
        self
    }

    /// Sets the sorting and paging state (read from the request's query), which with
    /// [`total`](Self::total) enables paging links. Give it the rows of the current page
    /// ([`TableState::page_slice`]).
    pub fn state(mut self, state: TableState) -> Self {
        self.state = state;
        self.paged = true;
        self
    }

    /// Sets the total row count, which with [`state`](Self::state) enables paging links;
    /// without a state the table shows every row it was given and no paging links, since
    /// those could not page.
    pub fn total(mut self, total: usize) -> Self {
        self.total = Some(total);
        self
    }

    /// Sets the path and query that sort and paging links start from; `sort`, `order` and
    /// `page` in `query` are replaced.
    pub fn link_base(mut self, path: &str, query: &[(String, String)]) -> Self {
        self.path = path.to_string();
        self.query = query
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "sort" | "order" | "page"))
            .cloned()
            .collect();
        self
    }

    fn href(&self, extra: &[(&str, String)]) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.query {
            ser.append_pair(k, v);
        }
        for (k, v) in extra {
            ser.append_pair(k, v);
        }
        let q = ser.finish();
        if q.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{q}", self.path)
        }
    }

    fn sort_extra(&self) -> Vec<(&str, String)> {
        match &self.state.sort {
            Some((k, o)) => vec![("sort", k.clone()), ("order", o.as_str().to_string())],
            None => Vec::new(),
        }
    }

    fn page_href(&self, page: usize) -> String {
        let mut extra = self.sort_extra();
        if page > 1 {
            extra.push(("page", page.to_string()));
        }
        self.href(&extra)
    }

    /// Renders the table.
    pub fn render(&self) -> Markup {
        let pages = self
            .total
            .filter(|_| self.paged)
            .map(|t| t.div_ceil(self.state.page_size).max(1));
        let page = self.state.page;
        html! {
            div class="bl-table-wrap" {
                table class="bl-table" {
                    caption { (self.caption) }
                    thead { tr {
                        @for col in &self.columns {
                            @let current = self.state.sort().filter(|(k, _)| *k == col.key).map(|(_, o)| o);
                            th scope="col" aria-sort=[current.map(SortOrder::aria)] {
                                @if col.sortable {
                                    @let next = match current { Some(SortOrder::Asc) => SortOrder::Desc, _ => SortOrder::Asc };
                                    a class="bl-sort" href=(self.href(&[("sort", col.key.clone()), ("order", next.as_str().to_string())])) {
                                        (col.label)
                                        @if let Some(o) = current {
                                            span aria-hidden="true" { @if o == SortOrder::Asc { " ▲" } @else { " ▼" } }
                                        }
                                    }
                                } @else {
                                    (col.label)
                                }
                            }
                        }
                    } }
                    tbody {
                        @for row in &self.rows {
                            tr { @for cell in row { td { (cell) } } }
                        }
                    }
                }
                @if let Some(pages) = pages {
                    nav class="bl-paging" aria-label=(format!("{} pages", self.caption)) {
                        @if page > 1 {
                            a class="bl-link" rel="prev" href=(self.page_href(page - 1)) { "Previous" }
                        } @else {
                            span aria-disabled="true" class="bl-muted" { "Previous" }
                        }
                        span { "Page " (page) " of " (pages) }
                        @if page < pages {
                            a class="bl-link" rel="next" href=(self.page_href(page + 1)) { "Next" }
                        } @else {
                            span aria-disabled="true" class="bl-muted" { "Next" }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_column_links_to_the_other_direction_and_marks_aria_sort() {
        let q = vec![
            ("sort".to_string(), "name".to_string()),
            ("page".into(), "3".into()),
        ];
        let html = Table::new("T")
            .columns(vec![Column::sortable("name", "Name")])
            .state(TableState::from_query(&q, 10))
            .total(25)
            .link_base("/x", &q)
            .render()
            .into_string();
        assert!(html.contains("aria-sort=\"ascending\""), "{html}");
        assert!(
            html.contains("href=\"/x?sort=name&amp;order=desc\""),
            "{html}"
        );
        assert!(html.contains("Page 3 of 3"));
        assert!(
            html.contains("rel=\"prev\" href=\"/x?sort=name&amp;order=asc&amp;page=2\""),
            "{html}"
        );
        assert!(!html.contains("rel=\"next\""));
    }

    #[test]
    fn without_state_there_are_no_paging_links() {
        let html = Table::new("T")
            .columns(vec![Column::new("name", "Name")])
            .rows((0..30).map(|i| vec![html! { (i) }]))
            .total(30)
            .link_base("/x", &[])
            .render()
            .into_string();
        assert!(!html.contains("bl-paging"), "{html}");
        assert!(!html.contains("page=2"), "{html}");
        assert!(html.contains("<td>29</td>"), "{html}");
    }

    #[test]
    fn page_slice_clamps() {
        let state = TableState::from_query(&[("page".to_string(), "9".to_string())], 2);
        assert!(state.page_slice(&[1, 2, 3]).is_empty());
    }
}
