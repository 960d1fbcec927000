//! The wall dashboard's content as markup: recent tag movements, failing imports, streams
//! updated today. It has no controls at all.
//!
//! Must not: call server functions or refresh itself (that is `pages::dashboard` and `live`).

use crate::domain::plain::import_reason_words;
use crate::transfer::types::Dashboard;
use crate::widgets::{Ago, render_html, short_digest};
use leptos::prelude::*;

/// The dashboard's content as markup: it has no controls at all.
pub fn render(d: Dashboard) -> String {
    render_html(move || {
        view! {
            <section aria-labelledby="moves">
                <h2 id="moves">"Recent tag movements"</h2>
                {if d.movements.is_empty() { view! { <p class="empty">"Nothing moved yet."</p> }.into_any() } else {
                    view! { <ol class="moves">{d.movements.into_iter().map(|m| view! {
                        <li><strong>{format!("{}/{}:{}", m.namespace, m.stream, m.tag)}</strong>" → "<code>{short_digest(&m.event.image)}</code>" "<Ago time=m.event.created/></li>
                    }).collect_view()}</ol> }.into_any()
                }}
            </section>
            <section aria-labelledby="failing">
                <h2 id="failing">"Failing imports"</h2>
                {if d.failing.is_empty() { view! { <p class="ok">"All imports are healthy."</p> }.into_any() } else {
                    view! { <ul class="failing">{d.failing.into_iter().map(|f| view! {
                        <li><strong>{format!("{}/{}:{}", f.namespace, f.stream, f.tag)}</strong>" "<span class="reason">{import_reason_words(&f.condition.reason, &f.condition.message)}</span>": "{f.condition.message}</li>
                    }).collect_view()}</ul> }.into_any()
                }}
            </section>
            <section aria-labelledby="today">
                <h2 id="today">"Updated today"</h2>
                {if d.updated_today.is_empty() { view! { <p class="empty">"No stream changed today."</p> }.into_any() } else {
                    view! { <ul class="today">{d.updated_today.into_iter().map(|s| view! {
                        <li>{format!("{}/{}", s.namespace, s.name)}" "<span class="muted">{s.tags}</span></li>
                    }).collect_view()}</ul> }.into_any()
                }}
            </section>
            <p class="muted small">"Updated "{d.generated}</p>
        }
    })
}
