//! The stream page's read-only part as markup: the stream's facts, the tag table (state in
//! words, aliases folded, source and flags, `podman pull` commands for the portal's registry by
//! tag and by digest, and whether the image is mirrored locally), the timeline and each tag's
//! history.
//! Its buttons ("Import now", "Delete…", "Restore this image…") name what they act on in
//! `data-` attributes; `pages::stream::StreamPart` handles their clicks.
//!
//! The tag table works at scale (issue 17 point 3) on the server: a filter box, sortable
//! columns and pages of 25 to 100 rows are links and GET forms (`domain::tag_table` reads
//! them from the address), so they work without JavaScript and can be shared; only the rows
//! of the page are rendered (with their histories below). The selection is a GET form that
//! asks for one confirmation (`?delete=a&delete=b`, rendered by `pages::stream`); with
//! JavaScript the page asks in place. "Delete…" and "Tag this image as…" are links to the same
//! steps, so no button is dead without JavaScript. At 390 px the rows become cards (CSS).
//!
//! Must not: call server functions or decide what a tag offers (that is `domain::views`).

use super::timeline::Timeline;
use crate::domain::plain::{count, import_reason_words};
use crate::domain::present::human_size;
use crate::domain::present::{ago, human_duration, parse_time};
use crate::domain::tag_order::version_cmp;
use crate::domain::tag_table::{PER_PAGE_CHOICES, TagPage, TagQuery, TagSort, tag_page};
use crate::domain::views::{TagState, TagView, change_words, image_labels, tag_views};
use crate::model::ImageStream;
use crate::transfer::types::{ImageStorage, ImageSummary, ImportForm, RenderedPart, StreamFacts, StreamPageData};
use crate::widgets::{Ago, PullCommand, PullSpec, StorageNote, query_value, render_html, short_digest};
use leptos::prelude::*;
use std::collections::BTreeMap;

/// The page's read-only part as markup, and what its buttons need.
pub fn render(facts: &StreamFacts, all_history: bool, table: &TagQuery) -> StreamPageData {
    let stream = &facts.stream;
    let ns = stream.namespace().to_string();
    let name = stream.metadata.name.clone();
    // What "Import now" imports, for the rows of the table's page only (the buttons there): a
    // stream with 500 tags must not send 500 forms to the browser.
    // The tags' views, made once for the whole page (a stream may have hundreds of tags).
    let views = tag_views(stream);
    let tags = views.iter().flat_map(|t| std::iter::once(t.name.clone()).chain(t.aliases.iter().cloned())).collect();
    let page = tag_page(views.clone(), table, |t| size_of(&facts.images, t));
    let import_forms = page
        .rows
        .into_iter()
        .filter(|t| t.offers_import_now())
        .filter_map(|t| {
            Some(ImportForm {
                namespace: ns.clone(),
                stream: name.clone(),
                from: t.import_from?,
                tag: t.name,
                all: false,
                scheduled: t.scheduled,
                insecure: t.insecure,
                import_mode: t.import_mode,
            })
        })
        .collect();
    let (view_of, storage, images, table) = (stream.clone(), facts.storage.clone(), facts.images.clone(), table.clone());
    StreamPageData {
        tags,
        part: RenderedPart {
            html: render_html(move || view! { <StreamView stream=view_of tags=views storage images table all_history/> }),
            resource_version: stream.metadata.resource_version.clone().unwrap_or_default(),
        },
        import_forms,
    }
}

