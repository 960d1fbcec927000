//! The stream page (`/ns/:ns/:stream`): every tag with its state in words, aliases folded into
//! their target, pull specs with copy buttons, source and flags; the stream's timeline (one
//! lane per tag); each tag's history with "restore this image"; and the tag and import forms.
//!
//! The read-only part (facts, tag table, timeline, histories) is rendered on the server
//! ([`render`]) and placed as markup; the browser build carries only the forms and one click
//! handler for the buttons inside that markup (they name what they act on in `data-` attributes).

use crate::api::{
    ApiFailure, ImportForm, ImportJob, RenderedPart, StreamPageData, TagForm, delete_stream, delete_tag, get_import_job, get_stream,
    import_images, start_import, tag_image,
};
use crate::components::{Failure, Live, Rendered, announce_change, clicked, field_error, refresh_on_change, reload_to, short_digest};
use crate::domain::tag_command::{TagArgs, plan_tag};
#[cfg(feature = "ssr")]
use crate::{
    components::{Ago, PullSpec},
    domain::views::{TagState, TagView, change_words, image_labels, tag_views},
    model::{ImageStream, TagEvent},
};
use leptos::prelude::*;
use leptos::web_sys::Element;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn StreamPage() -> impl IntoView {
    let (ns, name) = use_params_map().with_untracked(|p| (p.get("ns").unwrap_or_default(), p.get("stream").unwrap_or_default()));
    // Long histories show their newest items; all of them on request (`?history=all`).
    let all = use_query_map().with_untracked(|q| q.get("history").is_some_and(|h| h == "all"));
    let (ns2, name2) = (ns.clone(), name.clone());
    view! {
        <nav aria-label="Breadcrumb" class="crumbs"><a href="/">"Catalog"</a>" / "{ns.clone()}" / "{name.clone()}</nav>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {Suspend::new(async move {
                match get_stream(ns2.clone(), name2.clone(), all).await {
                    Ok(StreamPageData { part: RenderedPart { html, resource_version }, import_forms }) => view! {
                        <Live namespace=ns2.clone() name=name2.clone() since=Some(resource_version)/>
                        <StreamPart ns=ns2.clone() name=name2.clone() all import_forms><Rendered html/></StreamPart>
                        <DeleteStream ns=ns2 stream=name2/>
                    }
                    .into_any(),
                    Err(e) => view! { <h1>{name2}</h1><Failure failure=e/> }.into_any(),
                }
            })}
        </Suspense>
        // The forms live outside the re-read part, so their results stay on screen.
        <section class="forms" aria-label="Actions">
            <TagFormView ns=ns.clone() stream=name.clone()/>
            <ImportFormView ns stream=name/>
        </section>
    }
}

