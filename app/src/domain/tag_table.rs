//! The stream page's tag table at scale (issue 17 point 3): which tags a page of the table
//! shows, for a filter, a sort column and direction, and a page of 25 to 100 rows. It is read
//! from and written to the page's query (`?q=…&sort=-updated&page=2&per=50`), so the table
//! filters, sorts and pages on the server, works without JavaScript, and every view of it is a
//! link that can be shared. Names sort as versions ([`version_cmp`]: `1.0.2` before `1.0.10`).
//!
//! Must not: render, read the stream's images (their sizes come in as a function), or decide
//! what a tag offers (that is `views`).

use super::tag_order::version_cmp;
use crate::domain::views::TagView;
use std::cmp::Ordering;

/// The page sizes offered; a query asking for another is brought into this range.
pub const PER_PAGE_CHOICES: [u32; 3] = [25, 50, 100];
/// Rows per page when the query names none.
pub const DEFAULT_PER_PAGE: u32 = 25;

/// The column the table is sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TagSort {
    /// Version order of the names (the default).
    #[default]
    Name,
    /// When the tag last moved.
    Updated,
    /// The size of the tag's image.
    Size,
}

impl TagSort {
    pub fn key(self) -> &'static str {
        match self {
            TagSort::Name => "name",
            TagSort::Updated => "updated",
            TagSort::Size => "size",
        }
    }

    /// The direction a click on the column's header sorts first: names A→Z, the newest and
    /// the largest first.
    pub fn first_descending(self) -> bool {
        !matches!(self, TagSort::Name)
    }
}

/// One view of the tag table, as the page's query says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagQuery {
    /// Part of a tag (or alias) name, or a digest prefix of its image; case-insensitive.
    pub filter: String,
    pub sort: TagSort,
    pub descending: bool,
    /// 1-based; past the last page reads as the last page.
    pub page: u32,
    pub per_page: u32,
}

impl Default for TagQuery {
    fn default() -> Self {
        TagQuery { filter: String::new(), sort: TagSort::Name, descending: false, page: 1, per_page: DEFAULT_PER_PAGE }
    }
}

impl TagQuery {
    /// Reads the query parameters `q`, `sort` (`name`, `updated`, `size`, `-` in front for
    /// descending), `page` and `per`. Anything unreadable falls back to the default; `per` is
    /// brought into 25..=100.
    pub fn from_params(q: Option<&str>, sort: Option<&str>, page: Option<&str>, per: Option<&str>) -> TagQuery {
        let sort = sort.unwrap_or_default();
        let (descending, key) = match sort.strip_prefix('-') {
            Some(k) => (true, k),
            None => (false, sort),
        };
        let sort = match key {
            "updated" => Some(TagSort::Updated),
            "size" => Some(TagSort::Size),
            "name" => Some(TagSort::Name),
            _ => None,
        };
        let per_page = per.and_then(|p| p.parse::<u32>().ok()).unwrap_or(DEFAULT_PER_PAGE).clamp(PER_PAGE_CHOICES[0], PER_PAGE_CHOICES[2]);
        TagQuery {
            filter: q.unwrap_or_default().trim().to_string(),
            descending: sort.is_some() && descending,
            sort: sort.unwrap_or_default(),
            page: page.and_then(|p| p.parse::<u32>().ok()).unwrap_or(1).max(1),
            per_page,
        }
    }

    /// The `sort` parameter of this view (`-updated`).
    pub fn sort_param(&self) -> String {
        format!("{}{}", if self.descending { "-" } else { "" }, self.sort.key())
    }

    /// The query string of this view (without `?`), leaving defaults out so links stay short.
    pub fn to_query(&self) -> String {
        let mut parts = vec![];
        if !self.filter.is_empty() {
            parts.push(format!("q={}", encode(&self.filter)));
        }
        if self.sort != TagSort::Name || self.descending {
            parts.push(format!("sort={}", self.sort_param()));
        }
        if self.per_page != DEFAULT_PER_PAGE {
            parts.push(format!("per={}", self.per_page));
        }
        if self.page > 1 {
            parts.push(format!("page={}", self.page));
        }
        parts.join("&")
    }

    /// The view after a click on `column`'s header: that column, in the other direction when it
    /// is already the sort column, from the first page.
    pub fn sorted_by(&self, column: TagSort) -> TagQuery {
        let descending = if self.sort == column { !self.descending } else { column.first_descending() };
        TagQuery { sort: column, descending, page: 1, ..self.clone() }
    }

    /// The same view on page `page`.
    pub fn on_page(&self, page: u32) -> TagQuery {
        TagQuery { page, ..self.clone() }
    }
}