#[component]
fn StreamView(
    stream: ImageStream,
    /// `tag_views(&stream)`, made by the caller.
    tags: Vec<TagView>,
    storage: BTreeMap<String, ImageStorage>,
    images: BTreeMap<String, ImageSummary>,
    table: TagQuery,
    all_history: bool,
) -> impl IntoView {
    let ns = stream.namespace().to_string();
    let name = stream.metadata.name.clone();
    let repo = stream.status.docker_image_repository.clone();
    let unique = image_labels(&stream).len();
    let title = format!("{ns}/{name}");
    // Every tag name once, aliases included: the catalog counts them the same way.
    let tag_count: usize = tags.iter().map(|t| 1 + t.aliases.len()).sum();
    let summary = format!(
        "{} · {} · generation {}",
        count(tag_count as u64, "tag"),
        count(unique as u64, "image"),
        stream.metadata.generation.unwrap_or(0)
    );
    let lookup = if stream.spec.lookup_policy.local {
        "On: pods in this namespace may name an image as stream:tag (local=true)"
    } else {
        "Off: use the full pull spec (local=false)"
    };
    let timeline = stream.clone();
    let hooks = format!("/webhooks/{ns}");
    view! {
        <h1>{title}</h1>
        <p class="muted">{summary}" · "<a href=hooks>"webhooks of this namespace"</a></p>
        <dl class="facts">
            <dt>"Pull repository"</dt>
            <dd><PullSpec label="repository" spec=repo/></dd>
            <dt>"Lookup by tag name"</dt>
            <dd>{lookup}</dd>
        </dl>
        <h2 id="tags-heading">"Tags"</h2>
        {if tags.is_empty() {
            view! { <p class="empty">"No tags yet. Tag an image or import one below."</p> }.into_any()
        } else {
            let page = tag_page(tags, &table, |t| size_of(&images, t));
            let histories = page.rows.clone();
            let several = page.rows.len() < page.total;
            // The timeline draws the lanes of the page's tags (and their aliases): 25 lanes of a
            // stream with 500 tags, not 500.
            let mut timeline = timeline;
            if several {
                let shown: std::collections::BTreeSet<&str> =
                    page.rows.iter().flat_map(|t| std::iter::once(t.name.as_str()).chain(t.aliases.iter().map(String::as_str))).collect();
                timeline.status.tags.retain(|l| shown.contains(l.tag.as_str()));
            }
            // Lanes in version order, as the table (`1.0.2` above `1.0.10`).
            timeline.status.tags.sort_by(|a, b| version_cmp(&a.tag, &b.tag));
            view! {
                <TagTable ns=ns.clone() stream=name.clone() page table storage images/>
                <Timeline stream=timeline/>
                <h2>{if several { "History of the tags on this page" } else { "History" }}</h2>
                {histories.into_iter().filter(|t| !t.history.is_empty()).map(|t| {
                    let image_base = format!("/{ns}/{name}@");
                    view! { <TagHistory tag=t all=all_history image_base/> }
                }).collect_view()}
            }
            .into_any()
        }}
    }
}

fn state_view(state: &TagState) -> impl IntoView + use<> {
    let class = match state {
        TagState::Current => "badge ok",
        TagState::ImportFailed { .. } => "badge bad",
        TagState::Importing => "badge busy",
        _ => "badge",
    };
    // The reason in words, the message as the registry or the importer said it, and when it
    // started failing on a line of its own.
    let detail = match state {
        TagState::ImportFailed { reason, message, since } => Some(view! {
            <span class="failure">
                <strong class="reason" title=reason.clone()>{import_reason_words(reason, message)}</strong>": "
                <span class="message">{message.clone()}</span>
            </span>
            <span class="since muted small"><time datetime=since.clone() title=since.clone()>{failing_for(since)}</time></span>
        }),
        _ => None,
    };
    view! { <span class=class>{state.label()}</span>{detail} }
}

/// "Failing for 5 minutes": how long an import has been failing, from its condition's time.
fn failing_for(since: &str) -> String {
    match parse_time(since) {
        Some(t) => {
            let d = human_duration(chrono::Utc::now() - t);
            let mut chars = d.chars();
            let lower: String = chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default();
            format!("Failing for {lower}")
        }
        None => "Failing".into(),
    }
}

/// A tag's flags in words (the upstream value in parentheses where people search for it).
fn flag_words(t: &TagView) -> Vec<String> {
    let mut flags = vec![match t.reference_policy.as_str() {
        "Local" => "pulled through this registry (reference policy Local)".to_string(),
        other => format!("pulled from the source registry (reference policy {other})"),
    }];
    if t.scheduled {
        flags.push("re-imported on a schedule".into());
    }
    if t.insecure {
        flags.push("insecure registry allowed".into());
    }
    if t.reference {
        flags.push("reference only, never imported".into());
    }
    if !t.import_mode.is_empty() && t.import_mode != "Legacy" {
        flags.push(format!("keeps the whole manifest list ({})", t.import_mode));
    }
    flags
}