/// The stream's read-only part (rendered on the server, read again on every change) with the
/// handler of the buttons inside it: "Delete…", "Import now" and "Restore this image…".
#[island]
fn StreamPart(ns: String, name: String, all: bool, import_forms: Vec<ImportForm>, children: Children) -> impl IntoView {
    // What "Import now" imports; read again with the part, since tags come and go.
    let import_forms = RwSignal::new(import_forms);
    let target = NodeRef::new();
    let (ns_read, name_read) = (ns.clone(), name.clone());
    refresh_on_change(target, move || {
        let read = get_stream(ns_read.clone(), name_read.clone(), all);
        async move {
            let data = read.await?;
            import_forms.set(data.import_forms);
            Ok(data.part.html)
        }
    });
    let delete = Action::new(move |(ns, stream, tag): &(String, String, String)| {
        let (ns, stream, tag) = (ns.clone(), stream.clone(), tag.clone());
        async move { delete_tag(ns, stream, tag).await }
    });
    let reimport = Action::new(move |form: &ImportForm| {
        let form = form.clone();
        async move { import_images(form).await }
    });
    let restore = Action::new(move |form: &TagForm| {
        let form = form.clone();
        async move { tag_image(form).await }
    });
    Effect::new(move |_| {
        let (d, i, r) = (delete.value().get(), reimport.value().get(), restore.value().get());
        if d.is_some() || i.is_some() || r.is_some() {
            announce_change();
        }
    });
    let on_click = move |ev: leptos::ev::MouseEvent| {
        let Some((button, act)) = clicked(&ev, "data-act") else { return };
        let attr = |n: &str| button.get_attribute(n).unwrap_or_default();
        match act.as_str() {
            "delete" => {
                delete.dispatch((ns.clone(), name.clone(), attr("data-tag")));
            }
            "import" => {
                if let Some(f) = import_forms.with_untracked(|forms| forms.iter().find(|f| f.tag == attr("data-tag")).cloned()) {
                    reimport.dispatch(f);
                }
            }
            "restore" => {
                restore.dispatch(restore_form(&ns, &name, &attr("data-tag"), &attr("data-image")));
                confirm(&button, false);
            }
            "ask-restore" => ask_restore(&button),
            "ask" => confirm(&button, true),
            "cancel" => confirm(&button, false),
            _ => {}
        }
    };
    view! {
        <div class="rendered" node_ref=target on:click=on_click>{children()}</div>
        {move || match delete.value().get() {
            Some(Err(e)) => Some(view! { <Failure failure=e/> }.into_any()),
            _ => None,
        }}
        {move || match (reimport.value().get(), restore.value().get()) {
            (Some(Err(e)), _) | (_, Some(Err(e))) => Some(view! { <Failure failure=e/> }.into_any()),
            (Some(Ok(m)), _) | (_, Some(Ok(m))) => Some(view! { <p class="ok" role="status">{m}</p> }.into_any()),
            _ => None,
        }}
    }
}

/// "Make the tag a permanent tag of this image again": a tag to `<stream>@<digest>`.
fn restore_form(ns: &str, stream: &str, tag: &str, image: &str) -> TagForm {
    TagForm {
        namespace: ns.to_string(),
        source: format!("{stream}@{image}"),
        destination: format!("{stream}:{tag}"),
        mode: "permanent".into(),
        reference_policy: "source".into(),
        import_mode: String::new(),
        scheduled: false,
        insecure: false,
    }
}

/// Shows (or hides) the confirmation next to `button`: a `.confirm` sibling in the same
/// `[data-confirm-scope]`, with the asking button hidden meanwhile.
fn confirm(button: &Element, show: bool) {
    let Some(scope) = button.closest("[data-confirm-scope]").ok().flatten() else { return };
    if let Ok(Some(c)) = scope.query_selector(".confirm") {
        let _ = if show { c.remove_attribute("hidden") } else { c.set_attribute("hidden", "") };
    }
    if let Ok(Some(ask)) = scope.query_selector("[data-act=ask]") {
        let _ = if show { ask.set_attribute("hidden", "") } else { ask.remove_attribute("hidden") };
    }
}

/// "Restore this image…" of a history item: the history's one confirmation names the item and
/// carries its image to the "Restore" button.
fn ask_restore(button: &Element) {
    let Some(history) = button.closest("[data-confirm-scope]").ok().flatten() else { return };
    let (Ok(Some(label)), Ok(Some(go))) = (history.query_selector(".confirm-label"), history.query_selector("[data-act=restore]")) else {
        return;
    };
    let image = button.get_attribute("data-image").unwrap_or_default();
    let item = button.get_attribute("data-item").unwrap_or_default();
    let tag = go.get_attribute("data-tag").unwrap_or_default();
    label.set_text_content(Some(&format!("Make {tag} point at {} (item {item} of the history) again? ", short_digest(&image))));
    let _ = go.set_attribute("data-image", &image);
    confirm(button, true);
}

