//! The stream's timeline as SVG markup: one lane per tag over a dated time axis, a dot per move
//! coloured by image (with a legend), moves close in time drawn as one bigger dot with their
//! count, reference-only items as hollow diamonds. Every dot is a link (to the image under this
//! stream, or to the tag's history for a reference) that the keyboard reaches; its details show
//! on hover and on focus in a line under the axis (plain CSS, no script). It keeps its pixel
//! size and scrolls sideways inside its figure on a narrow screen.
//!
//! Why it is drawn like this:
//! - dots are at least [`MIN_GAP`] pixels apart ([`clusters`]), so none hides another and there
//!   is room for a count inside;
//! - axis labels are spaced by their own width ([`ticks`]), lane labels get a column as wide as
//!   the longest tag (up to [`MAX_LABEL`] characters, then cut with "…" and the full name as a
//!   tooltip), and details are written in their own row: no text overprints or is clipped;
//! - colours come from a fixed palette of ten hues picked to be told apart (newest image first),
//!   not from a hash (hashes give near-equal hues); older images share a grey.
//!
//! Must not: call server functions. Server-only (`views`), so it may use chrono's formatting.

use crate::domain::present::parse_time;
use crate::model::{ImageStream, TagEvent};
use crate::widgets::short_digest;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// Dots closer than this (pixels) are one dot: two cluster radii, so they never overlap.
pub const MIN_GAP: i64 = 22;
/// The width of the time axis (pixels).
const PLOT_W: i64 = 640;
/// Lane labels longer than this are cut (with the full name as a tooltip).
const MAX_LABEL: usize = 28;
/// Width of a character of the lane and axis labels (12px monospace, rounded up).
const CHAR_W: i64 = 8;
/// Ten hues that stay apart from each other, dark enough for a white count inside.
const PALETTE: [&str; 10] = ["#1f5fbf", "#c0392b", "#1e7d45", "#7b3fa0", "#b35900", "#0f7c8c", "#b0306e", "#6b4f2a", "#4a5a78", "#6f7d00"];
/// The colour of images older than the palette's ten.
const OLDER: &str = "#8a8f98";

