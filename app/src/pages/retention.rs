//! The prune page of a namespace (`/namespaces/<ns>/prune`, issue 16 points 3–4): its retention
//! policy as a form (checked as you type with `domain::retention::parse_form`, the server's
//! answer shown at the field it names), "Preview" (a dry run of the form's policy, saved or not:
//! every history item with its decision and the rule's reason, as `prune images` words it),
//! "Save policy", "Run now" (asks for confirmation: it really deletes history) and the runs the
//! schedule and people made. Members see the policy and the runs; only admins get the controls.
//! Also the server administrators' whole-server preview (`/admin/prune`).
//!
//! Must not: render a report or the runs itself (that is `views::retention`), or restate a rule.

use crate::api::{
    ApiFailure, PruneJob, current_user, get_namespace_settings, get_retention_policy, get_server_prune, list_retention_runs,
    preview_retention, run_retention, save_retention, start_server_prune,
};
use crate::domain::prune::{PruneOptions, short_duration};
use crate::domain::retention::{RetentionPolicy, StoredRetentionPolicy, parse_duration, parse_form};
use crate::live::Failure;
use crate::model::FieldError;
use crate::widgets::{PageTitle, Rendered, sign_in_href, unplaced};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn RetentionPage() -> impl IntoView {
    let ns = use_params_map().with_untracked(|p| p.get("ns").unwrap_or_default());
    let back = format!("/namespaces/{ns}");
    view! {
        <PageTitle text=format!("Retention of {ns}")/>
        <p class="crumbs"><a href=back>"Namespace " {ns.clone()}</a></p>
        <h1>"Retention of " {ns.clone()}</h1>
        <p class="muted">
            "The policy runs on a schedule as a real prune of this namespace's tag histories. The head of every tag always stays; "
            "Image objects stay too (other namespaces may share them), and the registry's garbage collection reclaims their storage."
        </p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                let ns = ns.clone();
                Suspend::new(async move {
                    let loaded = async {
                        let settings = get_namespace_settings(ns.clone()).await?;
                        let policy = get_retention_policy(ns.clone()).await?;
                        Ok::<_, ApiFailure>((settings.can_admin, policy))
                    }
                    .await;
                    let runs = list_retention_runs(ns.clone()).await;
                    view! { <RetentionPanel ns loaded runs/> }
                })
            }}
        </Suspense>
    }
}

/// The policy form (admins) or the policy (members), and the runs. The page reads both on the
/// server and hands them over (`loaded`, `runs`), so the island needs no resource of its own; it
/// reads the runs again after "Run now".
#[island(lazy)]
fn RetentionPanel(
    ns: String,
    loaded: Result<(bool, Option<StoredRetentionPolicy>), ApiFailure>,
    runs: Result<String, ApiFailure>,
) -> impl IntoView {
    let ns = Signal::stored(ns);
    let runs_version = RwSignal::new(0u32);
    let runs = RwSignal::new(runs);
    Effect::new(move |seen: Option<u32>| {
        let v = runs_version.get();
        if seen.is_some_and(|s| s != v) {
            leptos::task::spawn_local(async move { runs.set(list_retention_runs(ns.get_untracked()).await) });
        }
        v
    });
    view! {
        {match loaded {
            Ok((true, stored)) => view! { <PolicyForm ns stored runs_changed=runs_version/> }.into_any(),
            Ok((false, stored)) => view! { <PolicyFacts stored/> }.into_any(),
            Err(e) => view! { <Failure failure=e/> }.into_any(),
        }}
        <section aria-labelledby="runs-title">
            <h2 id="runs-title">"Runs"</h2>
            {move || match runs.get() {
                Ok(html) => view! { <div id="retention-runs"><Rendered html/></div> }.into_any(),
                Err(e) => view! { <Failure failure=e/> }.into_any(),
            }}
        </section>
    }
}

