//! A namespace's audit log as markup, newest first.
//!
//! Must not: call server functions or decide who may read it (the server does).

use crate::model::AuditEntry;
use crate::widgets::{Ago, render_html};
use leptos::prelude::*;

/// The audit log as markup, newest first.
pub fn render_audit(entries: Vec<AuditEntry>) -> String {
    render_html(move || {
        if entries.is_empty() {
            return view! { <p class="empty">"Nothing changed yet."</p> }.into_any();
        }
        view! {
            <div class="table-wrap"><table class="audit">
                <caption class="sr-only">"Changes in this namespace, newest first"</caption>
                <thead><tr>
                    <th scope="col">"When"</th><th scope="col">"Who"</th><th scope="col">"Token"</th><th scope="col">"From"</th>
                    <th scope="col">"What"</th><th scope="col" class="num">"Code"</th><th scope="col">"Outcome"</th>
                </tr></thead>
                <tbody>
                    {entries.into_iter().map(|e| view! {
                        <tr>
                            <td><Ago time=e.time.clone()/></td>
                            <td>{e.user.clone().unwrap_or_else(|| "anonymous".into())}</td>
                            <td>{e.token.clone().unwrap_or_default()}</td>
                            <td>{e.remote.clone().unwrap_or_default()}</td>
                            <td class="error-text"><code>{e.action.clone()}</code></td>
                            <td class="num">{e.code}</td>
                            <td>{e.outcome.clone()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table></div>
        }
        .into_any()
    })
}
