//! The account page's token table as markup; its "Revoke" buttons name their token
//! (`data-revoke`) for the island around it.
//!
//! Must not: call server functions or hold the token forms (that is `pages::account`).

use crate::model::ApiToken;
use crate::widgets::{Ago, render_html};
use leptos::prelude::*;

/// The token table as markup.
pub fn render_tokens(list: Vec<ApiToken>) -> String {
    render_html(move || {
        if list.is_empty() {
            return view! { <p class="empty">"No tokens yet."</p> }.into_any();
        }
        view! {
            <div class="table-wrap"><table class="tokens">
                <caption class="sr-only">"Your API tokens"</caption>
                <thead><tr>
                    <th scope="col">"ID"</th><th scope="col">"Name"</th><th scope="col">"Namespaces"</th>
                    <th scope="col">"Max role"</th><th scope="col">"Expires"</th><th scope="col">"Created"</th>
                    <th scope="col">"State"</th><th scope="col"><span class="sr-only">"Actions"</span></th>
                </tr></thead>
                <tbody>{list.into_iter().map(token_row).collect_view()}</tbody>
            </table></div>
        }
        .into_any()
    })
}

fn token_row(t: ApiToken) -> impl IntoView {
    let active = t.revoked.is_none();
    let label = format!("Revoke token {}", t.name);
    view! {
        <tr data-token=t.id.clone()>
            <td><code>{t.id.clone()}</code></td>
            <td>{t.name.clone()}</td>
            <td>{t.namespaces.clone().map(|n| n.join(", ")).unwrap_or_else(|| "all".into())}</td>
            <td>{t.max_role.clone().unwrap_or_else(|| "—".into())}</td>
            <td>{t.expires.clone().map(|e| { let shown = e.clone(); view! { <time datetime=e>{shown}</time> }.into_any() }).unwrap_or_else(|| "never".into_any())}</td>
            <td><Ago time=t.created.clone()/></td>
            <td class="state">{if active { "active" } else { "revoked" }}</td>
            <td>{active.then(|| view! { <button type="button" class="danger" aria-label=label data-revoke=t.id.clone()>"Revoke"</button> })}</td>
        </tr>
    }
}
