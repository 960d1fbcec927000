//! The stream page (`/ns/:ns/:stream`): every tag with its state in words, aliases folded into
//! their target, pull specs with copy buttons, source and flags; the stream's timeline (one
//! lane per tag); each tag's history with "restore this image"; and the tag and import forms
//! (`forms`).
//!
//! The read-only part (facts, tag table, timeline, histories) is rendered on the server
//! (`views::stream`) and placed as markup; the browser build carries only the forms and one
//! click handler for the buttons inside that markup (they name what they act on in `data-`
//! attributes).
//!
//! Without JavaScript (issue 17 point 9) every control works as a plain form or link, or is
//! not shown: the tag table's filter, sort, pages and "Delete selected…" are GET forms and
//! links; a deletion is confirmed by this page's server-rendered [`DeleteConfirmation`]
//! (`?delete=a&delete=b`), a POST to `delete_tags`; "Tag this image as…" loads the tag form
//! with the image as its source (`?source=`), and the tag form posts to `tag_image`. Those
//! server functions send a plain form back here with `?notice=` or `?failed=`, shown by
//! [`PageAnswer`]. Buttons that only work with JavaScript ("Import now", "Restore this
//! image…", "Delete stream…") carry `js-only`, hidden by the shell's `<noscript>` style, with
//! a note saying so.
//!
//! Must not: render the read-only part itself or decide what a tag offers (that is
//! `domain::views`).

mod forms;

