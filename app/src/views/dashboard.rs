//! The wall dashboard's content as markup: big tiles readable across a room (failing imports
//! with their reasons, streams and tags updated today, moves per hour over the last day as a
//! small SVG chart, the latest moves with a line per tag and its aliases folded in). Every
//! stream, tag and digest is a plain link; it has no controls at all.
//!
//! The same markup serves the kiosk mode (`/dashboard?kiosk=1`): the page around it drops the
//! header and the stylesheet sizes the tiles to the screen and shows only the lines that fit, so
//! nothing here depends on the mode. Relative times carry `data-ago`, which `/portal-ui.js`
//! ticks without a reload.
//!
//! Must not: call server functions or refresh itself (that is `pages::dashboard` and `live`).

use crate::domain::plain::import_reason_words;
use crate::transfer::types::{Dashboard, DashboardMove};
use crate::widgets::{Ago, render_html, short_digest};
use leptos::prelude::*;

/// The dashboard's content as markup: it has no controls at all.
pub fn render(d: Dashboard) -> String {
    render_html(move || {
        let failing_count = d.failing.len();
        let failing_class = if failing_count == 0 { "tile failing good" } else { "tile failing bad" };
        let failing_big = if failing_count == 0 { "0".to_string() } else { failing_count.to_string() };
        let streams_today = d.streams_today;
        let tags_today = d.tags_today;
        view! {
            <div class="wall">
                <section class=failing_class aria-labelledby="failing">
                    <h2 id="failing">"Failing imports"</h2>
                    <p class="big" data-count="failing">{failing_big}</p>
                    {if d.failing.is_empty() { view! { <p class="ok">"All imports are healthy."</p> }.into_any() } else {
                        view! { <ul class="failing">{d.failing.into_iter().map(|f| {
                            let stream_href = format!("/ns/{}/{}", f.namespace, f.stream);
                            let tag_href = format!("{stream_href}#history-{}", f.tag);
                            view! {
                                <li>
                                    <a href=stream_href class="name">{format!("{}/{}", f.namespace, f.stream)}</a>":"<a href=tag_href class="name">{f.tag}</a>
                                    <span class="reason">{import_reason_words(&f.condition.reason, &f.condition.message)}</span>
                                    <span class="message">{f.condition.message}</span>
                                </li>
                            }
                        }).collect_view()}</ul> }.into_any()
                    }}
                </section>
                <section class="tile today" aria-labelledby="today">
                    <h2 id="today">"Updated today"</h2>
                    <p class="big">
                        <span data-count="streams">{streams_today}</span>" "<span class="unit">{plural(streams_today, "stream")}</span>
                        " · "
                        <span data-count="tags">{tags_today}</span>" "<span class="unit">{plural(tags_today, "tag")}</span>
                    </p>
                    {if d.updated_today.is_empty() { view! { <p class="empty">"No stream changed today."</p> }.into_any() } else {
                        view! { <ul class="today">{d.updated_today.into_iter().map(|s| {
                            let href = format!("/ns/{}/{}", s.namespace, s.name);
                            view! { <li><a href=href class="name">{format!("{}/{}", s.namespace, s.name)}</a>" "<span class="muted">{s.tags}</span></li> }
                        }).collect_view()}</ul> }.into_any()
                    }}
                </section>
                <section class="tile hourly" aria-labelledby="hourly">
                    <h2 id="hourly">"Moves per hour"</h2>
                    <MovesPerHour counts=d.moves_per_hour current_hour=d.current_hour/>
                </section>
                <section class="tile moves-tile" aria-labelledby="moves">
                    <h2 id="moves">"Recent tag movements"</h2>
                    {if d.moves.is_empty() { view! { <p class="empty">"Nothing moved yet."</p> }.into_any() } else {
                        view! { <ol class="moves">{d.moves.into_iter().map(|m| view! { <MoveLine m/> }).collect_view()}</ol> }.into_any()
                    }}
                </section>
            </div>
            <p class="muted small generated">"Last update: "<Ago time=d.generated/></p>
        }
    })
}

/// `1 stream`, `2 streams`: the unit after a big number.
fn plural(n: u64, word: &str) -> String {
    if n == 1 { word.to_string() } else { format!("{word}s") }
}

/// One line of the latest moves: `namespace/stream:tag, alias → digest, 3 minutes ago`, each
/// name a link (the stream, the tag's history on it, the image under the stream).
#[component]
fn MoveLine(m: DashboardMove) -> impl IntoView {
    let stream_href = format!("/ns/{}/{}", m.namespace, m.stream);
    let tags = m
        .tags
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let href = format!("{stream_href}#history-{t}");
            view! { {(i > 0).then_some(", ")}<a href=href class="name tag">{t.clone()}</a> }
        })
        .collect_view();
    let image = if m.image.is_empty() {
        view! { <span class="ref" title=m.docker_image_reference.clone()>"reference only"</span> }.into_any()
    } else {
        let href = format!("/{}/{}@{}", m.namespace, m.stream, m.image);
        view! { <a href=href class="digest" title=m.image.clone()><code>{short_digest(&m.image)}</code></a> }.into_any()
    };
    view! {
        <li>
            <span class="what"><a href=stream_href.clone() class="name">{format!("{}/{}", m.namespace, m.stream)}</a>":"{tags}</span>
            <span class="to">" → "{image}</span>
            " "<Ago time=m.created/>
        </li>
    }
}