/// The page's read-only part as markup, and what its buttons need (server side).
#[cfg(feature = "ssr")]
pub fn render(stream: &ImageStream, all_history: bool) -> StreamPageData {
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
    let view_of = stream.clone();
    StreamPageData {
        part: RenderedPart {
            html: crate::components::render_html(move || view! { <StreamView stream=view_of all_history/> }),
            resource_version: stream.metadata.resource_version.clone().unwrap_or_default(),
        },
        import_forms,
    }
}

#[cfg(feature = "ssr")]
#[component]
fn StreamView(stream: ImageStream, all_history: bool) -> impl IntoView {
    let ns = stream.namespace().to_string();
    let name = stream.metadata.name.clone();
    let tags = tag_views(&stream);
    let repo = stream.status.docker_image_repository.clone();
    let unique = image_labels(&stream).len();
    let title = format!("{ns}/{name}");
    let summary = format!("{} tags · {} images · generation {}", tags.len(), unique, stream.metadata.generation.unwrap_or(0));
    let timeline = stream.clone();
    let hooks = format!("/webhooks/{ns}");
    view! {
        <h1>{title}</h1>
        <p class="muted">{summary}" · "<a href=hooks>"webhooks of this namespace"</a></p>
        <dl class="facts">
            <dt>"Pull repository"</dt>
            <dd><PullSpec label="repository" spec=repo/></dd>
            <dt>"Image lookup"</dt>
            <dd>{format!("local={}", stream.spec.lookup_policy.local)}</dd>
        </dl>
        <h2>"Tags"</h2>
        {if tags.is_empty() {
            view! { <p class="empty">"No tags yet. Tag an image or import one below."</p> }.into_any()
        } else {
            view! { <TagTable tags=tags.clone()/> }.into_any()
        }}
        <Timeline stream=timeline/>
        <h2>"History"</h2>
        {tags.into_iter().filter(|t| !t.history.is_empty()).map(|t| view! { <TagHistory tag=t all=all_history/> }).collect_view()}
    }
}

/// Deletes the whole stream (tags and history; images stay until pruned), then goes to the catalog.
#[island]
fn DeleteStream(ns: String, stream: String) -> impl IntoView {
    let confirm = RwSignal::new(false);
    let act = Action::new(move |(ns, stream): &(String, String)| {
        let (ns, stream) = (ns.clone(), stream.clone());
        async move { delete_stream(ns, stream).await }
    });
    Effect::new(move |_| {
        if matches!(act.value().get(), Some(Ok(()))) {
            reload_to("/");
        }
    });
    let key = (ns, stream);
    view! {
        <div class="danger-zone">
            <Show when=move || confirm.get() fallback=move || view! {
                <button type="button" class="danger" on:click=move |_| confirm.set(true)>"Delete stream…"</button>
            }>
                {
                    let key = key.clone();
                    view! {
                        <span class="confirm">"Delete the stream with all its tags and history? "
                            <button type="button" class="danger" on:click=move |_| { act.dispatch(key.clone()); }>"Delete stream"</button>
                            <button type="button" on:click=move |_| confirm.set(false)>"Cancel"</button>
                        </span>
                    }
                }
            </Show>
            {move || match act.value().get() {
                Some(Err(e)) => Some(view! { <Failure failure=e/> }.into_any()),
                _ => None,
            }}
        </div>
    }
}

#[cfg(feature = "ssr")]
fn state_view(state: &TagState) -> impl IntoView + use<> {
    let class = match state {
        TagState::Current => "badge ok",
        TagState::ImportFailed { .. } => "badge bad",
        TagState::Importing => "badge busy",
        _ => "badge",
    };
    let detail = match state {
        TagState::ImportFailed { reason, message, since } => Some(view! {
            <span class="failure">{format!("{reason}: {message}")}" "<Ago time=since.clone()/></span>
        }),
        _ => None,
    };
    view! { <span class=class>{state.label()}</span>{detail} }
}

