//! `prune images` (oc adm prune images): validates the flags with upstream's messages, asks the
//! server (the namespace's route with -n/--namespace, the server's without), and prints the
//! report: every decision with its reason, upstream's `Deleting …` lines and the `Summary:` line;
//! `-o json` prints the report as the API gave it. The dry-run notice goes to stderr.

use super::args::PruneImagesArgs;
use super::output::{CmdResult, Context, Output, local};
use app::domain::prune::{PruneReport, validate};

/// Runs `prune images`; `namespace` is the namespace when one was named explicitly.
pub async fn prune_images(ctx: &Context, args: &PruneImagesArgs, namespace: Option<&str>, out: &mut Output) -> CmdResult {
    let younger = parse_age(&args.keep_younger_than)?;
    validate(args.keep_tag_revisions, younger).map_err(local)?;
    if let Some(o) = args.output.as_deref()
        && o != "json"
    {
        return Err(local(format!("unable to match a printer suitable for the output format \"{o}\", allowed formats are: json")));
    }
    let body = serde_json::json!({
        "keepTagRevisions": args.keep_tag_revisions,
        "keepYoungerThanSeconds": younger,
        "all": args.all,
        "confirm": args.confirm,
    });
    let path = match namespace {
        Some(ns) => format!("/api/v1/namespaces/{ns}/prune/images?progress=true"),
        None => "/api/v1/prune/images?progress=true".to_string(),
    };
    if !args.confirm {
        out.note("Dry run enabled - no modifications will be made. Add --confirm to remove images\n")?;
    }
    // Progress lines go to stderr as they come; each stream's and Image's decisions are
    // gathered; the last line is the report's counts and summary (or the failure).
    let (mut streams, mut images) = (vec![], vec![]);
    let mut last: Option<serde_json::Value> = None;
    let unreadable = |e: serde_json::Error| local(format!("the server's answer could not be read: {e}"));
    ctx.client
        .post_lines(&path, &body, |line| {
            let mut v: serde_json::Value = serde_json::from_str(line).map_err(unreadable)?;
            if let Some(p) = v.get("progress") {
                let total = p["total"].as_u64().unwrap_or(0);
                if total >= 1000 {
                    out.note(&format!("{} {}/{total}\n", p["phase"].as_str().unwrap_or(""), p["done"]))?;
                }
            } else if let Some(s) = v.get_mut("stream") {
                streams.push(serde_json::from_value(s.take()).map_err(unreadable)?);
            } else if let Some(i) = v.get_mut("image") {
                images.push(serde_json::from_value(i.take()).map_err(unreadable)?);
            } else {
                last = Some(v);
            }
            Ok(())
        })
        .await?;
    let last = last.ok_or_else(|| local("the server ended the prune without a report"))?;
    if let Some(status) = last.get("status") {
        let status: app::model::Status = serde_json::from_value(status.clone()).map_err(unreadable)?;
        return Err(super::client::CliError::Server(app::model::ApiError::from_status(status)));
    }
    let mut report: PruneReport =
        serde_json::from_value(last["report"].clone()).map_err(|e| local(format!("the server's report could not be read: {e}")))?;
    report.streams = streams;
    report.images = images;
    if args.output.as_deref() == Some("json") {
        return out.print(&format!("{}\n", serde_json::to_string_pretty(&report).map_err(|e| local(e.to_string()))?));
    }
    out.print(&render(&report))
}

/// `60m`, `24h`, `1h30m`, or seconds; negative values pass through to the validation message.
fn parse_age(s: &str) -> Result<i64, super::client::CliError> {
    let t = s.trim();
    if let Some(rest) = t.strip_prefix('-') {
        return Ok(-(humantime::parse_duration(rest).map(|d| d.as_secs() as i64).or_else(|_| rest.parse::<i64>()).unwrap_or(1)));
    }
    if let Ok(n) = t.parse::<i64>() {
        return Ok(n);
    }
    humantime::parse_duration(t)
        .map(|d| d.as_secs() as i64)
        .map_err(|e| local(format!("invalid argument {t:?} for \"--keep-younger-than\" flag: {e}")))
}

/// The text report: a table of every decision, then upstream's lines and the summary.
pub fn render(report: &PruneReport) -> String {
    let short = |d: &str| d.get(..19).unwrap_or(d).to_string();
    let mut rows: Vec<Vec<String>> = vec![];
    for s in &report.streams {
        for i in &s.items {
            rows.push(vec![
                format!("{}/{}:{}", s.namespace, s.name, i.tag),
                // Counted from 1, as the reasons ("revision 2 of 3 kept") and the page count them.
                (i.revision + 1).to_string(),
                short(&i.image),
                if i.decision.keep { "keep".into() } else { "delete".into() },
                i.decision.reason.clone(),
            ]);
        }
    }
    for i in &report.images {
        rows.push(vec![
            "image".into(),
            String::new(),
            short(&i.digest),
            if i.decision.keep { "keep".into() } else { "delete".into() },
            i.decision.reason.clone(),
        ]);
    }
    let mut text = String::new();
    if !rows.is_empty() {
        text.push_str(&super::print::render_table(&["TAG", "REVISION", "IMAGE", "DECISION", "REASON"], &rows));
        text.push('\n');
    }
    for s in &report.streams {
        let n = s.deleted();
        if n > 0 {
            text.push_str(&format!("Deleting {n} items from image stream {}/{}\n", s.namespace, s.name));
        }
    }
    for i in report.images.iter().filter(|i| !i.decision.keep) {
        text.push_str(&format!("Deleting image {}\n", i.digest));
    }
    text.push_str(&report.summary);
    text.push('\n');
    text
}