/// A picture of all tags over time: one lane per tag, a dot per move, coloured by image.
#[component]
pub fn Timeline(stream: ImageStream) -> impl IntoView {
    let ns = stream.namespace().to_string();
    let name = stream.metadata.name.clone();
    let reference_tags: BTreeSet<String> = stream.spec.tags.iter().filter(|t| t.reference).map(|t| t.name.clone()).collect();
    let mut lanes: Vec<(String, Vec<TagEvent>)> =
        stream.status.tags.iter().filter(|l| !l.items().is_empty()).map(|l| (l.tag.clone(), l.items().to_vec())).collect();
    lanes.sort_by(|a, b| crate::domain::tag_order::version_cmp(&a.0, &b.0));
    if lanes.is_empty() {
        return view! { <span></span> }.into_any();
    }
    let time = |i: &TagEvent| parse_time(&i.created).map(|t| t.timestamp());
    let times: Vec<i64> = lanes.iter().flat_map(|(_, items)| items.iter().filter_map(time)).collect();
    let (first, last) = (times.iter().copied().min().unwrap_or(0), times.iter().copied().max().unwrap_or(0));
    // At least an hour shown, and a little room either side so edge dots are whole.
    let span = (last - first).max(3600);
    let pad = span / 30 + 60;
    let (lo, hi) = (first - pad, first + span + pad);
    let colours = image_colours(&lanes);
    let label_chars = lanes.iter().map(|(t, _)| t.chars().count()).max().unwrap_or(1).min(MAX_LABEL) as i64;
    let plot_x = 16 + CHAR_W * label_chars + 14;
    let width = plot_x + PLOT_W + 56;
    let lane_h = 32i64;
    let top = 8i64;
    let axis_y = top + lane_h * lanes.len() as i64 + 4;
    let tip_y = axis_y + 44;
    let height = tip_y + 10;
    let x_of = |t: i64| plot_x + PLOT_W * (t - lo) / (hi - lo);
    let view_box = format!("0 0 {width} {height}");
    let image_base = format!("/{ns}/{name}@");
    let tick_marks = ticks(lo, hi, PLOT_W)
        .into_iter()
        .map(|(t, label)| {
            let x = x_of(t);
            view! {
                <line x1=x y1=top x2=x y2=axis_y class="grid"/>
                <line x1=x y1=axis_y x2=x y2=axis_y + 5 class="axis"/>
                <text x=x y=axis_y + 19 class="tick" text-anchor="middle">{label}</text>
            }
        })
        .collect_view();
    let rows = lanes
        .iter()
        .enumerate()
        .map(|(row, (tag, items))| {
            let y = top + lane_h * row as i64 + lane_h / 2;
            let reference_lane = reference_tags.contains(tag);
            let shown: String = if tag.chars().count() > MAX_LABEL {
                tag.chars().take(MAX_LABEL - 1).chain(std::iter::once('…')).collect()
            } else {
                tag.clone()
            };
            let full = (shown != *tag).then(|| view! { <title>{tag.clone()}</title> });
            let xs: Vec<i64> = items.iter().map(|i| x_of(time(i).unwrap_or(first))).collect();
            let dots = clusters(&xs)
                .into_iter()
                .map(|c| {
                    let newest = &items[c.newest];
                    let oldest = &items[c.oldest];
                    let reference = reference_lane || newest.image.is_empty();
                    let href = if newest.image.is_empty() { format!("#history-{tag}") } else { format!("{image_base}{}", newest.image) };
                    let what = if newest.image.is_empty() {
                        format!("reference {}", cut(&newest.docker_image_reference, 48))
                    } else {
                        short_digest(&newest.image)
                    };
                    let details = if c.count == 1 {
                        format!("{tag} → {what} on {} (generation {})", when(&newest.created), newest.generation)
                    } else {
                        format!("{tag}: {} moves from {} to {}, the newest → {what}", c.count, when(&oldest.created), when(&newest.created))
                    };
                    let colour = colours.get(&newest.image).copied().unwrap_or(OLDER);
                    let r = if c.count > 1 { 10 } else { 7 };
                    let shape = if reference {
                        let side = r + r / 2;
                        view! {
                            <rect x=c.x - side / 2 y=y - side / 2 width=side height=side transform=format!("rotate(45 {} {y})", c.x) class="shape ref-dot"/>
                        }
                        .into_any()
                    } else {
                        view! { <circle cx=c.x cy=y r=r fill=colour class="shape"/> }.into_any()
                    };
                    let count = (c.count > 1).then(|| {
                        let label = if c.count > 99 { "99+".to_string() } else { c.count.to_string() };
                        view! { <text x=c.x y=y + 4 class=if reference { "count ref-count" } else { "count" } text-anchor="middle">{label}</text> }
                    });
                    let aria = details.clone();
                    view! {
                        <a href=href class="dot" aria-label=aria data-count=c.count.to_string()>
                            {shape}
                            {count}
                            <text x="8" y=tip_y class="tip">{details}</text>
                        </a>
                    }
                })
                .collect_view();
            view! {
                <g class="lane-row" data-lane=tag.clone()>
                    <text x="8" y=y + 4 class="lane-label">{shown}{full}</text>
                    <line x1=plot_x y1=y x2=plot_x + PLOT_W y2=y class=if reference_lane { "lane ref-lane" } else { "lane" }/>
                    {dots}
                </g>
            }
        })
        .collect_view();
    let legend = legend(&lanes, &colours, &image_base, reference_tags.iter().any(|t| lanes.iter().any(|(l, _)| l == t)));
    view! {
        <h2>"Timeline"</h2>
        <figure class="timeline-figure">
            <div class="timeline-scroll">
                <svg viewBox=view_box width=width height=height role="group" aria-label="Tag timeline: one lane per tag, one dot per move, linked to its image" class="lanes">
                    {tick_marks}
                    <line x1=plot_x y1=axis_y x2=plot_x + PLOT_W y2=axis_y class="axis"/>
                    {rows}
                    <text x="8" y=tip_y class="tip-hint">"Point at or Tab to a dot for its details; each dot links to its image."</text>
                </svg>
            </div>
            <figcaption class="small">
                <span class="muted">"Each lane is a tag, time runs left to right (UTC); a dot with a number is that many moves close together."</span>
                {legend}
            </figcaption>
        </figure>
    }
    .into_any()
}