/// What a member (not an admin) sees of the policy.
#[component]
fn PolicyFacts(stored: Option<StoredRetentionPolicy>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="policy-title">
            <h2 id="policy-title">"Policy"</h2>
            {match stored {
                Some(s) => view! {
                    <p id="policy-summary">{s.policy.describe()}</p>
                    <p class="muted small">{format!("Set by {} at {}.", s.updated_by, s.updated)}</p>
                }.into_any(),
                None => view! { <p class="empty">"This namespace has no retention policy."</p> }.into_any(),
            }}
        </section>
    }
}

/// The first message about `field` (or a field under it, `keepTagPatterns[1]`).
fn message_at(errs: &[FieldError], field: &str) -> Option<String> {
    errs.iter().find(|e| e.field == field || e.field.starts_with(&format!("{field}["))).map(|e| e.to_string())
}

/// The form's text for a stored duration.
fn duration_text(seconds: i64) -> String {
    short_duration(seconds.max(0) as u64)
}

/// The admins' form: policy fields, Preview, Save, Run now, and the preview below.
#[component]
fn PolicyForm(ns: Signal<String>, stored: Option<StoredRetentionPolicy>, runs_changed: RwSignal<u32>) -> impl IntoView {
    let initial = stored.as_ref().map(|s| s.policy.clone()).unwrap_or_default();
    let revisions = RwSignal::new(initial.keep_tag_revisions.to_string());
    let younger = RwSignal::new(duration_text(initial.keep_younger_than_seconds));
    let patterns = RwSignal::new(initial.keep_tag_patterns.join(", "));
    let pulled = RwSignal::new(initial.pulled_within_seconds.map(duration_text).unwrap_or_default());
    let saved = RwSignal::new(stored.is_some());
    let confirm = RwSignal::new(false);

    let parsed = move || parse_form(&revisions.get(), &younger.get(), &patterns.get(), &pulled.get());
    let preview = Action::new(move |p: &RetentionPolicy| preview_retention(ns.get_untracked(), p.clone()));
    let save = Action::new(move |p: &RetentionPolicy| save_retention(ns.get_untracked(), p.clone()));
    let run = Action::new(move |_: &()| run_retention(ns.get_untracked()));
    Effect::new(move |_| {
        if matches!(save.value().get(), Some(Ok(()))) {
            saved.set(true);
        }
    });
    Effect::new(move |_| {
        if run.value().get().is_some() {
            runs_changed.update(|v| *v += 1);
        }
    });

    // A field's message: the form's own rule once something is typed, else what the server said
    // about it (saving or previewing).
    let hint = move |field: &'static str| -> Option<String> {
        if let Err(errs) = parsed()
            && let Some(m) = message_at(&errs, field)
        {
            return Some(m);
        }
        [save.value().get().map(|r| r.map(|_| ())), preview.value().get().map(|r| r.map(|_| ()))]
            .into_iter()
            .flatten()
            .find_map(|r| r.err())
            .filter(|f| f.field.as_deref().is_some_and(|x| x == field || x.starts_with(&format!("{field}["))))
            .map(|f| f.message)
    };
    let invalid = move |field: &'static str| hint(field).is_some().to_string();
    let valid = move || parsed().is_ok();
    let do_preview = move || {
        if let Ok(p) = parsed() {
            preview.dispatch(p);
        }
    };

    view! {
        <form class="card retention-form" aria-labelledby="policy-title" on:submit=move |ev| {
            ev.prevent_default();
            if let Ok(p) = parsed() { save.value().set(None); save.dispatch(p); }
        }>
            <h2 id="policy-title">"Policy"</h2>
            <label for="retention-revisions">"Keep the newest revisions of each tag"</label>
            <input id="retention-revisions" type="number" min="0" max="1000" inputmode="numeric" required
                prop:value=revisions on:input=move |ev| revisions.set(event_target_value(&ev))
                aria-invalid=move || invalid("keepTagRevisions") aria-describedby="retention-revisions-hint"/>
            <p id="retention-revisions-hint" class="hint error">{move || hint("keepTagRevisions")}</p>

            <label for="retention-younger">"Keep anything younger than (e.g. 60m, 12h, 7d)"</label>
            <input id="retention-younger" required prop:value=younger on:input=move |ev| younger.set(event_target_value(&ev))
                aria-invalid=move || invalid("keepYoungerThanSeconds") aria-describedby="retention-younger-hint"/>
            <p id="retention-younger-hint" class="hint error">{move || hint("keepYoungerThanSeconds")}</p>

            <label for="retention-patterns">"Keep the whole history of tags matching (* matches anything; separate with commas)"</label>
            <input id="retention-patterns" placeholder="release-*, v1.*" prop:value=patterns
                on:input=move |ev| patterns.set(event_target_value(&ev))
                aria-invalid=move || invalid("keepTagPatterns") aria-describedby="retention-patterns-hint"/>
            <p id="retention-patterns-hint" class="hint error">{move || hint("keepTagPatterns")}</p>

            <label for="retention-pulled">"Keep what was pulled within (empty: the server's setting; 0: ignore pulls)"</label>
            <input id="retention-pulled" placeholder="7d" prop:value=pulled on:input=move |ev| pulled.set(event_target_value(&ev))
                aria-invalid=move || invalid("pulledWithinSeconds") aria-describedby="retention-pulled-hint"/>
            <p id="retention-pulled-hint" class="hint error">{move || hint("pulledWithinSeconds")}</p>

            <div class="actions">
                <button type="button" on:click=move |_| do_preview() disabled=move || !valid() || preview.pending().get()>"Preview"</button>
                <button type="submit" class="primary" disabled=move || !valid() || save.pending().get()>"Save policy"</button>
                <button type="button" class="danger" disabled=move || !saved.get() || run.pending().get()
                    title=move || if saved.get() { "Prune this namespace now with the saved policy" } else { "Save a policy first" }
                    on:click=move |_| {
                        if confirm.get() { run.dispatch(()); confirm.set(false); } else { confirm.set(true); }
                    }>
                    {move || if confirm.get() { "Confirm: run now" } else { "Run now…" }}
                </button>
                {move || confirm.get().then(|| view! {
                    <button type="button" on:click=move |_| confirm.set(false)>"Cancel"</button>
                })}
            </div>
            {move || confirm.get().then(|| view! {
                <p class="hint" role="alert">"This prunes the namespace now with the saved policy (not the form's unsaved changes) and cannot be undone. Press again to confirm."</p>
            })}
            {move || match save.value().get() {
                Some(Ok(())) => Some(view! { <p class="ok" role="status">"Policy saved."</p> }.into_any()),
                _ => unplaced(save.value().get(), &POLICY_FIELDS).map(|e| view! { <p class="error" role="alert">{e.message}</p> }.into_any()),
            }}
            {move || match run.value().get() {
                Some(Ok(m)) => Some(view! { <p class="ok" role="status" id="run-result">{m}</p> }.into_any()),
                Some(Err(e)) => Some(view! { <p class="error" role="alert">{e.message}</p> }.into_any()),
                None => None,
            }}
        </form>
        {move || match preview.value().get() {
            Some(Ok(html)) => Some(view! { <div id="retention-preview"><Rendered html/></div> }.into_any()),
            _ => unplaced(preview.value().get(), &POLICY_FIELDS).map(|e| view! { <p class="error" role="alert">{e.message}</p> }.into_any()),
        }}
    }
}

