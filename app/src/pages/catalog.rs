//! The catalog (`/`): namespaces and their streams with the `oc get is` columns.

use crate::api::{CatalogNamespace, list_catalog};
use crate::domain::present::ago;
use leptos::prelude::*;

#[component]
pub fn CatalogPage() -> impl IntoView {
    let catalog = Resource::new(|| (), |_| list_catalog());
    // Flips once the WASM has hydrated the page; end-to-end tests wait for it.
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| set_hydrated.set(true));
    view! {
        <h1>"Image streams"</h1>
        <p id="hydration-state" class="sr-only">{move || if hydrated.get() { "hydrated" } else { "ssr" }}</p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match catalog.await {
                    Ok(namespaces) => view! { <Namespaces namespaces/> }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Namespaces(namespaces: Vec<CatalogNamespace>) -> impl IntoView {
    let now = chrono::Utc::now();
    if namespaces.is_empty() {
        return view! { <p>"No namespaces yet."</p> }.into_any();
    }
    namespaces
        .into_iter()
        .map(|ns| {
            let label = format!("Streams in {}", ns.name);
            view! {
                <section class="namespace" data-namespace=ns.name.clone()>
                    <h2>{ns.name.clone()}</h2>
                    {if ns.streams.is_empty() {
                        view! { <p class="empty">"No image streams."</p> }.into_any()
                    } else {
                        view! {
                            <table aria-label=label>
                                <thead>
                                    <tr>
                                        <th scope="col">"Name"</th>
                                        <th scope="col">"Image repository"</th>
                                        <th scope="col">"Tags"</th>
                                        <th scope="col">"Updated"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {ns.streams.into_iter().map(|s| {
                                        let name = s.name.clone();
                                        view! {
                                        <tr class="stream" data-stream=name>
                                            <td>{s.name}</td>
                                            <td><code>{s.image_repository}</code></td>
                                            <td>{s.tags}</td>
                                            <td>{s.updated.map(|t| ago(&t, now)).unwrap_or_default()}</td>
                                        </tr>
                                    }}).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    }}
                </section>
            }
        })
        .collect_view()
        .into_any()
}
