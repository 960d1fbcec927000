//! A namespace's settings (`/namespaces/<ns>`): its members and their roles, whether it is
//! public, the storage its images use in the portal's registry, and its audit log, for its
//! admins; its members see who belongs. Links to its webhooks and its retention policy (the
//! prune page, `pages::retention`).
//! The audit log is `views::namespace`, a live part here.
//!
//! Must not: render the audit log itself or decide who may change what (the server does).

use crate::api::{ApiFailure, NamespaceSettings, get_namespace_settings, namespace_audit, remove_member, set_member, set_public};
use crate::domain::accounts::{Role, validate_user_name};
use crate::domain::plain::rule_words;
use crate::domain::present::human_size;
use crate::live::{Failure, LivePart, PartSource, announce_change};
use crate::widgets::{PageTitle, Rendered, field_error, unplaced};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn NamespacePage() -> impl IntoView {
    let ns = use_params_map().with_untracked(|p| p.get("ns").unwrap_or_default());
    let hooks = format!("/webhooks/{ns}");
    let prune = format!("/namespaces/{ns}/prune");
    let panel_ns = ns.clone();
    view! {
        <PageTitle text=format!("Namespace {ns}")/>
        <h1>"Namespace " {ns.clone()}</h1>
        <p><a href=hooks>"Webhooks of this namespace"</a>" · "<a href=prune>"Retention policy and pruning"</a></p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {Suspend::new(async move {
                let settings = get_namespace_settings(panel_ns.clone()).await;
                view! { <NamespaceSettingsPanel ns=panel_ns settings/> }
            })}
        </Suspense>
        // The audit log is for the namespace's admins (asked first: a refused read would set
        // the page's status).
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                if !get_namespace_settings(ns.clone()).await.is_ok_and(|s| s.can_admin) {
                    return None;
                }
                Some(match namespace_audit(ns.clone()).await {
                    Ok(html) => view! {
                        <section aria-label="Audit log">
                            <h2>"Audit log"</h2>
                            <LivePart part=PartSource::Audit { namespace: ns }><Rendered html/></LivePart>
                        </section>
                    }
                    .into_any(),
                    Err(e) => view! { <Failure failure=e/> }.into_any(),
                })
            })}
        </Suspense>
    }
}

/// Visibility and members, with the admins' controls (the audit log beside it is a live part).
/// The page reads the settings on the server and hands them over (`settings`), so the island
/// needs no resource of its own; it reads them again after a change.
#[island(lazy)]
fn NamespaceSettingsPanel(ns: String, settings: Result<NamespaceSettings, ApiFailure>) -> impl IntoView {
    let ns = Signal::stored(ns);
    let version = RwSignal::new(0u32);
    let settings = RwSignal::new(settings);
    // The actions live here, not in the controls: the controls are built again from every
    // reading, and an action still running when that happens (a click right after another
    // change) must still say it succeeded, or the page would not read the settings again.
    let actions = SettingsActions {
        change: Action::new(move |(user, role): &(String, String)| set_member(ns.get_untracked(), user.clone(), role.clone())),
        remove: Action::new(move |user: &String| remove_member(ns.get_untracked(), user.clone())),
        publish: Action::new(move |public: &bool| set_public(ns.get_untracked(), *public)),
        new_member: NewMember { user: RwSignal::new(String::new()), role: RwSignal::new("viewer".to_string()), added: RwSignal::new(None) },
    };
    Effect::new(move |_| {
        let (c, r, p) = (actions.change.value().get(), actions.remove.value().get(), actions.publish.value().get());
        if matches!(c, Some(Ok(()))) || matches!(r, Some(Ok(()))) || matches!(p, Some(Ok(()))) {
            version.update(|v| *v += 1);
            announce_change();
        }
    });
    // The "Add a member" field empties once the name it was sent with is in; a name typed
    // meanwhile (the next member) stays, and so does one the server refused.
    Effect::new(move |_| {
        let new_member = actions.new_member;
        if let Some(answer) = actions.change.value().get() {
            let sent = new_member.added.get_untracked();
            if answer.is_ok() && sent.is_some_and(|sent| sent == new_member.user.get_untracked()) {
                new_member.user.set(String::new());
            }
            new_member.added.set(None);
        }
    });
    Effect::new(move |seen: Option<u32>| {
        let v = version.get();
        if seen.is_some_and(|s| s != v) {
            leptos::task::spawn_local(async move {
                let read = get_namespace_settings(ns.get_untracked()).await;
                // Only the reading asked for last is shown: one asked for before a later change
                // may answer after it, with the settings as they were.
                if version.get_untracked() == v {
                    settings.set(read);
                }
            });
        }
        v
    });
    move || match settings.get() {
        Ok(s) => view! { <SettingsControls settings=s actions/> }.into_any(),
        Err(e) => view! { <Failure failure=e/> }.into_any(),
    }
}

