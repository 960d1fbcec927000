//! The stream page's forms: "Tag an image" (`tag`, checked as you type with the rules of
//! `domain::tag_command`) and "Import from a registry" (`import-image`, run in the background
//! on the server and polled for its progress).
//!
//! Must not: restate a rule of `domain` (the tag plan and the import source are checked there)
//! or read the stream (the part beside them does).

use crate::api::{ImportForm, ImportJob, TagForm, get_import_job, start_import, tag_image};
use crate::domain::imports::check_import_source;
use crate::domain::reference::DockerImageReference;
use crate::domain::tag_command::{
    FROM_OTHER_STREAM, FROM_REGISTRY, FROM_THIS_STREAM, TagArgs, ThisStreamSource, form_destination, plan_tag, this_stream_source,
};
use crate::live::{Failure, announce_change};
use crate::widgets::{field_error, unplaced};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// The window event "Tag this image as…" sends (the tag table is another island's markup):
/// the image's digest is in the form's `data-prefill` attribute.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(super) const TAG_AS_EVENT: &str = "imagestreams:tag-as";

/// A name the form takes for a tag without knowing the stream's tags now (tags come and go
/// while the page is open): no separator, and not a digest prefix. The server decides.
fn may_be_tag(name: &str) -> bool {
    let digest_like = name.len() >= 4 && name.bytes().all(|c| c.is_ascii_hexdigit());
    !digest_like && !name.contains([':', '/', '@'])
}