use crate::api::{
    ApiFailure, DeleteTags, ImportForm, RenderedPart, StreamPageData, TagForm, TagTableParams, delete_stream, delete_tag, delete_tags,
    get_stream, import_images, tag_image,
};
use crate::domain::plain::count;
use crate::live::{Failure, LiveConnection, announce_change, refresh_on_change, reload_to};
use crate::widgets::{PageTitle, Rendered, clicked, short_digest};
use forms::{ImportImageForm, TagImageForm};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos::web_sys::Element;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn StreamPage() -> impl IntoView {
    let (ns, name) = use_params_map().with_untracked(|p| (p.get("ns").unwrap_or_default(), p.get("stream").unwrap_or_default()));
    // `?history=all`: every history item instead of the newest (see `views::stream`).
    let query = use_query_map();
    let all = query.with_untracked(|q| q.get("history").is_some_and(|h| h == "all"));
    // The tag table's view (filter, sort, page), the tags a plain form asks to delete, the
    // image "Tag this image as…" chose, and a plain form's answer.
    let (table, to_delete, prefill, answer) = query.with_untracked(|q| {
        let param = |k: &str| q.get(k).unwrap_or_default();
        let table = TagTableParams { q: param("q"), sort: param("sort"), page: param("page"), per: param("per") };
        let answer = q.get("failed").map(Err).or_else(|| q.get("notice").map(Ok));
        (table, q.get_all("delete").unwrap_or_default(), q.get("source").unwrap_or_default(), answer)
    });
    let back = back_href(&table);
    let (part_ns, part_name) = (ns.clone(), name.clone());
    view! {
        <PageTitle text=format!("{ns}/{name}")/>
        <nav aria-label="Breadcrumb" class="crumbs"><a href="/">"Catalog"</a>" / "<a href=format!("/?q={ns}/")>{ns.clone()}</a>" / "<span aria-current="page">{name.clone()}</span></nav>
        <PageAnswer answer/>
        {(!to_delete.is_empty()).then(|| view! { <DeleteConfirmation ns=ns.clone() stream=name.clone() tags=to_delete back/> })}
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {Suspend::new(async move {
                match get_stream(part_ns.clone(), part_name.clone(), all, table.clone()).await {
                    Ok(StreamPageData { part: RenderedPart { html, resource_version }, import_forms, tags }) => view! {
                        <LiveConnection namespace=part_ns.clone() name=part_name.clone() since=Some(resource_version)/>
                        <StreamPart ns=part_ns.clone() name=part_name.clone() all table import_forms><Rendered html/></StreamPart>
                        <noscript><p class="muted small nojs-note">"Without JavaScript: “Import now”, “Restore this image…” and deleting the whole stream are not offered here; use the API or the command line ("<code>"imagestreams import-image"</code>", "<code>"tag"</code>", "<code>"delete is"</code>"). Everything else on this page works."</p></noscript>
                        <DeleteStream ns=part_ns.clone() stream=part_name.clone()/>
                        // The forms are outside the re-read part, so their results stay on screen.
                        <section class="forms" aria-label="Actions">
                            <TagImageForm ns=part_ns.clone() stream=part_name.clone() tags prefill/>
                            <ImportImageForm ns=part_ns stream=part_name/>
                        </section>
                    }
                    .into_any(),
                    Err(e) => view! { <h1>{part_name}</h1><Failure failure=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The page's own address for the tag table's view `table` (no answer, no confirmation).
fn back_href(table: &TagTableParams) -> String {
    let query = table.query().to_query();
    if query.is_empty() { "?#tags-heading".into() } else { format!("?{query}#tags-heading") }
}

/// The answer to a plain form (the page without JavaScript; see `api::back_to_page`): a
/// success as a status, a failure as an alert.
#[component]
fn PageAnswer(answer: Option<Result<String, String>>) -> impl IntoView {
    answer.map(|a| match a {
        Ok(m) => view! { <p class="ok page-answer" role="status" id="page-answer">{m}</p> }.into_any(),
        Err(m) => view! { <p class="error page-answer" role="alert" id="page-answer">{m}</p> }.into_any(),
    })
}

/// The one confirmation of deleting tags, for a plain form (`?delete=a&delete=b`, from the
/// table's selection or a row's "Delete…"): a POST of `delete_tags`, or back to the table.
/// Rendered on the server only (no WASM); with JavaScript the table asks in place instead.
#[component]
fn DeleteConfirmation(ns: String, stream: String, tags: Vec<String>, back: String) -> impl IntoView {
    let question = format!(
        "Delete {} of {ns}/{stream}: {}? Their history goes with them; the images stay until pruned.",
        count(tags.len() as u64, "tag"),
        tags.join(", ")
    );
    let button = format!("Delete {}", count(tags.len() as u64, "tag"));
    view! {
        <form class="card confirm-card" id="tags-confirm" method="post" action=DeleteTags::url() role="group" aria-label="Confirm deleting tags">
            <p>{question}</p>
            <input type="hidden" name="namespace" value=ns/>
            <input type="hidden" name="stream" value=stream/>
            {tags.into_iter().enumerate().map(|(i, t)| view! { <input type="hidden" name=format!("tags[{i}]") value=t/> }).collect_view()}
            <button type="submit" class="danger" autofocus>{button}</button>" "
            <a href=back>"Cancel"</a>
        </form>
    }
}

/// The stream's read-only part (rendered on the server, read again on every change) with the
/// handler of the buttons inside it: "Delete…" (one tag or the selection), "Import now",
/// "Tag this image as…" and "Restore this image…".
#[island]
fn StreamPart(
    ns: String,
    name: String,
    all: bool,
    table: TagTableParams,
    import_forms: Vec<ImportForm>,
    children: Children,
) -> impl IntoView {
    // What "Import now" imports; read again with the part, since tags come and go.
    let import_forms = RwSignal::new(import_forms);
    let target = NodeRef::new();
    let (ns_read, name_read) = (ns.clone(), name.clone());
    refresh_on_change(target, move || {
        let read = get_stream(ns_read.clone(), name_read.clone(), all, table.clone());
        async move {
            let data = read.await?;
            import_forms.set(data.import_forms);
            Ok(data.part.html)
        }
    });
    let delete = Action::new(move |(ns, stream, tag): &(String, String, String)| {
        let (ns, stream, tag) = (ns.clone(), stream.clone(), tag.clone());
        async move { delete_tag(ns, stream, tag.clone()).await.map(|()| tag) }
    });
    let reimport = Action::new(move |form: &ImportForm| {
        let form = form.clone();
        async move { import_images(form).await }
    });
    let bulk = Action::new(move |(ns, stream, tags): &(String, String, Vec<String>)| {
        let (ns, stream, tags) = (ns.clone(), stream.clone(), tags.clone());
        async move { delete_tags(ns, stream, tags).await.map(|n| format!("{} deleted.", count(n as u64, "tag"))) }
    });
    let restore = Action::new(move |form: &TagForm| {
        let form = form.clone();
        async move { tag_image(form).await }
    });
    // The outcome of the newest of these actions only: an older success disappears when the next
    // attempt starts, and a failure is never hidden behind it (issue 17 point 1).
    let outcome: RwSignal<Option<Result<String, ApiFailure>>> = RwSignal::new(None);
    // The answer takes the focus (issue 17 point 9): the row or item that was acted on may be
    // gone, and a screen reader then reads the answer where the user is.
    let show = move |r: Option<Result<String, ApiFailure>>| {
        if let Some(r) = r {
            outcome.set(Some(r));
            announce_change();
            focus_soon("#stream-action-result, #stream-action-error");
        }
    };
    Effect::new(move |_| show(delete.value().get().map(|r| r.map(|tag| format!("Tag {tag} deleted.")))));
    Effect::new(move |_| show(reimport.value().get()));
    Effect::new(move |_| show(restore.value().get()));
    Effect::new(move |_| show(bulk.value().get()));
    // The tags the selection asks to delete, between "Delete selected…" and "Delete".
    let selected: RwSignal<Vec<String>> = RwSignal::new(vec![]);
    // "Delete selected…" (a GET form to the confirmation without JavaScript): asked in place.
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        if !is_selection_form(&ev) {
            return;
        }
        ev.prevent_default();
        let tags = checked_tags();
        outcome.set(None);
        if tags.is_empty() {
            outcome.set(Some(Err(ApiFailure { message: "Tick the tags to delete first.".into(), field: None, code: 400 })));
            announce_change();
            return;
        }
        ask_bulk(&tags);
        selected.set(tags);
    };
    let (bulk_ns, bulk_name) = (ns.clone(), name.clone());
    let on_click = move |ev: leptos::ev::MouseEvent| {
        let Some((button, act)) = clicked(&ev, "data-act") else { return };
        let attr = |n: &str| button.get_attribute(n).unwrap_or_default();
        // Links ("Delete…", "Tag this image as…") lead to the same step without JavaScript.
        if matches!(act.as_str(), "ask" | "tag-as") {
            ev.prevent_default();
        }
        if matches!(act.as_str(), "delete" | "import" | "restore" | "bulk-delete") {
            outcome.set(None);
        }
        match act.as_str() {
            "bulk-delete" => {
                bulk.dispatch((bulk_ns.clone(), bulk_name.clone(), selected.get_untracked()));
                show_bulk(false);
            }
            "bulk-cancel" => cancel_bulk(),
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
            "tag-as" => tag_as(&attr("data-image")),
            "ask" => confirm(&button, true),
            "cancel" => confirm(&button, false),
            _ => {}
        }
    };
    // Escape cancels the confirmation the focus is in, and gives the focus back to what asked.
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        use leptos::wasm_bindgen::JsCast;
        if ev.key() != "Escape" {
            return;
        }
        let Some(inside) = ev.target().and_then(|t| t.dyn_into::<Element>().ok()) else { return };
        if inside.closest("#bulk-confirm").ok().flatten().is_some() {
            ev.prevent_default();
            cancel_bulk();
        } else if let Some(cancel) =
            inside.closest(".confirm").ok().flatten().and_then(|c| c.query_selector("[data-act=cancel]").ok().flatten())
        {
            ev.prevent_default();
            confirm(&cancel, false);
        }
    };
    view! {
        <div class="rendered" node_ref=target on:click=on_click on:submit=on_submit on:keydown=on_keydown>{children()}</div>
        // Sticks to the bottom of the window while the part is in view, so the answer is seen
        // next to the button that asked, wherever in the table or history it was.
        {move || match outcome.get() {
            Some(Err(e)) => Some(view! { <div class="action-outcome" id="stream-action-error" tabindex="-1"><Failure failure=e/></div> }.into_any()),
            Some(Ok(m)) => Some(view! { <p class="ok action-outcome" role="status" id="stream-action-result" tabindex="-1">{m}</p> }.into_any()),
            None => None,
        }}
    }
}

/// Whether a submit event comes from the tag table's selection form.
fn is_selection_form(ev: &leptos::ev::SubmitEvent) -> bool {
    use leptos::wasm_bindgen::JsCast;
    ev.target().and_then(|t| t.dyn_into::<Element>().ok()).is_some_and(|f| f.id() == "tag-selection")
}

/// The ticked tags of the table (its checkboxes belong to the selection form).
fn checked_tags() -> Vec<String> {
    #[cfg(feature = "hydrate")]
    {
        let mut tags = vec![];
        if let Some(table) = document().get_element_by_id("tags") {
            let inputs = table.get_elements_by_tag_name("input");
            for i in 0..inputs.length() {
                if let Some(e) = inputs.item(i)
                    && e.get_attribute("name").as_deref() == Some("delete")
                    && e.matches(":checked").unwrap_or(false)
                {
                    tags.extend(e.get_attribute("value"));
                }
            }
        }
        tags
    }
    #[cfg(not(feature = "hydrate"))]
    vec![]
}

/// Shows the selection's one confirmation, naming the tags, with the focus on its button.
fn ask_bulk(tags: &[String]) {
    #[cfg(feature = "hydrate")]
    {
        let doc = document();
        if let Some(label) = doc.query_selector("#bulk-confirm .confirm-label").ok().flatten() {
            label.set_text_content(Some(&format!("Delete {}: {}?", count(tags.len() as u64, "tag"), tags.join(", "))));
        }
        if let Some(go) = doc.query_selector("#bulk-confirm [data-act=bulk-delete]").ok().flatten() {
            go.set_text_content(Some(&format!("Delete {}", count(tags.len() as u64, "tag"))));
        }
        show_bulk(true);
        if let Some(go) = doc
            .query_selector("#bulk-confirm [data-act=bulk-delete]")
            .ok()
            .flatten()
            .and_then(|e| leptos::wasm_bindgen::JsCast::dyn_into::<leptos::web_sys::HtmlElement>(e).ok())
        {
            let _ = go.focus();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = tags;
}

/// Hides the selection's confirmation and gives the focus back to "Delete selected…".
fn cancel_bulk() {
    show_bulk(false);
    #[cfg(feature = "hydrate")]
    if let Some(ask) = document().query_selector("[data-act=ask-bulk]").ok().flatten() {
        focus(&ask);
    }
}

/// Moves the focus to `element` (when it can take it).
fn focus(element: &Element) {
    use leptos::wasm_bindgen::JsCast;
    if let Ok(e) = element.clone().dyn_into::<leptos::web_sys::HtmlElement>() {
        let _ = e.focus();
    }
}

/// Moves the focus to the first element matching `selector` once the page has drawn the
/// change that put it there (the next animation frame).
fn focus_soon(selector: &'static str) {
    #[cfg(feature = "hydrate")]
    request_animation_frame(move || {
        if let Some(e) = document().query_selector(selector).ok().flatten() {
            focus(&e);
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = selector;
}

/// Shows or hides the selection's confirmation.
fn show_bulk(show: bool) {
    #[cfg(feature = "hydrate")]
    if let Some(c) = document().get_element_by_id("bulk-confirm") {
        let _ = if show { c.remove_attribute("hidden") } else { c.set_attribute("hidden", "") };
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = show;
}

/// "Tag this image as…": hands the image to the tag form (another island) through its
/// `data-prefill` attribute and a window event.
fn tag_as(image: &str) {
    #[cfg(feature = "hydrate")]
    {
        let Some(form) = document().get_element_by_id("tag-form") else { return };
        let _ = form.set_attribute("data-prefill", image);
        if let Ok(event) = leptos::web_sys::Event::new(forms::TAG_AS_EVENT) {
            let _ = window().dispatch_event(&event);
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = image;
}

/// "Make the tag a permanent tag of this image again": a tag to `<stream>@<digest>`.
fn restore_form(ns: &str, stream: &str, tag: &str, image: &str) -> TagForm {
    TagForm {
        namespace: ns.to_string(),
        stream: stream.to_string(),
        source_from: String::new(),
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
/// `[data-confirm-scope]`, with the asking button hidden meanwhile. Shown, it takes the focus
/// (on its first button, the action); hidden, the focus goes back to the button that asked
/// ("Delete…", or the history item's "Restore this image…", marked `data-asking`).
fn confirm(button: &Element, show: bool) {
    let Some(scope) = button.closest("[data-confirm-scope]").ok().flatten() else { return };
    let asking = scope.query_selector("[data-act=ask]").ok().flatten();
    if let Some(ask) = &asking {
        let _ = if show { ask.set_attribute("hidden", "") } else { ask.remove_attribute("hidden") };
    }
    if let Ok(Some(c)) = scope.query_selector(".confirm") {
        if show {
            let _ = c.remove_attribute("hidden");
            if let Ok(Some(go)) = c.query_selector("button") {
                focus(&go);
            }
        } else {
            let _ = c.set_attribute("hidden", "");
            let restore_asker = scope.query_selector("[data-asking]").ok().flatten();
            if let Some(back) = restore_asker.as_ref().or(asking.as_ref()) {
                let _ = back.remove_attribute("data-asking");
                focus(back);
            }
        }
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
    // The confirmation appears in the item that was clicked, not below a long list.
    if let (Ok(Some(item)), Ok(Some(confirmation))) = (button.closest("li"), history.query_selector(".confirm")) {
        let _ = item.append_child(&confirmation);
    }
    if let Ok(Some(before)) = history.query_selector("[data-asking]") {
        let _ = before.remove_attribute("data-asking");
    }
    let _ = button.set_attribute("data-asking", "");
    confirm(button, true);
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
    // The confirmation takes the focus when it appears; Escape or Cancel gives it back to
    // "Delete stream…".
    let go = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        if let Some(b) = go.get() {
            let _ = b.focus();
        }
    });
    let cancel = move || {
        confirm.set(false);
        focus_soon(".danger-zone [data-act=ask-delete-stream]");
    };
    view! {
        <div class="danger-zone js-only">
            <Show when=move || confirm.get() fallback=move || view! {
                <button type="button" class="danger" data-act="ask-delete-stream" on:click=move |_| confirm.set(true)>"Delete stream…"</button>
            }>
                {
                    let key = key.clone();
                    view! {
                        <span class="confirm" role="group" aria-label="Confirm deleting the stream"
                            on:keydown=move |ev| if ev.key() == "Escape" { ev.prevent_default(); cancel(); }>
                            "Delete the stream with all its tags and history? "
                            <button type="button" class="danger" node_ref=go on:click=move |_| { act.dispatch(key.clone()); }>"Delete stream"</button>
                            <button type="button" on:click=move |_| cancel()>"Cancel"</button>
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