/// The tag table. Its buttons are handled by the page's click handler: "Import now" names
/// the tag; "Delete…" shows the row's confirmation.
#[cfg(feature = "ssr")]
#[component]
fn TagTable(tags: Vec<TagView>) -> impl IntoView {
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
                            let aliases = (!t.aliases.is_empty()).then(|| format!("({})", t.aliases.join(", ")));
                            let mut flags = vec![format!("reference policy {}", t.reference_policy)];
                            if t.scheduled { flags.push("scheduled".into()); }
                            if t.insecure { flags.push("insecure".into()); }
                            if t.reference { flags.push("reference".into()); }
                            if !t.import_mode.is_empty() && t.import_mode != "Legacy" { flags.push(t.import_mode.clone()); }
                            let updated = t.history.first().map(|h| h.created.clone());
                            let tag_label = t.name.clone();
                            view! {
                                <tr data-tag=t.name.clone()>
                                    <th scope="row">{t.name.clone()}" "<span class="muted">{aliases}</span></th>
                                    <td>{state_view(&t.state)}</td>
                                    <td>{t.source.clone()}<br/><span class="muted small">{flags.join(" · ")}</span></td>
                                    <td class="pulls">
                                        {(!t.pull_by_tag.is_empty()).then(|| view! { <PullSpec label=format!("{} by tag", tag_label) spec=t.pull_by_tag.clone()/> })}
                                        {t.pull_by_digest.clone().map(|d| view! { <PullSpec label=format!("{} by digest", tag_label) spec=d/> })}
                                    </td>
                                    <td>{updated.map(|u| view! { <Ago time=u/> })}</td>
                                    <td class="actions" data-confirm-scope>
                                        {t.offers_import_now().then(|| view! {
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
#[cfg(feature = "ssr")]
const HISTORY_PAGE: usize = 50;

/// One tag's history, newest first. Items carry a plain "Restore this image…" button; the
/// history's one confirmation (hidden until asked) sits below the list, so long histories
/// stay light.
#[cfg(feature = "ssr")]
#[component]
fn TagHistory(tag: TagView, all: bool) -> impl IntoView {
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
                        let ago = crate::domain::present::ago(&item.created, now);
                        let image = if item.image.is_empty() {
                            view! { <span>"no image"</span> }.into_any()
                        } else {
                            let href = format!("/images/{}", item.image);
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

/// A picture of all tags over time: one lane per tag, a dot per history item, coloured by image,
/// so tags sharing an image share a colour.
#[cfg(feature = "ssr")]
#[component]
fn Timeline(stream: ImageStream) -> impl IntoView {
    let labels = image_labels(&stream);
    let lanes: Vec<(String, Vec<TagEvent>)> =
        stream.status.tags.iter().filter(|l| !l.items().is_empty()).map(|l| (l.tag.clone(), l.items().to_vec())).collect();
    if lanes.is_empty() {
        return view! { <span></span> }.into_any();
    }
    let times: Vec<i64> = lanes
        .iter()
        .flat_map(|(_, items)| items.iter().filter_map(|i| crate::domain::present::parse_time(&i.created).map(|t| t.timestamp())))
        .collect();
    let (min, max) = (times.iter().copied().min().unwrap_or(0), times.iter().copied().max().unwrap_or(0));
    // Whole pixels throughout: the lanes need no finer resolution, and integer formatting keeps
    // float printing out of the browser build.
    let span = (max - min).max(1);
    let (left, width, lane_h): (i64, i64, i64) = (120, 600, 28);
    let height = lane_h * lanes.len() as i64 + 10;
    let color = |image: &str| {
        let h: u32 = image.bytes().fold(7u32, |a, b| a.wrapping_mul(31).wrapping_add(b as u32)) % 360;
        format!("hsl({h} 65% 45%)")
    };
    let view_box = format!("0 0 {} {}", left + width + 20, height);
    view! {
        <h2>"Timeline"</h2>
        <figure class="timeline-figure">
            <svg viewBox=view_box role="img" aria-label="Tag timeline: one lane per tag, one dot per image the tag pointed at" class="lanes">
                {lanes
                    .iter()
                    .enumerate()
                    .map(|(row, (tag, items))| {
                        let y = lane_h * row as i64 + lane_h / 2 + 5;
                        view! {
                            <g>
                                <text x="4" y=y + 4 class="lane-label">{tag.clone()}</text>
                                <line x1=left y1=y x2=left + width y2=y class="lane"/>
                                {dots(items, min, span, left, width)
                                    .into_iter()
                                    .map(|d| {
                                        let i = &items[d.newest];
                                        let label = labels.get(&i.image).cloned().unwrap_or_else(|| "reference".into());
                                        let title = if d.count == 1 {
                                            format!("{tag} → {} at {}", short_digest(&i.image), i.created)
                                        } else {
                                            format!("{tag} → {} at {} (and {} older moves here)", short_digest(&i.image), i.created, d.count - 1)
                                        };
                                        // Short histories get a label per dot; longer ones a tooltip; the longest
                                        // (dots closer than a tooltip can be aimed at) neither: their history
                                        // list below says it all.
                                        let label = (items.len() <= 20).then(|| view! { <text x=d.x + 9 y=y - 8 class="dot-label">{label}</text> });
                                        let title = (items.len() <= 200).then(|| view! { <title>{title}</title> });
                                        view! { <circle cx=d.x cy=y r="7" fill=color(&i.image)>{title}</circle>{label} }
                                    })
                                    .collect_view()}
                            </g>
                        }
                    })
                    .collect_view()}
            </svg>
            <figcaption class="muted small">"Each lane is a tag; dots of the same colour are the same image."</figcaption>
        </figure>
    }
    .into_any()
}

#[cfg(feature = "ssr")]
/// One dot of a lane: where, which item (the newest it stands for), and how many it stands for.
struct Dot {
    x: i64,
    newest: usize,
    count: usize,
}

#[cfg(feature = "ssr")]
/// The dots of a lane: items (newest first) that fall on the same pixel are one dot, coloured
/// by the newest of them (it would hide the others anyway); a long history then costs at most a
/// dot per pixel of width instead of one per item.
fn dots(items: &[TagEvent], min: i64, span: i64, left: i64, width: i64) -> Vec<Dot> {
    let mut out: Vec<Dot> = vec![];
    let mut last: Option<i64> = None;
    for (i, item) in items.iter().enumerate() {
        let t = crate::domain::present::parse_time(&item.created).map(|t| t.timestamp()).unwrap_or(min);
        // Rounded to the nearest pixel.
        let x = left + (width * (t - min) * 2 + span) / (span * 2);
        match (last, out.last_mut()) {
            (Some(k), Some(d)) if k == x => d.count += 1,
            _ => out.push(Dot { x, newest: i, count: 1 }),
        }
        last = Some(x);
    }
    out
}

#[island]
fn TagFormView(ns: String, stream: String) -> impl IntoView {
    let source = RwSignal::new(String::new());
    let destination = RwSignal::new(format!("{stream}:"));
    let mode = RwSignal::new("permanent".to_string());
    let policy = RwSignal::new("source".to_string());
    let import_mode = RwSignal::new("Legacy".to_string());
    let scheduled = RwSignal::new(false);
    let insecure = RwSignal::new(false);
    let ns_for_plan = ns.clone();
    // The shared rules of `tag`, as you type.
    let plan_error = move || {
        if source.get().is_empty() {
            return None;
        }
        let args = TagArgs {
            args: vec![source.get(), destination.get()],
            alias: mode.get() == "alias",
            reference: mode.get() == "reference",
            reference_policy: Some(policy.get()),
            scheduled: scheduled.get(),
            insecure: insecure.get(),
            import_mode: Some(import_mode.get()),
            namespace: ns_for_plan.clone(),
            ..Default::default()
        };
        plan_tag(&args).err()
    };
    let plan_error = Memo::new(move |_| plan_error());
    let act = Action::new(move |form: &TagForm| {
        let form = form.clone();
        async move { tag_image(form).await }
    });
    Effect::new(move |_| {
        if matches!(act.value().get(), Some(Ok(_))) {
            announce_change();
        }
    });
    let at = move |field: &'static str| {
        move || {
            plan_error.get().filter(|e| e.field.as_str() == field).map(|e| e.message).or_else(|| match act.value().get() {
                Some(Err(ApiFailure { field: Some(f), message, .. })) if f == field => Some(message),
                _ => None,
            })
        }
    };
    let ns2 = ns.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        act.dispatch(TagForm {
            namespace: ns2.clone(),
            source: source.get(),
            destination: destination.get(),
            mode: mode.get(),
            reference_policy: policy.get(),
            import_mode: import_mode.get(),
            scheduled: scheduled.get(),
            insecure: insecure.get(),
        });
    };
    view! {
        <form class="card" id="tag-form" on:submit=submit>
            <h2>"Tag an image"</h2>
            <label for="tag-source">"Source"</label>
            <input id="tag-source" placeholder="stream:tag, stream@digest or registry/repo:tag" required
                prop:value=source on:input=move |ev| source.set(event_target_value(&ev)) aria-describedby="tag-source-error"/>
            <p id="tag-source-error" class="hint error">{at("source")}</p>
            <label for="tag-destination">"Destination"</label>
            <input id="tag-destination" required prop:value=destination on:input=move |ev| destination.set(event_target_value(&ev))
                aria-describedby="tag-destination-error"/>
            <p id="tag-destination-error" class="hint error">{at("destination")}</p>
            <fieldset>
                <legend>"Kind of tag"</legend>
                <label><input type="radio" name="tag-mode" value="permanent" checked=move || mode.get() == "permanent" on:change=move |_| mode.set("permanent".into())/>" permanent (pinned to the current image)"</label>
                <label><input type="radio" name="tag-mode" value="alias" checked=move || mode.get() == "alias" on:change=move |_| mode.set("alias".into())/>" alias (tracks the source tag)"</label>
                <label><input type="radio" name="tag-mode" value="reference" checked=move || mode.get() == "reference" on:change=move |_| mode.set("reference".into())/>" reference only (never imported)"</label>
            </fieldset>
            <label for="tag-policy">"Reference policy"</label>
            <select id="tag-policy" on:change=move |ev| policy.set(event_target_value(&ev))>
                <option value="source">"source"</option>
                <option value="local">"local"</option>
            </select>
            <label for="tag-import-mode">"Import mode"</label>
            <select id="tag-import-mode" on:change=move |ev| import_mode.set(event_target_value(&ev))>
                <option value="Legacy">"Legacy"</option>
                <option value="PreserveOriginal">"PreserveOriginal"</option>
            </select>
            <label><input type="checkbox" prop:checked=scheduled on:change=move |ev| scheduled.set(event_target_checked(&ev))/>" import periodically (scheduled)"</label>
            <label><input type="checkbox" prop:checked=insecure on:change=move |ev| insecure.set(event_target_checked(&ev))/>" insecure registry"</label>
            <button type="submit" class="primary" disabled=move || plan_error.get().is_some() || act.pending().get()>"Tag"</button>
            {move || match act.value().get() {
                Some(Ok(m)) => Some(view! { <p class="ok" role="status">{m}</p> }.into_any()),
                Some(Err(e)) if e.field.is_none() => Some(view! { <Failure failure=e/> }.into_any()),
                _ => None,
            }}
        </form>
    }
}

/// Polls a background import until it finishes, every 300 ms, into `state`.
fn poll_import(id: String, state: RwSignal<Option<ImportJob>>) {
    leptos::task::spawn_local(async move {
        match get_import_job(id.clone()).await {
            Ok(job) => {
                let finished = job.result.is_some();
                state.set(Some(job));
                if finished {
                    announce_change();
                } else {
                    set_timeout(move || poll_import(id, state), std::time::Duration::from_millis(300));
                }
            }
            Err(e) => state.set(Some(ImportJob { result: Some(Err(e)), ..Default::default() })),
        }
    });
}

#[island]
fn ImportFormView(ns: String, stream: String) -> impl IntoView {
    let from = RwSignal::new(String::new());
    let tag = RwSignal::new(String::new());
    let all = RwSignal::new(false);
    let scheduled = RwSignal::new(false);
    let insecure = RwSignal::new(false);
    let mode = RwSignal::new("Legacy".to_string());
    // The import runs on the server in the background; the form shows how far it got.
    let state: RwSignal<Option<ImportJob>> = RwSignal::new(None);
    let start = Action::new(move |form: &ImportForm| {
        let form = form.clone();
        async move { start_import(form).await }
    });
    Effect::new(move |_| match start.value().get() {
        Some(Ok(id)) => poll_import(id, state),
        Some(Err(e)) => state.set(Some(ImportJob { result: Some(Err(e)), ..Default::default() })),
        None => {}
    });
    let running = move || start.pending().get() || state.get().is_some_and(|j| j.result.is_none());
    let result = move || state.get().and_then(|j| j.result);
    let from_error = move || {
        let f = from.get();
        if f.is_empty() {
            return None;
        }
        match crate::domain::imports::check_import_source(&f, all.get()) {
            Err(message) => Some(message),
            Ok(_) => field_error(result(), "from"),
        }
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        state.set(None);
        start.dispatch(ImportForm {
            namespace: ns.clone(),
            stream: stream.clone(),
            from: from.get(),
            tag: tag.get(),
            all: all.get(),
            scheduled: scheduled.get(),
            insecure: insecure.get(),
            import_mode: mode.get(),
        });
    };
    let progress = move || {
        let j = state.get()?;
        if j.result.is_some() {
            return None;
        }
        Some(if j.total == 0 { "Looking up the registry…".to_string() } else { format!("{} of {} images looked up…", j.done, j.total) })
    };
    view! {
        <form class="card" id="import-form" on:submit=submit>
            <h2>"Import from a registry"</h2>
            <label for="import-from">"Image or repository"</label>
            <input id="import-from" required placeholder="quay.io/org/app:1.0" prop:value=from on:input=move |ev| from.set(event_target_value(&ev))
                aria-describedby="import-from-error"/>
            <p id="import-from-error" class="hint error">{from_error}</p>
            <label for="import-tag">"Into tag (default: the source's tag)"</label>
            <input id="import-tag" prop:value=tag on:input=move |ev| tag.set(event_target_value(&ev)) disabled=move || all.get()/>
            <label><input type="checkbox" prop:checked=all on:change=move |ev| all.set(event_target_checked(&ev))/>" every tag of the repository (--all)"</label>
            <label><input type="checkbox" prop:checked=scheduled on:change=move |ev| scheduled.set(event_target_checked(&ev))/>" re-import periodically"</label>
            <label><input type="checkbox" prop:checked=insecure on:change=move |ev| insecure.set(event_target_checked(&ev))/>" insecure registry"</label>
            <label for="import-mode">"Import mode"</label>
            <select id="import-mode" on:change=move |ev| mode.set(event_target_value(&ev))>
                <option value="Legacy">"Legacy"</option>
                <option value="PreserveOriginal">"PreserveOriginal"</option>
            </select>
            <button type="submit" class="primary" disabled=move || from_error().is_some() || running()>
                {move || if running() { "Importing…" } else { "Import" }}
            </button>
            <p class="muted small" role="status" id="import-progress">{progress}</p>
            {move || match result() {
                Some(Ok(m)) => Some(view! { <p class="ok" role="status" id="import-result">{m}</p> }.into_any()),
                Some(Err(e)) if e.field.as_deref() != Some("from") => Some(view! { <Failure failure=e/> }.into_any()),
                _ => None,
            }}
        </form>
    }
}