/// The legend: a swatch per coloured image (newest first) with its digest as a link and the
/// tags whose head it is, then older images (grey) and reference-only items when there are any.
fn legend(
    lanes: &[(String, Vec<TagEvent>)],
    colours: &BTreeMap<String, &'static str>,
    image_base: &str,
    reference_lane: bool,
) -> impl IntoView + use<> {
    let mut ordered: Vec<(&String, &&str)> = colours.iter().collect();
    let rank = |c: &str| PALETTE.iter().position(|p| *p == c).unwrap_or(PALETTE.len());
    ordered.sort_by_key(|(_, c)| rank(c));
    let heads = |image: &str| -> Vec<String> {
        lanes.iter().filter(|(_, items)| items.first().is_some_and(|h| h.image == image)).map(|(t, _)| t.clone()).collect()
    };
    let all: BTreeSet<&str> =
        lanes.iter().flat_map(|(_, items)| items.iter().map(|i| i.image.as_str())).filter(|i| !i.is_empty()).collect();
    let older = all.len().saturating_sub(colours.len());
    let has_reference = reference_lane || lanes.iter().any(|(_, items)| items.iter().any(|i| i.image.is_empty()));
    let entries = ordered
        .into_iter()
        .map(|(image, colour)| {
            let tags = heads(image);
            let now = (!tags.is_empty()).then(|| view! { " "<span class="muted">{format!("now {}", tags.join(", "))}</span> });
            let href = format!("{image_base}{image}");
            view! {
                <li>
                    <svg width="14" height="14" viewBox="0 0 14 14" aria-hidden="true"><circle cx="7" cy="7" r="6" fill=*colour class="shape"/></svg>
                    " "<a href=href class="digest"><code>{short_digest(image)}</code></a>{now}
                </li>
            }
        })
        .collect_view();
    view! {
        <ul class="legend" aria-label="Images by colour">
            {entries}
            {(older > 0).then(|| view! {
                <li><svg width="14" height="14" viewBox="0 0 14 14" aria-hidden="true"><circle cx="7" cy="7" r="6" fill=OLDER/></svg>" "{format!("{older} older {}", if older == 1 { "image" } else { "images" })}</li>
            })}
            {has_reference.then(|| view! {
                <li><svg width="14" height="14" viewBox="0 0 14 14" aria-hidden="true"><rect x="3" y="3" width="8" height="8" transform="rotate(45 7 7)" class="ref-dot"/></svg>" reference only (not imported)"</li>
            })}
        </ul>
    }
}

/// A colour per image: the palette's hues to the newest images (by their newest move), the
/// rest are left out (drawn in [`OLDER`]).
fn image_colours(lanes: &[(String, Vec<TagEvent>)]) -> BTreeMap<String, &'static str> {
    let mut newest: BTreeMap<&str, i64> = BTreeMap::new();
    for (_, items) in lanes {
        for i in items.iter().filter(|i| !i.image.is_empty()) {
            let t = parse_time(&i.created).map(|t| t.timestamp()).unwrap_or(i64::MIN);
            let e = newest.entry(i.image.as_str()).or_insert(t);
            *e = (*e).max(t);
        }
    }
    let mut by_time: Vec<(&str, i64)> = newest.into_iter().collect();
    by_time.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    by_time.into_iter().zip(PALETTE).map(|((image, _), colour)| (image.to_string(), colour)).collect()
}