/// "Tag an image": the `tag` command as a form. Where the image comes from is chosen, not
/// guessed (issue 17 point 2): a tag or image of this stream (its tags offered in a list,
/// digest prefixes accepted), another stream's tag, or a registry image. The destination is a
/// bare tag name of this stream (or `stream:tag` for another).
///
/// It is also a plain HTML form (fields named as `tag_image`'s argument, `form[…]`), so it tags
/// without JavaScript; `prefill` is the source "Tag this image as…" chose (`?source=`).
#[island]
pub(super) fn TagImageForm(ns: String, stream: String, tags: Vec<String>, prefill: String) -> impl IntoView {
    let (hidden_ns, hidden_stream) = (ns.clone(), stream.clone());
    let from = RwSignal::new(FROM_THIS_STREAM.to_string());
    let source = RwSignal::new(prefill.clone());
    let prefill_focus = prefill.clone();
    let destination = RwSignal::new(String::new());
    let mode = RwSignal::new("permanent".to_string());
    let policy = RwSignal::new("source".to_string());
    let import_mode = RwSignal::new("Legacy".to_string());
    let scheduled = RwSignal::new(false);
    let insecure = RwSignal::new(false);
    let (plan_namespace, plan_stream, known) = (ns.clone(), stream.clone(), tags.clone());
    // The shared rules of `tag`, as you type, on the SOURCE the choice makes: (field, message).
    let plan_error = move || -> Option<(String, String)> {
        let input = source.get();
        if input.trim().is_empty() {
            return None;
        }
        let at_source = |m: String| Some(("source".to_string(), m));
        let (src, kind) = match from.get().as_str() {
            FROM_THIS_STREAM => {
                let has_tag = |t: &str| known.iter().any(|k| k == t) || may_be_tag(t);
                match this_stream_source(&plan_stream, &input, has_tag) {
                    Ok(ThisStreamSource::Tag(t)) => (format!("{plan_stream}:{t}"), "istag"),
                    // A digest (prefix) is looked up by the server; the rest is checked here.
                    Ok(ThisStreamSource::Image(_)) => (format!("{plan_stream}:latest"), "istag"),
                    Err(m) => return at_source(m),
                }
            }
            FROM_OTHER_STREAM if !input.contains(':') => {
                return at_source("Name the tag as stream:tag, or namespace/stream:tag for another namespace".into());
            }
            FROM_OTHER_STREAM => (input.trim().to_string(), "istag"),
            _ => (input.trim().to_string(), "docker"),
        };
        let args = TagArgs {
            args: vec![src, form_destination(&plan_stream, &destination.get())],
            alias: mode.get() == "alias",
            reference: mode.get() == "reference",
            reference_policy: Some(policy.get()),
            scheduled: scheduled.get(),
            insecure: insecure.get(),
            import_mode: Some(import_mode.get()),
            source_kind: Some(kind.to_string()),
            namespace: plan_namespace.clone(),
            ..Default::default()
        };
        // An empty name is for `required` to say (a plain form must not start disabled).
        plan_tag(&args)
            .err()
            .map(|e| (e.field.as_str().to_string(), e.message))
            .filter(|(field, _)| !(field == "destination" && destination.get().trim().is_empty()))
    };
    let plan_error = Memo::new(move |_| plan_error());
    // What a registry source means in full (`build-42` is docker.io/library/build-42:latest).
    let registry_hint = move || {
        let input = source.get();
        (from.get() == FROM_REGISTRY && !input.trim().is_empty())
            .then(|| DockerImageReference::parse(input.trim()).ok())
            .flatten()
            .map(|r| format!("Imports {}", r.docker_client_defaults().exact()))
    };
    let act = Action::new(move |form: &TagForm| {
        let form = form.clone();
        async move { tag_image(form).await }
    });
    Effect::new(move |_| {
        if matches!(act.value().get(), Some(Ok(_))) {
            announce_change();
        }
    });
    // "Tag this image as…" in the tag table: this stream's image, the cursor in the name field.
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        let handle = window_event_listener_untyped(TAG_AS_EVENT, move |_| {
            let doc = document();
            let Some(image) = doc.get_element_by_id("tag-form").and_then(|f| f.get_attribute("data-prefill")) else { return };
            from.set(FROM_THIS_STREAM.into());
            source.set(image);
            destination.set(String::new());
            mode.set("permanent".into());
            act.value().set(None);
            if let Some(input) = doc.get_element_by_id("tag-destination").and_then(|e| e.dyn_into::<leptos::web_sys::HtmlElement>().ok()) {
                input.scroll_into_view();
                let _ = input.focus();
            }
        });
        on_cleanup(move || handle.remove());
    }
    let at = move |field: &'static str| {
        move || plan_error.get().filter(|(f, _)| f == field).map(|(_, m)| m).or_else(|| field_error(act.value().get(), field))
    };
    // A rule of the plan about a field the form has no place for (a bad reference policy, say):
    // shown beside the button, never a silently disabled button.
    let plan_elsewhere = move || plan_error.get().filter(|(f, _)| f != "source" && f != "destination").map(|(_, m)| m);
    let form_stream = stream.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        // The previous answer goes: a success must not stay on screen while the next attempt runs
        // (or fails).
        act.value().set(None);
        act.dispatch(TagForm {
            namespace: ns.clone(),
            stream: form_stream.clone(),
            source_from: from.get(),
            source: source.get(),
            destination: destination.get(),
            mode: mode.get(),
            reference_policy: policy.get(),
            import_mode: import_mode.get(),
            scheduled: scheduled.get(),
            insecure: insecure.get(),
        });
    };
    let choose = move |value: &'static str| {
        move |_| {
            from.set(value.into());
            act.value().set(None);
        }
    };
    let source_label = move || match from.get().as_str() {
        FROM_THIS_STREAM => "Tag or image digest of this stream",
        FROM_OTHER_STREAM => "Tag of another stream (stream:tag or namespace/stream:tag)",
        _ => "Image in a registry (registry/repository:tag)",
    };
    let placeholder = move || match from.get().as_str() {
        FROM_THIS_STREAM => "build-42, or a digest: 3695d50",
        FROM_OTHER_STREAM => "web:prod or shop/web:prod",
        _ => "quay.io/org/app:1.0",
    };
    let datalist = move || (from.get() == FROM_THIS_STREAM).then_some("tag-source-tags");
    let dest_placeholder = format!("e.g. prod (a tag of {stream}), or other-stream:tag");
    view! {
        <form class="card" id="tag-form" method="post" action=crate::api::TagImage::url() on:submit=submit>
            <h2>"Tag an image"</h2>
            <input type="hidden" name="form[namespace]" value=hidden_ns/>
            <input type="hidden" name="form[stream]" value=hidden_stream/>
            <fieldset>
                <legend>"Where the image comes from"</legend>
                <label><input type="radio" name="form[source_from]" id="tag-from-here" value="here" checked=move || from.get() == FROM_THIS_STREAM prop:checked=move || from.get() == FROM_THIS_STREAM on:change=choose(FROM_THIS_STREAM)/>" A tag or image of this stream"</label>
                <label><input type="radio" name="form[source_from]" id="tag-from-stream" value="stream" checked=move || from.get() == FROM_OTHER_STREAM prop:checked=move || from.get() == FROM_OTHER_STREAM on:change=choose(FROM_OTHER_STREAM)/>" A tag of another stream"</label>
                <label><input type="radio" name="form[source_from]" id="tag-from-registry" value="registry" checked=move || from.get() == FROM_REGISTRY prop:checked=move || from.get() == FROM_REGISTRY on:change=choose(FROM_REGISTRY)/>" An image in a registry (imported)"</label>
            </fieldset>
            <label for="tag-source">{source_label}</label>
            <input id="tag-source" name="form[source]" required autocomplete="off" list=datalist placeholder=placeholder value=prefill
                prop:value=source on:input=move |ev| source.set(event_target_value(&ev)) aria-describedby="tag-source-error tag-source-hint"/>
            <datalist id="tag-source-tags">{tags.into_iter().map(|t| view! { <option value=t></option> }).collect_view()}</datalist>
            <p id="tag-source-hint" class="hint">{registry_hint}</p>
            <p id="tag-source-error" class="hint error">{at("source")}</p>
            <label for="tag-destination">"New tag name"</label>
            <input id="tag-destination" name="form[destination]" required autofocus=!prefill_focus.is_empty() placeholder=dest_placeholder prop:value=destination on:input=move |ev| destination.set(event_target_value(&ev))
                aria-describedby="tag-destination-error"/>
            <p id="tag-destination-error" class="hint error">{at("destination")}</p>
            <fieldset>
                <legend>"Kind of tag"</legend>
                <label><input type="radio" name="form[mode]" value="permanent" checked=move || mode.get() == "permanent" prop:checked=move || mode.get() == "permanent" on:change=move |_| mode.set("permanent".into())/>" permanent (pinned to the current image)"</label>
                <label><input type="radio" name="form[mode]" value="alias" checked=move || mode.get() == "alias" prop:checked=move || mode.get() == "alias" on:change=move |_| mode.set("alias".into())/>" alias (tracks the source tag)"</label>
                <label><input type="radio" name="form[mode]" value="reference" checked=move || mode.get() == "reference" prop:checked=move || mode.get() == "reference" on:change=move |_| mode.set("reference".into())/>" reference only (never imported)"</label>
            </fieldset>
            <label for="tag-policy">"Reference policy"</label>
            <select id="tag-policy" name="form[reference_policy]" on:change=move |ev| policy.set(event_target_value(&ev))>
                <option value="source">"source"</option>
                <option value="local">"local"</option>
            </select>
            <label for="tag-import-mode">"Import mode"</label>
            <select id="tag-import-mode" name="form[import_mode]" on:change=move |ev| import_mode.set(event_target_value(&ev))>
                <option value="Legacy">"Legacy"</option>
                <option value="PreserveOriginal">"PreserveOriginal"</option>
            </select>
            <label><input type="checkbox" name="form[scheduled]" value="true" prop:checked=scheduled on:change=move |ev| scheduled.set(event_target_checked(&ev))/>" import periodically (scheduled)"</label>
            <label><input type="checkbox" name="form[insecure]" value="true" prop:checked=insecure on:change=move |ev| insecure.set(event_target_checked(&ev))/>" insecure registry"</label>
            <button type="submit" class="primary" disabled=move || plan_error.get().is_some() || act.pending().get()>"Tag"</button>
            {move || plan_elsewhere().map(|m| view! { <p class="error" role="alert">{m}</p> })}
            {move || match act.value().get() {
                Some(Ok(m)) => Some(view! { <p class="ok" role="status" id="tag-result">{m}</p> }.into_any()),
                _ => unplaced(act.value().get(), &["source", "destination"]).map(|e| view! { <Failure failure=e/> }.into_any()),
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

/// "Import from a registry": `import-image` as a form, with its progress.
#[island]
pub(super) fn ImportImageForm(ns: String, stream: String) -> impl IntoView {
    let (hidden_ns, hidden_stream) = (ns.clone(), stream.clone());
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
        match check_import_source(&f, all.get()) {
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
        // Without JavaScript a plain form: `import_images` imports, then the page comes back
        // with the summary.
        <form class="card" id="import-form" method="post" action=crate::api::ImportImages::url() on:submit=submit>
            <h2>"Import from a registry"</h2>
            <input type="hidden" name="form[namespace]" value=hidden_ns/>
            <input type="hidden" name="form[stream]" value=hidden_stream/>
            <label for="import-from">"Image or repository"</label>
            <input id="import-from" name="form[from]" required placeholder="quay.io/org/app:1.0" prop:value=from on:input=move |ev| from.set(event_target_value(&ev))
                aria-describedby="import-from-error"/>
            <p id="import-from-error" class="hint error">{from_error}</p>
            <label for="import-tag">"Into tag (default: the source's tag)"</label>
            <input id="import-tag" name="form[tag]" prop:value=tag on:input=move |ev| tag.set(event_target_value(&ev)) disabled=move || all.get()
                aria-describedby="import-tag-error"/>
            <p id="import-tag-error" class="hint error">{move || field_error(result(), "tag")}</p>
            <label><input type="checkbox" name="form[all]" value="true" prop:checked=all on:change=move |ev| all.set(event_target_checked(&ev))/>" every tag of the repository (--all)"</label>
            <label><input type="checkbox" name="form[scheduled]" value="true" prop:checked=scheduled on:change=move |ev| scheduled.set(event_target_checked(&ev))/>" re-import periodically"</label>
            <label><input type="checkbox" name="form[insecure]" value="true" prop:checked=insecure on:change=move |ev| insecure.set(event_target_checked(&ev))/>" insecure registry"</label>
            <label for="import-mode">"Import mode"</label>
            <select id="import-mode" name="form[import_mode]" on:change=move |ev| mode.set(event_target_value(&ev))>
                <option value="Legacy">"Legacy"</option>
                <option value="PreserveOriginal">"PreserveOriginal"</option>
            </select>
            <button type="submit" class="primary" disabled=move || from_error().is_some() || running()>
                {move || if running() { "Importing…" } else { "Import" }}
            </button>
            <p class="muted small" role="status" id="import-progress">{progress}</p>
            {move || match result() {
                Some(Ok(m)) => Some(view! { <p class="ok" role="status" id="import-result">{m}</p> }.into_any()),
                _ => unplaced(result(), &["from", "tag"]).map(|e| view! { <div id="import-result"><Failure failure=e/></div> }.into_any()),
            }}
        </form>
    }
}
