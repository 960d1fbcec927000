//! The catalog's table of streams with its pager, as markup.
//!
//! Must not: call server functions or hold the search form (that is `pages::catalog`).

use crate::domain::plain::count;
use crate::transfer::types::{CatalogSlice, RenderedPart};
use crate::widgets::{Ago, query_value, render_html};
use leptos::prelude::*;

/// The table of a catalog page with its pager, as markup, for the search `q` and `sort`.
pub fn render(page: CatalogSlice, q: &str, sort: &str) -> RenderedPart {
    let resource_version = page.resource_version.clone();
    let (q, sort) = (q.to_string(), sort.to_string());
    RenderedPart { html: render_html(move || view! { <CatalogTable page q sort/> }), resource_version }
}

#[component]
fn CatalogTable(page: CatalogSlice, q: String, sort: String) -> impl IntoView {
    let pages = page.total.div_ceil(page.page_size as u64).max(1) as u32;
    let link = move |p: u32| format!("/?q={}&sort={}&page={p}", query_value(&q), sort);
    let summary = format!("{} · page {} of {}", count(page.total, "stream"), page.page, pages);
    let prev = (page.page > 1).then(|| link(page.page - 1));
    let next = (page.page < pages).then(|| link(page.page + 1));
    if page.streams.is_empty() {
        return view! { <p class="empty">"No image streams match."</p> }.into_any();
    }
    view! {
        <p class="muted" id="catalog-summary">{summary}</p>
        <div class="table-wrap">
            <table aria-label="Image streams">
                <thead>
                    <tr>
                        <th scope="col">"Namespace"</th>
                        <th scope="col">"Name"</th>
                        <th scope="col" class="wide">"Image repository"</th>
                        <th scope="col">"Tags"</th>
                        <th scope="col">"Updated"</th>
                        <th scope="col" class="num">"Tags / images"</th>
                    </tr>
                </thead>
                <tbody>
                    {page
                        .streams
                        .into_iter()
                        .map(|s| {
                            let href = format!("/ns/{}/{}", s.namespace, s.name);
                            let key = format!("{}/{}", s.namespace, s.name);
                            let counts = format!("{} / {}", s.tag_count, s.image_count);
                            view! {
                                <tr class="stream" data-stream=s.name.clone() data-key=key>
                                    <td>{s.namespace.clone()}</td>
                                    <td><a href=href>{s.name.clone()}</a></td>
                                    <td class="wide"><code>{s.image_repository.clone()}</code></td>
                                    <td>{s.tags.clone()}</td>
                                    <td>{s.updated.clone().map(|t| view! { <Ago time=t/> })}</td>
                                    <td class="num">{counts}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
        <nav class="pager" aria-label="Pages">
            {prev.map(|h| view! { <a href=h rel="prev">"← Previous"</a> })}
            {next.map(|h| view! { <a href=h rel="next">"Next →"</a> })}
        </nav>
    }
    .into_any()
}
