//! The image page (`/images/:digest`): what the image is (digest, reference, created, author,
//! platform, size), its layers, config and labels, the platforms of a manifest list, where it
//! is tagged now and was before, and its YAML as `get isimage … -o yaml --export` shows it.
//! The content is `views::image`, a live part here.
//!
//! Must not: render the content itself.

use crate::api::{get_image_page, get_stream_image_page};
use crate::live::{Failure, LiveConnection, LivePart, PartSource};
use crate::transfer::types::RenderedPart;
use crate::widgets::{PageTitle, Rendered, short_digest};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn ImagePage() -> impl IntoView {
    let digest = use_params_map().with_untracked(|p| p.get("digest").unwrap_or_default());
    view! {
        <PageTitle text=format!("Image {}", short_digest(&digest))/>
        <nav aria-label="Breadcrumb" class="crumbs"><a href="/">"Catalog"</a>" / image"</nav>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {Suspend::new(async move {
                match get_image_page(digest.clone()).await {
                    Ok(RenderedPart { html, resource_version }) => view! {
                        <LiveConnection namespace="" name="" since=Some(resource_version)/>
                        <LivePart part=PartSource::Image { digest }><Rendered html/></LivePart>
                    }
                    .into_any(),
                    Err(e) => view! { <h1>"Image"</h1><Failure failure=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The same page at `/<namespace>/<stream>@<id>`, the ImageStreamImage's name: the id is looked
/// up among the stream's images (and the children of its manifest lists). Any other two-segment
/// path is not a page.
#[component]
pub fn StreamImagePage() -> impl IntoView {
    let (namespace, name) = use_params_map().with_untracked(|p| (p.get("ns").unwrap_or_default(), p.get("isimage").unwrap_or_default()));
    if !name.contains('@') {
        #[cfg(feature = "ssr")]
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::NOT_FOUND);
        }
        return view! { <h1>"Page not found"</h1> }.into_any();
    }
    let (stream, id) = name.split_once('@').unwrap_or_default();
    let title = format!("{namespace}/{stream}@{}", short_digest(id));
    let crumbs = format!("/ns/{namespace}/{stream}");
    let crumb = format!("{namespace} / {stream}");
    let stream = stream.to_string();
    view! {
        <PageTitle text=title/>
        <nav aria-label="Breadcrumb" class="crumbs"><a href="/">"Catalog"</a>" / "<a href=crumbs>{crumb}</a>" / image"</nav>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {Suspend::new(async move {
                match get_stream_image_page(namespace.clone(), name.clone()).await {
                    Ok(RenderedPart { html, resource_version }) => view! {
                        <LiveConnection namespace=namespace.clone() name=stream.clone() since=Some(resource_version)/>
                        <LivePart part=PartSource::StreamImage { namespace, name }><Rendered html/></LivePart>
                    }
                    .into_any(),
                    Err(e) => view! { <h1>"Image"</h1><Failure failure=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
    .into_any()
}