/// The size of a tag's image, if stored.
fn size_of(images: &BTreeMap<String, ImageSummary>, t: &TagView) -> Option<i64> {
    t.history.first().and_then(|h| images.get(&h.image)).map(|i| i.size)
}

/// The platform column: "multi-arch ×N" for a manifest list, "single" for one image.
fn platform_words(summary: Option<&ImageSummary>) -> Option<String> {
    summary.map(|s| if s.platforms > 0 { format!("multi-arch ×{}", s.platforms) } else { "single".into() })
}

/// `?query` of a view of the table (`?` alone is no query: the page itself), ending at the table.
fn table_href(q: &TagQuery) -> String {
    format!("?{}#tags-heading", q.to_query())
}

/// A sortable column's header: a link that sorts by it (or reverses it), with `aria-sort`.
#[component]
fn SortHeader(table: TagQuery, column: TagSort, label: &'static str) -> impl IntoView {
    let active = table.sort == column;
    let aria = active.then_some(if table.descending { "descending" } else { "ascending" });
    let arrow = if !active {
        ""
    } else if table.descending {
        " ▼"
    } else {
        " ▲"
    };
    let href = table_href(&table.sorted_by(column));
    view! { <th scope="col" aria-sort=aria class=format!("sort-{}", column.key())><a href=href>{label}{arrow}</a></th> }
}