/// Percent-encodes a query value (the filter is typed by people).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What a page of the table shows.
#[derive(Clone, Debug, PartialEq)]
pub struct TagPage {
    /// The rows of this page, in order.
    pub rows: Vec<TagView>,
    /// Tags (rows) matching the filter.
    pub matching: usize,
    /// Rows of the whole table.
    pub total: usize,
    /// The page shown (the query's, or the last one if it asked past the end).
    pub page: u32,
    pub pages: u32,
}

/// Whether the tag matches the filter: part of its name or an alias's, or a prefix of its
/// image's digest (with or without `sha256:`).
pub fn matches(tag: &TagView, filter: &str) -> bool {
    if filter.is_empty() {
        return true;
    }
    let f = filter.to_lowercase();
    let named = std::iter::once(&tag.name).chain(&tag.aliases).any(|n| n.to_lowercase().contains(&f));
    let image = tag.history.first().map(|h| h.image.as_str()).unwrap_or_default();
    let hex = image.split_once(':').map(|(_, h)| h).unwrap_or(image);
    let by_digest = !image.is_empty() && (image.starts_with(&f) || (f.len() >= 4 && hex.starts_with(&f)));
    named || by_digest
}

/// The page `query` asks for of `tags`: filtered, sorted (ties by name, in version order) and
/// cut. `size_of` answers the size of a tag's image, if known (unknown sizes sort last).
pub fn tag_page(tags: Vec<TagView>, query: &TagQuery, size_of: impl Fn(&TagView) -> Option<i64>) -> TagPage {
    let total = tags.len();
    let mut rows: Vec<TagView> = tags.into_iter().filter(|t| matches(t, &query.filter)).collect();
    let updated = |t: &TagView| t.history.first().map(|h| h.created.clone());
    let by_name = |a: &TagView, b: &TagView| version_cmp(&a.name, &b.name);
    let flip = |o: Ordering| if query.descending { o.reverse() } else { o };
    match query.sort {
        TagSort::Name => rows.sort_by(|a, b| flip(by_name(a, b))),
        // RFC 3339 times in UTC compare as text; tags that never moved go last either way.
        TagSort::Updated => rows = sort_keyed(rows, updated, flip, by_name),
        TagSort::Size => rows = sort_keyed(rows, size_of, flip, by_name),
    }
    let matching = rows.len();
    let per = query.per_page.max(1) as usize;
    let pages = matching.div_ceil(per).max(1) as u32;
    let page = query.page.clamp(1, pages);
    let rows = rows.into_iter().skip((page as usize - 1) * per).take(per).collect();
    TagPage { rows, matching, total, page, pages }
}

