//! The stream page's read-only part as markup: the stream's facts, the tag table (state in
//! words, aliases folded, source and flags, `podman pull` commands for the portal's registry by
//! tag and by digest, and whether the image is mirrored locally), the timeline and each tag's
//! history.
//! Its buttons ("Import now", "Delete…", "Restore this image…") name what they act on in
//! `data-` attributes; `pages::stream::StreamPart` handles their clicks.
//!
//! Must not: call server functions or decide what a tag offers (that is `domain::views`).

use super::timeline::Timeline;
use crate::domain::plain::{count, import_reason_words};
use crate::domain::present::{ago, human_duration, parse_time};
use crate::domain::views::{TagState, TagView, change_words, image_labels, tag_views};
use crate::model::ImageStream;
use crate::transfer::types::{ImageStorage, ImportForm, RenderedPart, StreamFacts, StreamPageData};
use crate::widgets::{Ago, PullCommand, PullSpec, StorageNote, render_html, short_digest};
use leptos::prelude::*;
use std::collections::BTreeMap;

/// The page's read-only part as markup, and what its buttons need.
pub fn render(facts: &StreamFacts, all_history: bool) -> StreamPageData {
    let stream = &facts.stream;
    let ns = stream.namespace().to_string();
    let name = stream.metadata.name.clone();
    let import_forms = tag_views(stream)
        .into_iter()
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
    let (view_of, storage) = (stream.clone(), facts.storage.clone());
    let tags = tag_views(stream).into_iter().flat_map(|t| std::iter::once(t.name).chain(t.aliases)).collect();
    StreamPageData {
        tags,
        part: RenderedPart {
            html: render_html(move || view! { <StreamView stream=view_of storage all_history/> }),
            resource_version: stream.metadata.resource_version.clone().unwrap_or_default(),
        },
        import_forms,
    }
}

#[component]
fn StreamView(stream: ImageStream, storage: BTreeMap<String, ImageStorage>, all_history: bool) -> impl IntoView {
    let ns = stream.namespace().to_string();
    let name = stream.metadata.name.clone();
    let tags = tag_views(&stream);
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
        <h2>"Tags"</h2>
        {if tags.is_empty() {
            view! { <p class="empty">"No tags yet. Tag an image or import one below."</p> }.into_any()
        } else {
            view! { <TagTable ns=ns.clone() stream=name.clone() tags=tags.clone() storage/> }.into_any()
        }}
        <Timeline stream=timeline/>
        <h2>"History"</h2>
        {tags.into_iter().filter(|t| !t.history.is_empty()).map(|t| {
            let image_base = format!("/{ns}/{name}@");
            view! { <TagHistory tag=t all=all_history image_base/> }
        }).collect_view()}
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

/// The tag table. Its buttons are handled by the page's click handler: "Import now" names
/// the tag; "Delete…" shows the row's confirmation.
#[component]
fn TagTable(ns: String, stream: String, tags: Vec<TagView>, storage: BTreeMap<String, ImageStorage>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table aria-label="Tags" id="tags">
                <thead>
                    <tr>
                        <th scope="col">"Tag"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Source and policy"</th>
                        <th scope="col">"Pull"</th>
                        <th scope="col">"Updated"</th>
                        <th scope="col"><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {tags
                        .into_iter()
                        .map(|t| {
                            let import_now = t.offers_import_now();
                            let aliases = (!t.aliases.is_empty()).then(|| format!("({})", t.aliases.join(", ")));
                            let flags = flag_words(&t);
                            let updated = t.history.first().map(|h| h.created.clone());
                            let tag_label = t.name.clone();
                            let stored = t.pull.as_ref().map(|p| storage.get(&p.image).copied().unwrap_or_default());
                            let image_href = t.pull.as_ref().map(|p| format!("/{ns}/{stream}@{}", p.image));
                            let name_cell = match image_href {
                                Some(href) => view! { <a href=href>{t.name.clone()}</a> }.into_any(),
                                None => t.name.clone().into_any(),
                            };
                            view! {
                                <tr data-tag=t.name.clone()>
                                    <th scope="row">{name_cell}" "<span class="muted">{aliases}</span></th>
                                    <td>{state_view(&t.state)}</td>
                                    <td>{t.source.clone()}<br/><span class="muted small">{flags.join(" · ")}</span></td>
                                    <td class="pulls">
                                        {t.pull.clone().map(|p| view! {
                                            <PullCommand label=format!("{tag_label} by tag") spec=p.by_tag/>
                                            <PullCommand label=format!("{tag_label} by digest") spec=p.by_digest/>
                                        })}
                                        {stored.map(|storage| view! { <StorageNote storage/> })}
                                        {t.pull.is_none().then(|| view! { <span class="muted small">"No image yet: nothing to pull"</span> })}
                                    </td>
                                    <td>{updated.map(|u| view! { <Ago time=u/> })}</td>
                                    <td class="actions" data-confirm-scope>
                                        {t.history.first().filter(|h| !h.image.is_empty()).map(|h| {
                                            let label = format!("Tag this image as… (the image of {})", t.name);
                                            view! { <button type="button" data-act="tag-as" data-image=h.image.clone() aria-label=label>"Tag this image as…"</button> }
                                        })}
                                        {import_now.then(|| view! {
                                            <button type="button" data-act="import" data-tag=t.name.clone()>"Import now"</button>
                                        })}
                                        <button type="button" data-act="ask">"Delete…"</button>
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
                                <code class="small ref">{item.docker_image_reference.clone()}</code>
                                {can_restore.then(|| view! {
                                    <button type="button" class="restore" data-act="ask-restore" data-image=item.image.clone() data-item=(i + 1).to_string()>"Restore this image…"</button>
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