/// The moves per hour over the last day as a bar chart: 24 bars, the last one the current hour,
/// scaled to the busiest hour, with the total and the peak in words (also for screen readers).
#[component]
fn MovesPerHour(counts: Vec<u64>, current_hour: String) -> impl IntoView {
    let (w, h, bottom) = (480i64, 150i64, 126i64);
    let bar_w = w / counts.len().max(1) as i64;
    let peak = counts.iter().copied().max().unwrap_or(0);
    let total: u64 = counts.iter().sum();
    let words = format!(
        "{total} {} in the last 24 hours{}",
        if total == 1 { "move" } else { "moves" },
        if peak > 0 { format!(", at most {peak} in one hour") } else { String::new() }
    );
    // The first bar's hour, for the axis: 23 hours before the current one.
    let hour_of = |back: i64| -> String {
        current_hour
            .get(11..13)
            .and_then(|h| h.parse::<i64>().ok())
            .map(|now| format!("{:02}:00", (now - back).rem_euclid(24)))
            .unwrap_or_default()
    };
    let bars = counts
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let bar_h = if peak == 0 { 0 } else { ((bottom - 14) * n as i64 + peak as i64 - 1) / peak as i64 };
            let x = i as i64 * bar_w + 1;
            let y = bottom - bar_h;
            let title = format!("{n} {} in the hour from {}", if n == 1 { "move" } else { "moves" }, hour_of(counts.len() as i64 - 1 - i as i64));
            view! { <rect x=x y=y width=bar_w - 2 height=bar_h class=if i + 1 == counts.len() { "bar now" } else { "bar" }><title>{title}</title></rect> }
        })
        .collect_view();
    let view_box = format!("0 0 {w} {h}");
    view! {
        <svg viewBox=view_box class="hourly-chart" role="img" aria-label=format!("Tag moves per hour: {words}") preserveAspectRatio="xMidYMid meet">
            <line x1="0" y1=bottom x2=w y2=bottom class="axis"/>
            {bars}
            <text x="0" y=h - 4 class="tick">{hour_of(23)}</text>
            <text x=w / 2 y=h - 4 class="tick" text-anchor="middle">{hour_of(11)}</text>
            <text x=w y=h - 4 class="tick" text-anchor="end">"now"</text>
        </svg>
        <p class="chart-words">{words}</p>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TagEventCondition;
    use crate::transfer::types::FailingImport;

    fn dashboard() -> Dashboard {
        Dashboard {
            moves: vec![DashboardMove {
                namespace: "demo".into(),
                stream: "app".into(),
                tags: vec!["prod".into(), "stable".into()],
                image: format!("sha256:{}", "ab".repeat(32)),
                docker_image_reference: "reg/demo/app@sha256:ab".into(),
                created: "2026-11-30T10:00:00Z".into(),
            }],
            failing: vec![FailingImport {
                namespace: "demo".into(),
                stream: "nginx".into(),
                tag: "1.27".into(),
                condition: TagEventCondition { reason: "NotFound".into(), message: "manifest unknown".into(), ..Default::default() },
            }],
            updated_today: vec![],
            streams_today: 1,
            tags_today: 2,
            moves_per_hour: (0..24).map(|i| if i == 23 { 4 } else { i % 2 }).collect(),
            current_hour: "2026-11-30T10".into(),
            generated: "2026-11-30T10:05:00Z".into(),
            resource_version: "7".into(),
        }
    }

    #[test]
    fn aliases_share_their_sources_line_and_every_name_is_a_link() {
        let html = render(dashboard());
        assert_eq!(html.matches("<li>").count(), 2, "one move line, one failing import: {html}");
        assert!(html.contains(r##"href="/ns/demo/app#history-prod""##), "{html}");
        assert!(html.contains(r##"href="/ns/demo/app#history-stable""##), "{html}");
        assert!(html.contains(&format!(r#"href="/demo/app@sha256:{}""#, "ab".repeat(32))), "{html}");
        assert!(html.contains(r#"href="/ns/demo/nginx""#), "{html}");
        assert!(html.contains("data-ago"), "relative times tick: {html}");
    }

    #[test]
    fn the_hourly_chart_has_a_bar_per_hour_scaled_to_the_peak() {
        let html = render(dashboard());
        assert_eq!(html.matches("<rect").count(), 24, "{html}");
        assert!(html.contains("15 moves in the last 24 hours, at most 4 in one hour"), "{html}");
        assert!(html.contains(r#"class="bar now""#), "{html}");
        assert!(html.contains(">11:00<"), "the first bar is 23 hours before 10:00: {html}");
        assert!(html.contains(r#"<span class="unit">stream<"#), "1 stream: {html}");
        assert!(html.contains(r#"<span class="unit">tags<"#), "2 tags: {html}");
    }
}