/// Rows by `key` (in `flip`'s direction, ties by name); rows without a key go last either way.
fn sort_keyed<K: Ord>(
    rows: Vec<TagView>,
    key: impl Fn(&TagView) -> Option<K>,
    flip: impl Fn(Ordering) -> Ordering,
    by_name: impl Fn(&TagView, &TagView) -> Ordering,
) -> Vec<TagView> {
    let mut keyed: Vec<(Option<K>, TagView)> = rows.into_iter().map(|t| (key(&t), t)).collect();
    keyed.sort_by(|(x, a), (y, b)| match (x, y) {
        (Some(x), Some(y)) => flip(x.cmp(y)).then_with(|| by_name(a, b)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => by_name(a, b),
    });
    keyed.into_iter().map(|(_, t)| t).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::views::TagState;
    use crate::model::TagEvent;

    fn tag(name: &str, created: Option<&str>, image: &str) -> TagView {
        TagView {
            name: name.into(),
            aliases: vec![],
            state: TagState::Current,
            source: None,
            import_from: None,
            reference_policy: "Source".into(),
            scheduled: false,
            insecure: false,
            reference: false,
            import_mode: String::new(),
            pull: None,
            history: created.map(|c| vec![TagEvent { created: c.into(), image: image.into(), ..Default::default() }]).unwrap_or_default(),
        }
    }

    fn names(p: &TagPage) -> Vec<&str> {
        p.rows.iter().map(|t| t.name.as_str()).collect()
    }

    #[test]
    fn queries_read_and_write_the_page_address() {
        let q = TagQuery::from_params(Some(" 1.0 "), Some("-updated"), Some("3"), Some("50"));
        assert_eq!(q, TagQuery { filter: "1.0".into(), sort: TagSort::Updated, descending: true, page: 3, per_page: 50 });
        assert_eq!(q.to_query(), "q=1.0&sort=-updated&per=50&page=3");
        assert_eq!(TagQuery::from_params(None, None, None, None), TagQuery::default());
        assert_eq!(TagQuery::default().to_query(), "");
        // Out of range or unreadable: brought back into range, or the default.
        assert_eq!(TagQuery::from_params(None, Some("-bogus"), Some("0"), Some("1000")).per_page, 100);
        assert_eq!(TagQuery::from_params(None, Some("-bogus"), Some("x"), Some("1")), TagQuery { per_page: 25, ..Default::default() });
        assert_eq!(TagQuery::from_params(Some("a b&c"), None, None, None).to_query(), "q=a%20b%26c");
    }

    #[test]
    fn header_clicks_sort_then_reverse_from_the_first_page() {
        let q = TagQuery { page: 4, ..Default::default() };
        let by_updated = q.sorted_by(TagSort::Updated);
        assert_eq!((by_updated.sort, by_updated.descending, by_updated.page), (TagSort::Updated, true, 1), "newest first");
        assert!(!by_updated.sorted_by(TagSort::Updated).descending, "a second click reverses");
        assert!(q.sorted_by(TagSort::Name).descending, "names were A→Z: now Z→A");
        assert!(q.sorted_by(TagSort::Size).descending, "largest first");
    }

    #[test]
    fn names_sort_as_versions_and_pages_cut_the_list() {
        let tags: Vec<TagView> = (1..=60).map(|i| tag(&format!("1.0.{i}"), Some("2026-01-01T00:00:00Z"), "")).collect();
        let p = tag_page(tags.clone(), &TagQuery::default(), |_| None);
        assert_eq!((p.matching, p.total, p.page, p.pages, p.rows.len()), (60, 60, 1, 3, 25));
        assert_eq!(&names(&p)[..3], ["1.0.1", "1.0.2", "1.0.3"], "1.0.2 before 1.0.10");
        let last = tag_page(tags.clone(), &TagQuery { page: 9, ..Default::default() }, |_| None);
        assert_eq!((last.page, last.rows.len()), (3, 10), "past the end reads as the last page");
        assert_eq!(names(&last)[9], "1.0.60");
        let desc = tag_page(tags, &TagQuery { descending: true, per_page: 100, ..Default::default() }, |_| None);
        assert_eq!((desc.rows.len(), names(&desc)[0]), (60, "1.0.60"));
    }

    #[test]
    fn filters_match_names_aliases_and_digest_prefixes() {
        let mut aliased = tag("prod", Some("2026-01-01T00:00:00Z"), "sha256:abcdef0123");
        aliased.aliases = vec!["Stable".into()];
        let tags = vec![aliased, tag("1.0.2", Some("2026-01-02T00:00:00Z"), "sha256:99990000"), tag("pending", None, "")];
        let f = |q: &str| names(&tag_page(tags.clone(), &TagQuery { filter: q.into(), ..Default::default() }, |_| None)).join(",");
        assert_eq!(f("stable"), "prod", "an alias, case-insensitive");
        assert_eq!(f("abcd"), "prod", "a digest prefix without sha256:");
        assert_eq!(f("sha256:9999"), "1.0.2");
        assert_eq!(f("abc"), "", "short hex is not read as a digest");
        assert_eq!(f("en"), "pending");
        assert_eq!(tag_page(tags.clone(), &TagQuery { filter: "x".into(), ..Default::default() }, |_| None).total, 3);
    }

    #[test]
    fn updated_and_size_put_unknowns_last() {
        let tags = vec![
            tag("a", Some("2026-01-01T00:00:00Z"), "sha256:1"),
            tag("b", None, ""),
            tag("c", Some("2026-03-01T00:00:00Z"), "sha256:3"),
            tag("d", Some("2026-02-01T00:00:00Z"), "sha256:2"),
        ];
        let sorted = |q: TagQuery| {
            names(&tag_page(tags.clone(), &q, |t| t.history.first().map(|h| h.image.len() as i64 * 10 + t.name.len() as i64))).join(",")
        };
        let newest = TagQuery::default().sorted_by(TagSort::Updated);
        assert_eq!(sorted(newest.clone()), "c,d,a,b");
        assert_eq!(sorted(newest.sorted_by(TagSort::Updated)), "a,d,c,b", "oldest first, never-moved still last");
        let size = |t: &TagView| match t.name.as_str() {
            "a" => Some(5),
            "c" => Some(50),
            "d" => Some(50),
            _ => None,
        };
        let largest = tag_page(tags.clone(), &TagQuery::default().sorted_by(TagSort::Size), size);
        assert_eq!(names(&largest).join(","), "c,d,a,b", "ties by name, unknown last");
    }
}