/// `12 Nov 2026 14:03 UTC`, or the text as it is when it is not a time.
fn when(created: &str) -> String {
    parse_time(created).map(|t| t.format("%-d %b %Y %H:%M UTC").to_string()).unwrap_or_else(|| created.to_string())
}

/// At most `n` characters of `s`, with "…" when cut.
fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { s.chars().take(n - 1).chain(std::iter::once('…')).collect() }
}

/// One dot of a lane: where it is drawn, the items it stands for (indexes into the lane's
/// items, newest first) and how many.
#[derive(Debug, PartialEq, Eq)]
pub struct Cluster {
    pub x: i64,
    pub newest: usize,
    pub oldest: usize,
    pub count: usize,
}

/// The dots of a lane from its items' x positions (items newest first): walking from the
/// oldest, an item less than [`MIN_GAP`] pixels right of the current dot joins it; otherwise it
/// starts a new dot where it is. So dots are always at least `MIN_GAP` apart, and a long
/// history costs at most a dot per `MIN_GAP` pixels.
pub fn clusters(xs: &[i64]) -> Vec<Cluster> {
    let mut order: Vec<usize> = (0..xs.len()).collect();
    // Oldest first; among equal positions the older item (higher index) first.
    order.sort_by(|&a, &b| xs[a].cmp(&xs[b]).then_with(|| b.cmp(&a)));
    let mut out: Vec<Cluster> = vec![];
    for i in order {
        match out.last_mut() {
            Some(c) if xs[i] - c.x < MIN_GAP => {
                c.count += 1;
                c.newest = c.newest.min(i);
                c.oldest = c.oldest.max(i);
            }
            _ => out.push(Cluster { x: xs[i], newest: i, oldest: i, count: 1 }),
        }
    }
    out
}