/// What an admin can change here: a member's role (or a new member), removing a member, and
/// the namespace's visibility; and the "Add a member" form's fields, which outlive the controls
/// built from each reading (typing the next member while the page reads the settings after the
/// last one must not lose it).
#[derive(Clone, Copy)]
struct SettingsActions {
    change: Action<(String, String), Result<(), ApiFailure>>,
    remove: Action<String, Result<(), ApiFailure>>,
    publish: Action<bool, Result<(), ApiFailure>>,
    new_member: NewMember,
}

/// The "Add a member" form: the name and role typed, and the name last sent.
#[derive(Clone, Copy)]
struct NewMember {
    user: RwSignal<String>,
    role: RwSignal<String>,
    added: RwSignal<Option<String>>,
}

/// The visibility and member controls (admins) or facts (members) of the loaded settings.
#[component]
fn SettingsControls(settings: NamespaceSettings, actions: SettingsActions) -> impl IntoView {
    let admin = settings.can_admin;
    let SettingsActions { change, remove, publish, new_member } = actions;
    let failure = move || {
        [change.value().get(), remove.value().get(), publish.value().get()]
            .into_iter()
            .flatten()
            .find_map(|r: Result<(), ApiFailure>| unplaced(Some(r), &["user"]))
            .map(|f| view! { <p class="error" role="alert">{f.message}</p> })
    };
    let public = settings.public;
    let storage =
        format!("{} in the portal's registry storage (blobs shared between images count once).", human_size(settings.storage_bytes));
    let NewMember { user: new_user, role: new_role, added } = new_member;
    // As you type, the rule the server applies (a user's name is an RFC 1123 label); else what
    // the server said of the name sent.
    let typed_hint = move || {
        let name = new_user.get();
        let name = name.trim();
        (!name.is_empty()).then(|| validate_user_name(name, "user").first().map(|e| rule_words(&e.field, &e.detail))).flatten()
    };
    let user_hint = move || typed_hint().or_else(|| field_error(change.value().get(), "user"));
    view! {
        <section aria-label="Visibility" class="card">
            <h2>"Visibility"</h2>
            <p>{if public { "Public: anyone may read this namespace without signing in." } else { "Private: only its members may read it." }}</p>
            {admin.then(|| view! {
                <button type="button" on:click=move |_| { publish.dispatch(!public); }>
                    {if public { "Make private" } else { "Make public" }}
                </button>
            })}
        </section>
        <section aria-label="Storage" class="card">
            <h2>"Storage"</h2>
            <p id="namespace-storage">{storage}</p>
        </section>
        <section aria-label="Members">
            <h2>"Members"</h2>
            <div class="table-wrap"><table class="members">
                <caption class="sr-only">"Members and their roles"</caption>
                <thead><tr><th scope="col">"User"</th><th scope="col">"Role"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                <tbody>
                    {settings.members.is_empty().then(|| view! { <tr><td colspan="3" class="muted">"No members yet."</td></tr> })}
                    {settings.members.into_iter().map(|m| {
                        let (user, row_key, removed) = (m.user.clone(), m.user.clone(), m.user.clone());
                        let label = format!("Role of {}", m.user);
                        let remove_label = format!("Remove {}", m.user);
                        let role_cell = if admin {
                            let current = m.role.clone();
                            view! {
                                <select aria-label=label on:change=move |ev| { change.dispatch((user.clone(), event_target_value(&ev))); }>
                                    {Role::ALL.map(Role::as_str).iter().map(|r| view! { <option value=*r selected=*r == current.as_str()>{*r}</option> }).collect_view()}
                                </select>
                            }.into_any()
                        } else {
                            m.role.clone().into_any()
                        };
                        view! {
                            <tr data-member=row_key>
                                <td>{m.user.clone()}</td>
                                <td>{role_cell}</td>
                                <td>{admin.then(|| view! { <button type="button" class="danger" aria-label=remove_label on:click=move |_| { remove.dispatch(removed.clone()); }>"Remove"</button> })}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table></div>
            {failure}
            {admin.then(|| view! {
                <form class="card" on:submit=move |ev| {
                    ev.prevent_default();
                    let user = new_user.get().trim().to_string();
                    added.set(Some(new_user.get()));
                    change.dispatch((user, new_role.get()));
                }>
                    <h3>"Add a member"</h3>
                    <label for="member-user">"User name"</label>
                    <input id="member-user" required prop:value=new_user on:input=move |ev| new_user.set(event_target_value(&ev)) aria-describedby="member-user-hint"/>
                    <p id="member-user-hint" class="hint error">{user_hint}</p>
                    <label for="member-role">"Role"</label>
                    <select id="member-role" on:change=move |ev| new_role.set(event_target_value(&ev))>
                        {Role::ALL.map(Role::as_str).into_iter().map(|r| view! { <option value=r selected=move || new_role.get() == r>{r}</option> }).collect_view()}
                    </select>
                    <button type="submit" disabled=move || typed_hint().is_some()>"Add member"</button>
                </form>
            })}
        </section>
    }
}
