//! The image page's content as markup: what the image is (digest, `podman pull` commands for the
//! portal's registry by digest and by each tag pointing at it, whether it is mirrored locally and
//! its stored size, source reference, created, author, platform, size), its config, labels,
//! platforms and layers, where it is tagged now and was before, and its YAML.
//!
//! Must not: call server functions; everything here is read-only.

use crate::domain::present::human_size;
use crate::transfer::types::ImageFacts;
use crate::widgets::{Ago, DigestLink, PullCommand, PullSpec, StorageNote, render_html};
use leptos::prelude::*;

/// The page's content as markup: everything here is read-only.
pub fn render(page: ImageFacts) -> String {
    render_html(move || view! { <ImageView page/> })
}

#[component]
fn ImageView(page: ImageFacts) -> impl IntoView {
    let img = page.image;
    let meta = img.docker_image_metadata.clone().unwrap_or_default();
    let config = meta.config.clone().unwrap_or_default();
    let platform = if meta.architecture.is_empty() {
        String::new()
    } else {
        format!("{}/{}", if meta.os.is_empty() { "linux" } else { &meta.os }, meta.architecture)
    };
    let total: i64 = img.docker_image_layers.iter().map(|l| l.size).sum();
    let (current, past): (Vec<_>, Vec<_>) = page.uses.into_iter().partition(|u| u.current);
    // The portal's registry: by digest in the first stream that holds the image (now, else
    // before), by tag for every tag that points at it now.
    let digest = img.metadata.name.clone();
    let by_digest = current.iter().chain(&past).find(|u| !u.repository.is_empty()).map(|u| format!("{}@{digest}", u.repository));
    let by_tag: Vec<(String, String)> = current
        .iter()
        .filter(|u| !u.repository.is_empty())
        .map(|u| (format!("{}/{}:{}", u.namespace, u.stream, u.tag), format!("{}:{}", u.repository, u.tag)))
        .collect();
    let storage = page.storage;
    let list = |v: Option<Vec<String>>| v.filter(|x| !x.is_empty()).map(|x| x.join(" "));
    view! {
        <h1 class="digest-title"><code title=img.metadata.name.clone()>{img.metadata.name.clone()}</code></h1>
        <dl class="facts">
            {by_digest.map(|spec| view! {
                <dt>"Pull by digest"</dt><dd id="pull-by-digest"><PullCommand label="image by digest" spec/></dd>
            })}
            {(!by_tag.is_empty()).then(|| view! {
                <dt>"Pull by tag"</dt>
                <dd id="pull-by-tag">{by_tag.into_iter().map(|(label, spec)| view! { <PullCommand label=label spec/> }).collect_view()}</dd>
            })}
            <dt>"Stored"</dt><dd id="storage"><StorageNote storage/></dd>
            <dt>"Source reference"</dt><dd><PullSpec label="source reference" spec=img.docker_image_reference.clone()/></dd>
            <dt>"Media type"</dt><dd><code>{img.docker_image_manifest_media_type.clone()}</code></dd>
            {(!meta.created.is_empty()).then(|| view! { <dt>"Created"</dt><dd><Ago time=meta.created.clone()/></dd> })}
            {(!meta.author.is_empty()).then(|| view! { <dt>"Author"</dt><dd>{meta.author.clone()}</dd> })}
            {(!platform.is_empty()).then(|| view! { <dt>"Platform"</dt><dd>{platform.clone()}</dd> })}
            {(meta.size > 0).then(|| view! { <dt>"Size"</dt><dd>{human_size(meta.size)}</dd> })}
            {(!config.user.is_empty()).then(|| view! { <dt>"User"</dt><dd><code>{config.user.clone()}</code></dd> })}
            {(!config.working_dir.is_empty()).then(|| view! { <dt>"Working directory"</dt><dd><code>{config.working_dir.clone()}</code></dd> })}
            {list(Some(config.entrypoint.clone())).map(|e| view! { <dt>"Entrypoint"</dt><dd><code>{e}</code></dd> })}
            {list(Some(config.cmd.clone())).map(|c| view! { <dt>"Command"</dt><dd><code>{c}</code></dd> })}
            {(!config.exposed_ports.is_empty()).then(|| view! { <dt>"Ports"</dt><dd>{config.exposed_ports.keys().cloned().collect::<Vec<_>>().join(", ")}</dd> })}
            {(!config.volumes.is_empty()).then(|| view! { <dt>"Volumes"</dt><dd>{config.volumes.keys().cloned().collect::<Vec<_>>().join(", ")}</dd> })}
        </dl>
        {(!config.env.is_empty()).then(|| view! {
            <h2>"Environment"</h2>
            <ul class="plain">{config.env.iter().map(|e| view! { <li><code>{e.clone()}</code></li> }).collect_view()}</ul>
        })}
        {(!config.labels.is_empty()).then(|| view! {
            <h2>"Labels"</h2>
            <dl class="facts">{config.labels.iter().map(|(k, v)| view! { <dt><code>{k.clone()}</code></dt><dd>{v.clone()}</dd> }).collect_view()}</dl>
        })}
        {(!img.docker_image_manifests.is_empty()).then(|| view! {
            <h2>"Platforms"</h2>
            <ul class="plain" id="platforms">
                {img.docker_image_manifests.iter().map(|m| {
                    let p = if m.variant.is_empty() { format!("{}/{}", m.os, m.architecture) } else { format!("{}/{}/{}", m.os, m.architecture, m.variant) };
                    view! { <li>{p}" "<DigestLink digest=m.digest.clone()/></li> }
                }).collect_view()}
            </ul>
        })}
        {(!img.docker_image_layers.is_empty()).then(|| view! {
            <h2>"Layers"</h2>
            <div class="table-wrap">
                <table aria-label="Layers" id="layers">
                    <thead><tr><th scope="col">"#"</th><th scope="col">"Digest"</th><th scope="col" class="num">"Size"</th><th scope="col">"Media type"</th></tr></thead>
                    <tbody>
                        {img.docker_image_layers.iter().enumerate().map(|(i, l)| view! {
                            <tr><td>{i + 1}</td><td><code class="small">{l.name.clone()}</code></td><td class="num">{human_size(l.size)}</td><td class="small">{l.media_type.clone()}</td></tr>
                        }).collect_view()}
                    </tbody>
                    <tfoot><tr><th scope="row" colspan="2">"Total"</th><td class="num">{human_size(total)}</td><td></td></tr></tfoot>
                </table>
            </div>
        })}
        <h2>"Tagged as"</h2>
        {if current.is_empty() { view! { <p class="empty">"No tag points at this image now."</p> }.into_any() } else {
            view! { <ul class="plain" id="tagged-now">{current.into_iter().map(|u| {
                let href = format!("/ns/{}/{}", u.namespace, u.stream);
                view! { <li><a href=href>{format!("{}/{}:{}", u.namespace, u.stream, u.tag)}</a>" since "<Ago time=u.created/></li> }
            }).collect_view()}</ul> }.into_any()
        }}
        {(!past.is_empty()).then(|| view! {
            <h2>"Earlier"</h2>
            <ul class="plain" id="tagged-before">{past.into_iter().map(|u| {
                let href = format!("/ns/{}/{}", u.namespace, u.stream);
                view! { <li><a href=href>{format!("{}/{}:{}", u.namespace, u.stream, u.tag)}</a>" "<Ago time=u.created/></li> }
            }).collect_view()}</ul>
        })}
        <details class="yaml">
            <summary>"YAML"</summary>
            <pre><code>{page.yaml}</code></pre>
        </details>
    }
}