/// The axis ticks between `lo` and `hi` (seconds) on a `width`-pixel axis: `(time, label)`.
/// The step is the smallest of hour, 3 h, 6 h, 12 h, day, 2 days, week, 2 weeks, 30 days, 90
/// days or a year whose labels fit between two ticks with room to spare, so labels never touch.
pub fn ticks(lo: i64, hi: i64, width: i64) -> Vec<(i64, String)> {
    const H: i64 = 3600;
    const D: i64 = 86_400;
    let span = (hi - lo).max(1);
    let steps = [H, 3 * H, 6 * H, 12 * H, D, 2 * D, 7 * D, 14 * D, 30 * D, 90 * D, 365 * D];
    let format = |step: i64| {
        if step < D {
            "%-d %b %H:%M"
        } else if step < 365 * D {
            "%-d %b"
        } else {
            "%Y"
        }
    };
    let label_w = |step: i64| {
        CHAR_W
            * if step < D {
                13
            } else if step < 365 * D {
                6
            } else {
                4
            }
            + 16
    };
    let step = steps.into_iter().find(|&s| width * s / span >= label_w(s)).unwrap_or(365 * D);
    let mut out = vec![];
    let mut t = lo.div_euclid(step) * step;
    if t < lo {
        t += step;
    }
    while t <= hi {
        if let Some(at) = DateTime::<Utc>::from_timestamp(t, 0) {
            out.push((t, at.format(format(step)).to_string()));
        }
        t += step;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NamedTagEventList, TagReference};

    #[test]
    fn dots_are_never_closer_than_the_gap_and_hold_every_item() {
        let xs: Vec<i64> = vec![500, 498, 490, 470, 300, 299, 100, 100, 100];
        let c = clusters(&xs);
        assert!(c.windows(2).all(|w| w[1].x - w[0].x >= MIN_GAP), "{c:?}");
        assert_eq!(c.iter().map(|c| c.count).sum::<usize>(), xs.len());
        assert_eq!(c[0], Cluster { x: 100, newest: 6, oldest: 8, count: 3 });
        assert_eq!(c.iter().map(|c| (c.x, c.count)).collect::<Vec<_>>(), vec![(100, 3), (299, 2), (470, 2), (498, 2)]);
        assert_eq!(c.last().map(|c| (c.newest, c.oldest)), Some((0, 1)), "498 and 500: the newest item is the first");
    }

    #[test]
    fn a_long_history_costs_at_most_a_dot_per_gap() {
        let xs: Vec<i64> = (0..10_000).rev().map(|i| i * 640 / 10_000).collect();
        let c = clusters(&xs);
        assert!(c.len() <= 640 / MIN_GAP as usize + 1, "{}", c.len());
        assert_eq!(c.iter().map(|c| c.count).sum::<usize>(), 10_000);
    }

    #[test]
    fn axis_labels_are_dated_and_never_touch() {
        let lo = 1_780_000_000;
        for span in [3_600, 86_400, 21 * 86_400, 400 * 86_400, 3000 * 86_400] {
            let t = ticks(lo, lo + span, PLOT_W);
            assert!(t.len() >= if span > 3_600 { 2 } else { 1 }, "span {span}: {t:?}");
            for w in t.windows(2) {
                let gap = PLOT_W * (w[1].0 - w[0].0) / span;
                let widest = CHAR_W * w[0].1.chars().count().max(w[1].1.chars().count()) as i64;
                assert!(gap > widest, "span {span}: {t:?}");
            }
        }
        let three_weeks = ticks(lo, lo + 21 * 86_400, PLOT_W);
        assert!(three_weeks.iter().all(|(_, l)| l.split(' ').count() == 2), "day and month: {three_weeks:?}");
    }

    #[test]
    fn lanes_are_in_version_order() {
        let mut tags = vec!["latest", "1.10.0", "1.2.0", "v2", "1.2", "build-9", "build-10", "", "007"];
        tags.sort_by(|a, b| crate::domain::tag_order::version_cmp(a, b));
        assert_eq!(tags, vec!["", "1.2", "1.2.0", "1.10.0", "007", "build-9", "build-10", "latest", "v2"]);
    }

    fn item(image: &str, created: &str) -> TagEvent {
        TagEvent { created: created.into(), image: image.into(), docker_image_reference: format!("reg/app@{image}"), generation: 1 }
    }

    fn lane(tag: &str, items: Vec<TagEvent>) -> NamedTagEventList {
        NamedTagEventList { tag: tag.into(), items: Some(items), ..Default::default() }
    }

    #[test]
    fn every_dot_links_and_references_are_drawn_apart() {
        let mut s = ImageStream::new("demo", "app");
        let a = format!("sha256:{}", "a".repeat(64));
        let b = format!("sha256:{}", "b".repeat(64));
        s.status.tags = vec![
            lane("latest", vec![item(&b, "2026-11-20T10:00:00Z"), item(&a, "2026-11-20T09:59:00Z"), item(&a, "2026-11-01T10:00:00Z")]),
            lane(
                "upstream",
                vec![TagEvent {
                    created: "2026-11-10T10:00:00Z".into(),
                    docker_image_reference: "quay.io/x/y:1".into(),
                    image: String::new(),
                    generation: 1,
                }],
            ),
        ];
        s.spec.tags = vec![TagReference { name: "upstream".into(), reference: true, ..Default::default() }];
        let html = Owner::new().with(|| view! { <Timeline stream=s/> }.to_html());
        assert_eq!(html.matches("<a href=\"/demo/app@sha256:").count(), 2 + 2, "two dots and two legend entries: {html}");
        assert!(html.contains("href=\"#history-upstream\""), "{html}");
        assert!(html.contains("data-count=\"2\""), "the two moves a minute apart are one dot: {html}");
        assert!(html.contains("ref-dot"), "{html}");
        assert!(html.contains("reference only"), "{html}");
        assert!(html.contains(PALETTE[0]) && html.contains(PALETTE[1]), "newest image first colour: {html}");
        assert!(html.contains(">12 Nov<"), "a dated axis: {html}");
    }
}
