//! The stream's timeline: one lane per tag, a dot per history item coloured by image, as SVG
//! markup, and its layout ([`dots`]: items that fall on the same pixel become one dot).
//!
//! Must not: call server functions; whole pixels only (integer formatting keeps float printing
//! out of the build).

use crate::domain::present::parse_time;
use crate::domain::views::image_labels;
use crate::model::{ImageStream, TagEvent};
use crate::widgets::short_digest;
use leptos::prelude::*;

/// A picture of all tags over time: one lane per tag, a dot per history item, coloured by image,
/// so tags sharing an image share a colour.
#[component]
pub fn Timeline(stream: ImageStream) -> impl IntoView {
    let labels = image_labels(&stream);
    let lanes: Vec<(String, Vec<TagEvent>)> =
        stream.status.tags.iter().filter(|l| !l.items().is_empty()).map(|l| (l.tag.clone(), l.items().to_vec())).collect();
    if lanes.is_empty() {
        return view! { <span></span> }.into_any();
    }
    let times: Vec<i64> =
        lanes.iter().flat_map(|(_, items)| items.iter().filter_map(|i| parse_time(&i.created).map(|t| t.timestamp()))).collect();
    let (min, max) = (times.iter().copied().min().unwrap_or(0), times.iter().copied().max().unwrap_or(0));
    // Whole pixels throughout: the lanes need no finer resolution, and integer formatting keeps
    // float printing out of the browser build.
    let span = (max - min).max(1);
    let (left, width, lane_h): (i64, i64, i64) = (120, 600, 28);
    let height = lane_h * lanes.len() as i64 + 10;
    let color = |image: &str| {
        let h: u32 = image.bytes().fold(7u32, |a, b| a.wrapping_mul(31).wrapping_add(b as u32)) % 360;
        format!("hsl({h} 65% 45%)")
    };
    let view_box = format!("0 0 {} {}", left + width + 20, height);
    view! {
        <h2>"Timeline"</h2>
        <figure class="timeline-figure">
            <svg viewBox=view_box role="img" aria-label="Tag timeline: one lane per tag, one dot per image the tag pointed at" class="lanes">
                {lanes
                    .iter()
                    .enumerate()
                    .map(|(row, (tag, items))| {
                        let y = lane_h * row as i64 + lane_h / 2 + 5;
                        view! {
                            <g>
                                <text x="4" y=y + 4 class="lane-label">{tag.clone()}</text>
                                <line x1=left y1=y x2=left + width y2=y class="lane"/>
                                {dots(items, min, span, left, width)
                                    .into_iter()
                                    .map(|d| {
                                        let i = &items[d.newest];
                                        let label = labels.get(&i.image).cloned().unwrap_or_else(|| "reference".into());
                                        let title = if d.count == 1 {
                                            format!("{tag} → {} at {}", short_digest(&i.image), i.created)
                                        } else {
                                            format!("{tag} → {} at {} (and {} older moves here)", short_digest(&i.image), i.created, d.count - 1)
                                        };
                                        // Short histories get a label per dot; longer ones a tooltip; the longest
                                        // (dots closer than a tooltip can be aimed at) neither: their history
                                        // list below says it all.
                                        let label = (items.len() <= 20).then(|| view! { <text x=d.x + 9 y=y - 8 class="dot-label">{label}</text> });
                                        let title = (items.len() <= 200).then(|| view! { <title>{title}</title> });
                                        view! { <circle cx=d.x cy=y r="7" fill=color(&i.image)>{title}</circle>{label} }
                                    })
                                    .collect_view()}
                            </g>
                        }
                    })
                    .collect_view()}
            </svg>
            <figcaption class="muted small">"Each lane is a tag; dots of the same colour are the same image."</figcaption>
        </figure>
    }
    .into_any()
}

/// One dot of a lane: where, which item (the newest it stands for), and how many it stands for.
#[derive(Debug, PartialEq, Eq)]
struct Dot {
    x: i64,
    newest: usize,
    count: usize,
}

/// The dots of a lane: items (newest first) that fall on the same pixel are one dot, coloured
/// by the newest of them (it would hide the others anyway); a long history then costs at most a
/// dot per pixel of width instead of one per item.
///
/// The lane maps the times `min ..= min + span` (seconds) to the pixels `left ..= left + width`,
/// rounding half up; an item whose time does not parse sits at `min`.
fn dots(items: &[TagEvent], min: i64, span: i64, left: i64, width: i64) -> Vec<Dot> {
    let mut out: Vec<Dot> = vec![];
    let mut last: Option<i64> = None;
    for (i, item) in items.iter().enumerate() {
        let t = parse_time(&item.created).map(|t| t.timestamp()).unwrap_or(min);
        let x = left + (width * (t - min) * 2 + span) / (span * 2);
        match (last, out.last_mut()) {
            (Some(k), Some(d)) if k == x => d.count += 1,
            _ => out.push(Dot { x, newest: i, count: 1 }),
        }
        last = Some(x);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A history item `secs` seconds after the lane's start.
    fn at(secs: i64) -> TagEvent {
        let created = chrono::DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap().to_rfc3339();
        TagEvent { created, ..Default::default() }
    }

    const MIN: i64 = 1_700_000_000;

    #[test]
    fn the_lane_spans_its_width() {
        // 600 s over 600 px: a pixel per second, newest on the right.
        let d = dots(&[at(600), at(300), at(0)], MIN, 600, 120, 600);
        assert_eq!(d.iter().map(|d| d.x).collect::<Vec<_>>(), vec![720, 420, 120]);
        assert!(d.iter().all(|d| d.count == 1));
    }

    #[test]
    fn items_on_the_same_pixel_are_one_dot_of_the_newest() {
        // 1200 s over 600 px: two seconds per pixel, rounded half up.
        let d = dots(&[at(1200), at(1199), at(1198), at(0)], MIN, 1200, 120, 600);
        assert_eq!(d, vec![Dot { x: 720, newest: 0, count: 2 }, Dot { x: 719, newest: 2, count: 1 }, Dot { x: 120, newest: 3, count: 1 }]);
    }

    #[test]
    fn a_long_history_costs_at_most_a_dot_per_pixel() {
        let items: Vec<TagEvent> = (0..10_000).rev().map(at).collect();
        let d = dots(&items, MIN, 9_999, 0, 100);
        assert_eq!(d.len(), 101, "pixels 0 ..= 100");
        assert_eq!(d.iter().map(|d| d.count).sum::<usize>(), items.len(), "every item is in a dot");
        assert_eq!((d[0].x, d[0].newest), (100, 0));
    }

    #[test]
    fn unreadable_times_sit_at_the_start() {
        let broken = TagEvent { created: "yesterday".into(), ..Default::default() };
        let d = dots(&[at(10), broken], MIN, 10, 5, 50);
        assert_eq!(d, vec![Dot { x: 55, newest: 0, count: 1 }, Dot { x: 5, newest: 1, count: 1 }]);
    }

    #[test]
    fn a_single_moment_sits_at_the_start() {
        // The caller makes the span at least a second, so one item (or many at one time) is on
        // the left edge.
        let d = dots(&[at(0), at(0)], MIN, 1, 120, 600);
        assert_eq!(d, vec![Dot { x: 120, newest: 0, count: 2 }]);
    }
}
