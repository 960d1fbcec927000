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
//! Must not: render the read-only part itself or decide what a tag offers (that is
//! `domain::views`).

mod forms;

use crate::api::{
    ApiFailure, ImportForm, RenderedPart, StreamPageData, TagForm, delete_stream, delete_tag, get_stream, import_images, tag_image,
};
use crate::live::{Failure, LiveConnection, announce_change, refresh_on_change, reload_to};
use crate::widgets::{PageTitle, Rendered, clicked, short_digest};
use forms::{ImportImageForm, TagImageForm};
use leptos::prelude::*;
use leptos::web_sys::Element;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn StreamPage() -> impl IntoView {
    let (ns, name) = use_params_map().with_untracked(|p| (p.get("ns").unwrap_or_default(), p.get("stream").unwrap_or_default()));
    // `?history=all`: every history item instead of the newest (see `views::stream`).
    let all = use_query_map().with_untracked(|q| q.get("history").is_some_and(|h| h == "all"));
    let (part_ns, part_name) = (ns.clone(), name.clone());
    view! {
        <PageTitle text=format!("{ns}/{name}")/>
        <nav aria-label="Breadcrumb" class="crumbs"><a href="/">"Catalog"</a>" / "<a href=format!("/?q={ns}/")>{ns.clone()}</a>" / "<span aria-current="page">{name.clone()}</span></nav>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {Suspend::new(async move {
                match get_stream(part_ns.clone(), part_name.clone(), all).await {
                    Ok(StreamPageData { part: RenderedPart { html, resource_version }, import_forms, tags }) => view! {
                        <LiveConnection namespace=part_ns.clone() name=part_name.clone() since=Some(resource_version)/>
                        <StreamPart ns=part_ns.clone() name=part_name.clone() all import_forms><Rendered html/></StreamPart>
                        <DeleteStream ns=part_ns.clone() stream=part_name.clone()/>
                        // The forms are outside the re-read part, so their results stay on screen.
                        <section class="forms" aria-label="Actions">
                            <TagImageForm ns=part_ns.clone() stream=part_name.clone() tags/>
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
        async move { delete_tag(ns, stream, tag.clone()).await.map(|()| tag) }
    });
    let reimport = Action::new(move |form: &ImportForm| {
        let form = form.clone();
        async move { import_images(form).await }
    });
    let restore = Action::new(move |form: &TagForm| {
        let form = form.clone();
        async move { tag_image(form).await }
    });
    // The outcome of the newest of these actions only: an older success disappears when the next
    // attempt starts, and a failure is never hidden behind it (issue 17 point 1).
    let outcome: RwSignal<Option<Result<String, ApiFailure>>> = RwSignal::new(None);
    let show = move |r: Option<Result<String, ApiFailure>>| {
        if let Some(r) = r {
            outcome.set(Some(r));
            announce_change();
        }
    };
    Effect::new(move |_| show(delete.value().get().map(|r| r.map(|tag| format!("Tag {tag} deleted.")))));
    Effect::new(move |_| show(reimport.value().get()));
    Effect::new(move |_| show(restore.value().get()));
    let on_click = move |ev: leptos::ev::MouseEvent| {
        let Some((button, act)) = clicked(&ev, "data-act") else { return };
        let attr = |n: &str| button.get_attribute(n).unwrap_or_default();
        if matches!(act.as_str(), "delete" | "import" | "restore") {
            outcome.set(None);
        }
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
            "tag-as" => tag_as(&attr("data-image")),
            "ask" => confirm(&button, true),
            "cancel" => confirm(&button, false),
            _ => {}
        }
    };
    view! {
        <div class="rendered" node_ref=target on:click=on_click>{children()}</div>
        // Sticks to the bottom of the window while the part is in view, so the answer is seen
        // next to the button that asked, wherever in the table or history it was.
        {move || match outcome.get() {
            Some(Err(e)) => Some(view! { <div class="action-outcome" id="stream-action-error"><Failure failure=e/></div> }.into_any()),
            Some(Ok(m)) => Some(view! { <p class="ok action-outcome" role="status" id="stream-action-result">{m}</p> }.into_any()),
            None => None,
        }}
    }
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
