//! Signing in (`/signin`, a plain form that needs no JavaScript) and one's account
//! (`/account`): who you are and where you belong, changing your password, and your API tokens
//! (created with limits, shown once, revoked). The token table is `views::account`.
//!
//! Must not: render the token table itself or restate the password rule (it is
//! `domain::accounts`).

use crate::api::{ApiFailure, TokenForm, change_password, create_token, current_user, list_tokens, revoke_token};
use crate::domain::accounts::Role;
use crate::live::Failure;
use crate::widgets::{PageTitle, Rendered, clicked, field_error, unplaced};
use leptos::prelude::*;

/// The sign-in page: a plain HTML form posted to `POST /api/v1/session`, so signing in needs no
/// JavaScript. The server answers with a redirect: to the page the visitor came from (`?next=`)
/// or the catalog, or back here with the reason (`?error=`, shown at the password field) and the
/// user name (`?user=`).
#[component]
pub fn SignInPage() -> impl IntoView {
    let (user, error, next) =
        leptos_router::hooks::use_query_map().with_untracked(|q| (q.get("user").unwrap_or_default(), q.get("error"), q.get("next")));
    // Back after a refusal, the name is filled in: the cursor goes to the password.
    let user_known = !user.is_empty();
    view! {
        <PageTitle text="Sign in"/>
        <h1>"Sign in"</h1>
        <form class="card signin" method="post" action="/api/v1/session">
            <label for="signin-user">"User name"</label>
            <input id="signin-user" name="username" autocomplete="username" required value=user autofocus=!user_known/>
            <label for="signin-password">"Password"</label>
            <input id="signin-password" name="password" type="password" autocomplete="current-password" required
                aria-describedby="signin-password-hint" aria-invalid=error.is_some().then_some("true") autofocus=user_known/>
            <p id="signin-password-hint" class="hint error">{error}</p>
            {next.map(|n| view! { <input type="hidden" name="next" value=n/> })}
            <button type="submit">"Sign in"</button>
        </form>
    }
}

