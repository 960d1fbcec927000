//! The prune page's read-only parts as markup: a preview (or a run's report) — per stream, every
//! history item with its tag, revision, image, age, whether it stays or goes and the rule that
//! said so, in the words of `prune images`, then (whole-server prunes) every Image object — and
//! the list of a namespace's runs.
//!
//! Must not: call server functions or decide anything (the report carries every decision).

use crate::domain::prune::PruneReport;
use crate::domain::retention::{RUN_FAILED, RUN_SUCCEEDED, RetentionRun};
use crate::widgets::{Ago, DigestLink, render_html};
use leptos::prelude::*;

/// The whole-server preview of `/admin/prune`: what the report lists (the first streams and
/// Images that lose something) and a note when the summary counts more than it lists.
pub fn render_server_preview(report: PruneReport) -> String {
    let listed = report.streams.iter().filter(|s| s.deleted() > 0).count();
    let more = report.updated_streams.saturating_sub(listed);
    let images_more = report.deleted_images.saturating_sub(report.images.len());
    let mut html = String::new();
    if more > 0 || images_more > 0 {
        let note = format!(
            "Listing the first {listed} of {} streams that lose history items (and a few that lose nothing) and {} of {} \
             Images that go; imagestreams prune images lists every decision.",
            report.updated_streams,
            report.images.len(),
            report.deleted_images
        );
        html.push_str(&render_html(move || view! { <p class="note" data-prune-listed=listed>{note}</p> }));
    }
    html.push_str(&render_report(report));
    html
}

/// A prune report: the `Summary:` line, then one table per stream.
pub fn render_report(report: PruneReport) -> String {
    render_html(move || {
        let summary = report.summary.clone();
        let heading = if report.dry_run { "Preview (nothing was changed)" } else { "Report" };
        let streams = report.streams;
        let images = report.images;
        view! {
            <section class="prune-report" aria-label=heading>
                <h3>{heading}</h3>
                <p class="summary" role="status"><strong>{summary}</strong></p>
                {if streams.is_empty() {
                    view! { <p class="empty">"No image streams to prune."</p> }.into_any()
                } else {
                    streams.into_iter().map(|s| {
                        let title = format!("{}/{}", s.namespace, s.name);
                        let going = s.deleted();
                        let caption = format!("History items of {title}: {going} of {} go", s.items.len());
                        // Focusable so keyboard users can scroll it on a narrow screen.
                        let region = format!("Decisions for {title}");
                        view! {
                            <h4 aria-hidden="true">{caption.clone()}</h4>
                            <div class="table-wrap" data-prune-stream=title.clone() tabindex="0" role="region" aria-label=region>
                                <table class="prune">
                                    <caption class="sr-only">{caption}</caption>
                                    <thead><tr>
                                        <th scope="col">"Tag"</th><th scope="col" class="num">"Revision"</th><th scope="col">"Image"</th>
                                        <th scope="col">"Created"</th><th scope="col">"Decision"</th><th scope="col">"Reason"</th>
                                    </tr></thead>
                                    <tbody>
                                        {s.items.into_iter().map(|i| {
                                            let (class, word) = if i.decision.keep { ("badge ok", "keep") } else { ("badge bad", "delete") };
                                            let row = format!("{}#{}", i.tag, i.revision);
                                            view! {
                                                <tr data-item=row data-decision=word>
                                                    <td>{i.tag.clone()}</td>
                                                    <td class="num">{i.revision + 1}</td>
                                                    <td>{image_cell(&i.image)}</td>
                                                    <td><Ago time=i.created.clone()/></td>
                                                    <td><span class=class>{word}</span></td>
                                                    <td class="reason">{i.decision.reason.clone()}</td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }
                    }).collect_view().into_any()
                }}
                {(!images.is_empty()).then(|| {
                    let going = images.iter().filter(|i| !i.decision.keep).count();
                    let caption = format!("Image objects: {going} of {} go", images.len());
                    view! {
                        <h4 aria-hidden="true">{caption.clone()}</h4>
                        <div class="table-wrap" tabindex="0" role="region" aria-label="Decisions for Image objects">
                            <table class="prune images">
                                <caption class="sr-only">{caption}</caption>
                                <thead><tr><th scope="col">"Image"</th><th scope="col">"Decision"</th><th scope="col">"Reason"</th></tr></thead>
                                <tbody>
                                    {images.into_iter().map(|i| {
                                        let (class, word) = if i.decision.keep { ("badge ok", "keep") } else { ("badge bad", "delete") };
                                        view! {
                                            <tr data-image=i.digest.clone() data-decision=word>
                                                <td>{image_cell(&i.digest)}</td>
                                                <td><span class=class>{word}</span></td>
                                                <td class="reason">{i.decision.reason.clone()}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }
                })}
            </section>
        }
    })
}

/// An image's digest linking to its page; an item without one (never resolved) says so.
fn image_cell(digest: &str) -> AnyView {
    if digest.is_empty() {
        view! { <span class="muted">"no image"</span> }.into_any()
    } else {
        view! { <DigestLink digest=digest.to_string()/> }.into_any()
    }
}

/// A namespace's runs, newest first.
pub fn render_runs(runs: Vec<RetentionRun>) -> String {
    render_html(move || {
        if runs.is_empty() {
            return view! { <p class="empty">"No runs yet."</p> }.into_any();
        }
        view! {
            <div class="table-wrap" tabindex="0" role="region" aria-label="Runs, newest first"><table class="runs">
                <caption class="sr-only">"Runs of the retention policy, newest first"</caption>
                <thead><tr>
                    <th scope="col">"Run"</th><th scope="col">"Started"</th><th scope="col">"By"</th><th scope="col">"State"</th>
                    <th scope="col" class="num">"Items deleted"</th><th scope="col" class="num">"Streams updated"</th><th scope="col">"Summary"</th>
                </tr></thead>
                <tbody>
                    {runs.into_iter().map(|r| {
                        let class = match r.state.as_str() {
                            RUN_SUCCEEDED => "badge ok",
                            RUN_FAILED => "badge bad",
                            _ => "badge busy",
                        };
                        let by = if r.by == r.trigger { r.by.clone() } else { format!("{} ({})", r.by, r.trigger) };
                        let summary = r.error.clone().unwrap_or_else(|| r.summary.clone());
                        view! {
                            <tr data-run=r.id>
                                <td class="num">{r.id}</td>
                                <td><Ago time=r.started.clone()/></td>
                                <td>{by}</td>
                                <td><span class=class>{r.state.clone()}</span></td>
                                <td class="num">{r.deleted_items}</td>
                                <td class="num">{r.updated_streams}</td>
                                <td>{summary}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table></div>
        }
        .into_any()
    })
}