/// The policy fields the form shows messages under; a failure about any other is shown beside
/// the buttons.
const POLICY_FIELDS: [&str; 4] = ["keepTagRevisions", "keepYoungerThanSeconds", "keepTagPatterns", "pulledWithinSeconds"];

#[component]
pub fn ServerPrunePage() -> impl IntoView {
    view! {
        <PageTitle text="Prune images"/>
        <h1>"Prune images (whole server)"</h1>
        <p class="muted">
            "A dry run of prune images over every namespace: history items, then Image objects nothing refers to any more. "
            "Nothing is changed here; imagestreams prune images --confirm does it."
        </p>
        // The preview is for server administrators: others get why, not a form that answers 403.
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                match current_user().await {
                    Ok(me) if me.admin || me.open => view! { <ServerPrunePreview/> }.into_any(),
                    Ok(me) if me.user.is_none() => view! {
                        <p id="server-prune-refused">"Only server administrators may preview a prune of the whole server. "
                            <a href=sign_in_href()>"Sign in"</a>" as one to continue."</p>
                    }.into_any(),
                    Ok(_) => view! {
                        <p id="server-prune-refused">"Only server administrators may preview a prune of the whole server; "
                            "a namespace's admins prune it from the namespace's retention page."</p>
                    }.into_any(),
                    Err(e) => view! { <Failure failure=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Polls a whole-server prune preview every 300 ms until it finishes, into `state`.
fn poll_prune(id: String, state: RwSignal<Option<PruneJob>>) {
    leptos::task::spawn_local(async move {
        match get_server_prune(id.clone()).await {
            Ok(job) => {
                let finished = job.result.is_some();
                state.set(Some(job));
                if !finished {
                    set_timeout(move || poll_prune(id, state), std::time::Duration::from_millis(300));
                }
            }
            Err(e) => state.set(Some(PruneJob { result: Some(Err(e)), ..Default::default() })),
        }
    });
}

/// The server-wide dry run's options, its live progress (it runs in the background: a large
/// server takes seconds) and its report.
#[island(lazy)]
fn ServerPrunePreview() -> impl IntoView {
    let revisions = RwSignal::new("3".to_string());
    let younger = RwSignal::new("60m".to_string());
    let options = move || -> Result<PruneOptions, String> {
        let keep_tag_revisions =
            revisions.get().trim().parse::<u32>().map_err(|_| "Revisions: must be a whole number, 0 or more".to_string())?;
        let keep_younger_than_seconds = parse_duration(&younger.get()).map_err(|e| format!("Younger than: {e}"))?;
        Ok(PruneOptions { keep_tag_revisions, keep_younger_than_seconds: keep_younger_than_seconds.max(0) as u64, ..Default::default() })
    };
    let state: RwSignal<Option<PruneJob>> = RwSignal::new(None);
    let start = Action::new(move |o: &PruneOptions| {
        let o = o.clone();
        async move { start_server_prune(o).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(id)) = start.value().get() {
            poll_prune(id, state);
        }
    });
    let running = move || start.pending().get() || state.get().is_some_and(|j| j.result.is_none());
    view! {
        <form class="card retention-form" aria-label="Prune options" on:submit=move |ev| {
            ev.prevent_default();
            if let Ok(o) = options() {
                state.set(None);
                start.dispatch(o);
            }
        }>
            <label for="prune-revisions">"Keep the newest revisions of each tag"</label>
            <input id="prune-revisions" type="number" min="0" prop:value=revisions on:input=move |ev| revisions.set(event_target_value(&ev))/>
            <label for="prune-younger">"Keep anything younger than"</label>
            <input id="prune-younger" prop:value=younger on:input=move |ev| younger.set(event_target_value(&ev)) aria-describedby="prune-hint"/>
            <p id="prune-hint" class="hint error">{move || options().err()}</p>
            <button type="submit" class="primary" disabled=move || options().is_err() || running()>"Preview"</button>
        </form>
        {move || match (start.value().get(), state.get()) {
            (Some(Err(e)), _) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
            (_, Some(PruneJob { result: Some(Ok(html)), .. })) => view! { <div id="server-prune-preview"><Rendered html/></div> }.into_any(),
            (_, Some(PruneJob { result: Some(Err(e)), .. })) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
            (_, Some(PruneJob { phase, done, total, result: None })) => {
                let what = if phase == "images" { "Image objects" } else { "streams" };
                let text = format!("Deciding… {done} of {total} {what}");
                view! {
                    <div class="prune-progress" role="status" aria-live="polite">
                        <progress max=total.max(1) value=done aria-label="Prune preview progress"></progress>
                        <span>{text}</span>
                    </div>
                }
                .into_any()
            }
            _ => ().into_any(),
        }}
    }
}