#[component]
pub fn AccountPage() -> impl IntoView {
    view! {
        <PageTitle text="Account"/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {Suspend::new(async move {
                match current_user().await {
                    Ok(me) if me.user.is_none() => view! {
                        <h1>"Account"</h1>
                        <p>{if me.open { "This server has no administrator yet, so clients on its own machine act without signing in. Create the first administrator with the setup token from the server's log, or start it with --admin-password-file." } else { "You are not signed in." }}</p>
                        <p><a href="/signin">"Sign in"</a></p>
                    }
                    .into_any(),
                    Ok(me) => {
                        let table = list_tokens().await;
                        let name = me.user.clone().unwrap_or_default();
                        let admin = me.admin.then(|| view! { <p class="badge">"server administrator"</p> });
                        view! {
                            <h1>{name}</h1>
                            {admin}
                            <section aria-label="Namespaces">
                                <h2>"Your namespaces"</h2>
                                {if me.namespaces.is_empty() {
                                    view! { <p class="empty">"You belong to no namespace yet."</p> }.into_any()
                                } else {
                                    view! {
                                        <ul class="memberships">
                                            {me.namespaces.into_iter().map(|m| {
                                                let href = format!("/namespaces/{}", m.namespace);
                                                view! { <li><a href=href>{m.namespace.clone()}</a>" · "{m.role.clone()}</li> }
                                            }).collect_view()}
                                        </ul>
                                    }
                                    .into_any()
                                }}
                            </section>
                            <Tokens table/>
                            <PasswordForm/>
                        }
                        .into_any()
                    }
                    Err(e) => view! { <h1>"Account"</h1><Failure failure=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[island(lazy)]
fn PasswordForm() -> impl IntoView {
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let action = Action::new(move |(c, n): &(String, String)| change_password(c.clone(), n.clone()));
    Effect::new(move |_| {
        if matches!(action.value().get(), Some(Ok(()))) {
            current.set(String::new());
            new.set(String::new());
        }
    });
    let new_hint = move || {
        let n = new.get();
        // The rule the server applies, as you type; then the server's own answer.
        (!n.is_empty()).then(|| crate::domain::accounts::password_error(&n)).flatten().or_else(|| field_error(action.value().get(), "new"))
    };
    view! {
        <form class="card" on:submit=move |ev| {
            ev.prevent_default();
            action.value().set(None);
            action.dispatch((current.get(), new.get()));
        }>
            <h2>"Change password"</h2>
            <label for="password-current">"Current password"</label>
            <input id="password-current" type="password" autocomplete="current-password" required prop:value=current
                on:input=move |ev| current.set(event_target_value(&ev)) aria-describedby="password-current-hint"/>
            <p id="password-current-hint" class="hint error">{move || field_error(action.value().get(), "current")}</p>
            <label for="password-new">"New password"</label>
            <input id="password-new" type="password" autocomplete="new-password" required prop:value=new
                on:input=move |ev| new.set(event_target_value(&ev)) aria-describedby="password-new-hint"/>
            <p id="password-new-hint" class="hint error">{new_hint}</p>
            <button type="submit" disabled=move || new_hint().is_some() || action.pending().get()>"Change password"</button>
            {move || matches!(action.value().get(), Some(Ok(()))).then(|| view! { <p class="ok" role="status">"Password changed."</p> })}
            {move || unplaced(action.value().get(), &["current", "new"]).map(|f| view! { <p class="error" role="alert">{f.message}</p> })}
        </form>
    }
}

/// The caller's API tokens and the form for a new one. The page reads the table on the server
/// and hands it over (`table`), so the island needs no resource of its own; it reads it again
/// after a create or revoke.
#[island(lazy)]
fn Tokens(table: Result<String, ApiFailure>) -> impl IntoView {
    let version = RwSignal::new(0u32);
    let tokens = RwSignal::new(table);
    Effect::new(move |seen: Option<u32>| {
        let v = version.get();
        if seen.is_some_and(|s| s != v) {
            leptos::task::spawn_local(async move { tokens.set(list_tokens().await) });
        }
        v
    });
    let form = RwSignal::new(TokenForm::default());
    let create = Action::new(move |f: &TokenForm| create_token(f.clone()));
    let revoke = Action::new(move |id: &String| revoke_token(id.clone()));
    Effect::new(move |_| {
        let (c, r) = (create.value().get(), revoke.value().get());
        if matches!(c, Some(Ok(_))) || matches!(r, Some(Ok(()))) {
            version.update(|v| *v += 1);
        }
    });
    let created = move || match create.value().get() {
        Some(Ok(t)) => Some(view! {
            <div class="card ok" role="status">
                <p>"Token "<code>{t.id.clone()}</code>" created. Copy it now: it is not shown again."</p>
                <p class="pullspec"><code id="new-token">{t.token.clone()}</code>
                    <button type="button" class="copy" data-copy=t.token.clone().unwrap_or_default() aria-label="Copy the new token">"Copy"</button></p>
            </div>
        }),
        _ => None,
    };
    let set = move |f: fn(&mut TokenForm, String)| move |ev| form.update(|t| f(t, event_target_value(&ev)));
    // The table's markup comes from the server; its "Revoke" buttons name their token.
    let on_revoke = move |ev: leptos::ev::MouseEvent| {
        if let Some((_, id)) = clicked(&ev, "data-revoke") {
            revoke.dispatch(id);
        }
    };
    view! {
        <section aria-label="API tokens">
            <h2>"API tokens"</h2>
            {move || match tokens.get() {
                Ok(html) => view! { <div class="rendered" on:click=on_revoke><Rendered html/></div> }.into_any(),
                Err(e) => view! { <Failure failure=e/> }.into_any(),
            }}
            {created}
            <form class="card" on:submit=move |ev| {
                ev.prevent_default();
                create.value().set(None);
                create.dispatch(form.get());
            }>
                <h3>"New token"</h3>
                <label for="token-name">"Name (what it is for)"</label>
                <input id="token-name" required prop:value=move || form.get().name on:input=set(|t, v| t.name = v)/>
                <label for="token-namespaces">"Only these namespaces (comma-separated; empty: all of yours)"</label>
                <input id="token-namespaces" prop:value=move || form.get().namespaces on:input=set(|t, v| t.namespaces = v)/>
                <label for="token-role">"At most this role"</label>
                <select id="token-role" on:change=set(|t, v| t.max_role = v)>
                    <option value="">"your roles"</option>
                    {Role::ALL.map(Role::as_str).iter().map(|r| view! { <option value=*r>{*r}</option> }).collect_view()}
                </select>
                <label for="token-expires">"Expires in (days; empty: never)"</label>
                <input id="token-expires" inputmode="numeric" prop:value=move || form.get().expires_in_days
                    on:input=set(|t, v| t.expires_in_days = v) aria-describedby="token-expires-hint"/>
                <p id="token-expires-hint" class="hint error">{move || field_error(create.value().get(), "expires")}</p>
                <button type="submit" disabled=move || create.pending().get() || form.get().name.trim().is_empty()>"Create token"</button>
                {move || unplaced(create.value().get(), &["expires"]).map(|f| view! { <p class="error" role="alert">{f.message}</p> })}
            </form>
        </section>
    }
}