/// The tag table with its filter, pages and selection. Its buttons are handled by the page's
/// click handler: "Import now" names the tag; "Delete…" and "Tag this image as…" are links the
/// handler takes over (without JavaScript they load the confirmation or the prefilled form).
#[component]
fn TagTable(
    ns: String,
    stream: String,
    page: TagPage,
    table: TagQuery,
    storage: BTreeMap<String, ImageStorage>,
    images: BTreeMap<String, ImageSummary>,
) -> impl IntoView {
    let TagPage { rows, matching, total, page: shown_page, pages } = page;
    let first = (shown_page as usize - 1) * table.per_page as usize;
    let summary = if rows.is_empty() {
        format!("No tag matches “{}” ({} in all).", table.filter, count(total as u64, "tag"))
    } else {
        let of =
            if matching < total { format!("{matching} matching of {}", count(total as u64, "tag")) } else { count(total as u64, "tag") };
        format!("{}–{} of {of} · page {shown_page} of {pages}", first + 1, first + rows.len())
    };
    let prev = (shown_page > 1).then(|| table_href(&table.on_page(shown_page - 1)));
    let next = (shown_page < pages).then(|| table_href(&table.on_page(shown_page + 1)));
    let sort_value = table.sort_param();
    let per_options = PER_PAGE_CHOICES
        .into_iter()
        .map(|n| view! { <option value=n.to_string() selected=n == table.per_page>{n.to_string()}</option> })
        .collect_view();
    // The view the selection form keeps (it is a GET form to the confirmation).
    let keep =
        [("q", table.filter.clone()), ("sort", sort_value.clone()), ("per", table.per_page.to_string()), ("page", shown_page.to_string())];
    view! {
        <form method="get" class="search tag-filter" role="search" aria-label="Find tags" action="#tags-heading">
            <label for="tag-filter">"Filter tags"</label>
            <input id="tag-filter" name="q" type="search" value=table.filter.clone() placeholder="tag name or digest prefix"/>
            <input type="hidden" name="sort" value=sort_value/>
            <label for="tag-per-page">"Per page"</label>
            <select id="tag-per-page" name="per">{per_options}</select>
            <button type="submit">"Show"</button>
        </form>
        <p class="muted" id="tag-summary" role="status">{summary}</p>
        <form method="get" id="tag-selection" class="selection" action="#tags-confirm">
            {keep.into_iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| view! { <input type="hidden" name=k value=v/> }).collect_view()}
            <button type="submit" class="danger" data-act="ask-bulk">"Delete selected…"</button>
            <span class="muted small">" Tick tags in the table, then delete them with one confirmation."</span>
        </form>
        <p class="confirm card" id="bulk-confirm" role="group" aria-label="Confirm deleting the selected tags" hidden>
            <span class="confirm-label"></span>" "
            <button type="button" class="danger" data-act="bulk-delete">"Delete"</button>
            <button type="button" data-act="bulk-cancel">"Cancel"</button>
        </p>
        <div class="table-wrap">
            <table aria-label="Tags" id="tags" class="tags">
                <thead>
                    <tr>
                        <th scope="col" class="select"><span class="sr-only">"Select"</span></th>
                        <SortHeader table=table.clone() column=TagSort::Name label="Tag"/>
                        <th scope="col">"State"</th>
                        <th scope="col">"Image"</th>
                        <SortHeader table=table.clone() column=TagSort::Size label="Size"/>
                        <th scope="col">"Platform"</th>
                        <SortHeader table=table.clone() column=TagSort::Updated label="Updated"/>
                        <th scope="col">"Source and policy"</th>
                        <th scope="col">"Pull"</th>
                        <th scope="col"><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|t| {
                            let import_now = t.offers_import_now();
                            let aliases = (!t.aliases.is_empty()).then(|| format!("({})", t.aliases.join(", ")));
                            let flags = flag_words(&t);
                            let updated = t.history.first().map(|h| h.created.clone());
                            let tag_label = t.name.clone();
                            let head = t.history.first().map(|h| h.image.clone()).filter(|i| !i.is_empty());
                            let summary = head.as_ref().and_then(|i| images.get(i)).copied();
                            let size = summary.map(|s| human_size(s.size));
                            let platform = platform_words(summary.as_ref());
                            let stored = t.pull.as_ref().map(|p| storage.get(&p.image).copied().unwrap_or_default());
                            let image_href = head.as_ref().map(|i| format!("/{ns}/{stream}@{i}"));
                            let name_cell = match image_href.clone() {
                                Some(href) => view! { <a href=href class="tag-name">{t.name.clone()}</a> }.into_any(),
                                None => view! { <span class="tag-name">{t.name.clone()}</span> }.into_any(),
                            };
                            let image_cell = head.clone().zip(image_href).map(|(image, href)| {
                                let aria = format!("Copy the digest of {}: {image}", t.name);
                                view! {
                                    <span class="pullspec digest-cell">
                                        <a href=href class="digest" title=image.clone()><code>{short_digest(&image)}</code></a>
                                        <button type="button" class="copy" data-copy=image aria-label=aria>"Copy"</button>
                                    </span>
                                }
                            });
                            let select_label = format!("Select {}", t.name);
                            let delete_href = format!("?delete={}#tags-confirm", query_value(&t.name));
                            view! {
                                <tr data-tag=t.name.clone()>
                                    <td class="select"><input type="checkbox" form="tag-selection" name="delete" value=t.name.clone() aria-label=select_label/></td>
                                    <th scope="row" data-label="Tag">{name_cell}" "<span class="muted">{aliases}</span></th>
                                    <td data-label="State">{state_view(&t.state)}</td>
                                    <td data-label="Image">{image_cell}{head.is_none().then(|| view! { <span class="muted small">"none yet"</span> })}</td>
                                    <td data-label="Size" class="num">{size}</td>
                                    <td data-label="Platform">{platform}</td>
                                    <td data-label="Updated">{updated.map(|u| view! { <Ago time=u/> })}</td>
                                    <td data-label="Source">{t.source.clone()}<br/><span class="muted small">{flags.join(" · ")}</span></td>
                                    <td class="pulls" data-label="Pull">
                                        {t.pull.clone().map(|p| view! {
                                            <PullCommand label=format!("{tag_label} by tag") spec=p.by_tag/>
                                            <PullCommand label=format!("{tag_label} by digest") spec=p.by_digest/>
                                        })}
                                        {stored.map(|storage| view! { <StorageNote storage/> })}
                                        {t.pull.is_none().then(|| view! { <span class="muted small">"No image yet: nothing to pull"</span> })}
                                    </td>
                                    <td class="actions" data-confirm-scope>
                                        {head.clone().map(|image| {
                                            let label = format!("Tag this image as… (the image of {})", t.name);
                                            let href = format!("?source={}#tag-form", query_value(&image));
                                            view! { <a class="button" href=href data-act="tag-as" data-image=image aria-label=label>"Tag this image as…"</a> }
                                        })}
                                        {import_now.then(|| view! {
                                            <button type="button" class="js-only" data-act="import" data-tag=t.name.clone()>"Import now"</button>
                                        })}
                                        <a class="button" href=delete_href data-act="ask">"Delete…"</a>
                                        <span class="confirm" hidden>
                                            <button type="button" class="danger" data-act="delete" data-tag=t.name.clone()>"Confirm delete"</button>
                                            <button type="button" data-act="cancel">"Cancel"</button>
                                        </span>
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
        <nav class="pager" aria-label="Pages of tags">
            {prev.map(|h| view! { <a href=h rel="prev">"← Previous"</a> })}
            {next.map(|h| view! { <a href=h rel="next">"Next →"</a> })}
        </nav>
    }
}

/// History items a tag shows before "Show all".
const HISTORY_PAGE: usize = 50;

/// One tag's history, newest first. Items carry a plain "Restore this image…" button; the
/// history's one confirmation (hidden until asked) sits below the list, so long histories
/// stay light.
#[component]
fn TagHistory(tag: TagView, all: bool, image_base: String) -> impl IntoView {
    let items = tag.history.clone();
    let now = chrono::Utc::now();
    // Long histories show their newest items; all of them on request (`?history=all`), like
    // the paged tag histories of Quay and Harbor. The lanes above always draw every item.
    let shown = if all { items.len() } else { items.len().min(HISTORY_PAGE) };
    let more = (shown < items.len()).then(|| {
        let href = format!("?history=all#history-{}", tag.name);
        let text = format!("Show all {} items (the newest {shown} are shown)", items.len());
        // A full page load (the router would keep this page): the server renders every item.
        view! { <p class="more"><a href=href rel="external">{text}</a></p> }
    });
    let title = format!("{} ({} {})", tag.name, items.len(), if items.len() == 1 { "item" } else { "items" });
    view! {
        <details class="history" id=format!("history-{}", tag.name) data-history=tag.name.clone() data-confirm-scope open=items.len() <= 5 || all>
            <summary>{title}</summary>
            <ol class="timeline">
                {items
                    .iter()
                    .take(shown)
                    .enumerate()
                    .map(|(i, item)| {
                        let words = format!("{}, generation {}", change_words(item, items.get(i + 1)), item.generation);
                        let can_restore = i > 0 && !item.image.is_empty();
                        let ago = ago(&item.created, now);
                        let image = if item.image.is_empty() {
                            view! { <span>"no image"</span> }.into_any()
                        } else {
                            // The image page under this stream, so its breadcrumb leads back here.
                            let href = format!("{image_base}{}", item.image);
                            view! { <a href=href class="digest"><code>{short_digest(&item.image)}</code></a> }.into_any()
                        };
                        view! {
                            <li class=if i == 0 { "item head" } else { "item" }>
                                <time datetime=item.created.clone()>{ago}</time>
                                " · "{image}
                                " · "<span class="muted">{words}</span>
                                <code class="small ref" title=item.docker_image_reference.clone()>{item.docker_image_reference.clone()}</code>
                                {can_restore.then(|| view! {
                                    <button type="button" class="restore js-only" data-act="ask-restore" data-image=item.image.clone() data-item=(i + 1).to_string()>"Restore this image…"</button>
                                })}
                            </li>
                        }
                    })
                    .collect_view()}
            </ol>
            {more}
            <p class="confirm" role="group" aria-label="Confirm restore" hidden>
                <span class="confirm-label"></span>
                <button type="button" class="primary" data-act="restore" data-tag=tag.name.clone()>"Restore"</button>
                <button type="button" data-act="cancel">"Cancel"</button>
            </p>
        </details>
    }
}
