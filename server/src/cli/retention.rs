//! `get retention` and `set retention`: a namespace's retention policy (what its scheduled prune
//! keeps) and its latest runs. `-o json|yaml` prints the API's object as it came; the default
//! is the policy in one line and a table of runs. `set retention` sends the flags as the policy;
//! the server's 422 names the field a bad value broke.
//!
//! Must not: check a policy rule itself (the server does, with `app::domain::retention`).

use super::args::SetRetentionArgs;
use super::output::{CmdResult, Context, Output, local};
use app::domain::retention::{RetentionPolicy, RetentionRunList, StoredRetentionPolicy, parse_duration};

/// How many runs `get retention` lists.
const RUNS_SHOWN: usize = 10;

pub async fn get(ctx: &Context, output: Option<&str>, out: &mut Output) -> CmdResult {
    let base = format!("/api/v1/namespaces/{}/retention", ctx.namespace);
    let value = ctx.client.get_value(&base).await?;
    match output {
        Some("json") => return out.print(&format!("{}\n", serde_json::to_string_pretty(&value).map_err(|e| local(e.to_string()))?)),
        Some("yaml") => return out.print(&crate::yaml::to_string(&value)),
        Some(o) => {
            return Err(local(format!("unable to match a printer suitable for the output format \"{o}\", allowed formats are: json,yaml")));
        }
        None => {}
    }
    let stored: StoredRetentionPolicy =
        serde_json::from_value(value).map_err(|e| local(format!("the server's answer did not decode: {e}")))?;
    let runs: RetentionRunList = ctx.client.get(&format!("{base}/runs?limit={RUNS_SHOWN}")).await?;
    let mut text = format!(
        "Namespace:\t{}\nPolicy:\t\t{}\nUpdated:\t{} by {}\nLast scheduled:\t{}\n",
        stored.namespace,
        stored.policy.describe(),
        stored.updated,
        stored.updated_by,
        stored.last_scheduled_run.as_deref().unwrap_or("<none>")
    );
    if runs.items.is_empty() {
        text.push_str("\nNo runs yet.\n");
    } else {
        let rows: Vec<Vec<String>> = runs
            .items
            .iter()
            .map(|r| {
                vec![
                    r.id.to_string(),
                    r.started.clone(),
                    r.by.clone(),
                    r.state.clone(),
                    r.error.clone().unwrap_or_else(|| r.summary.clone()),
                ]
            })
            .collect();
        text.push('\n');
        text.push_str(&super::print::render_table(&["RUN", "STARTED", "BY", "STATE", "SUMMARY"], &rows));
    }
    out.print(&text)
}

pub async fn set(ctx: &Context, args: &SetRetentionArgs, out: &mut Output) -> CmdResult {
    let duration =
        |flag: &str, text: &str| parse_duration(text).map_err(|e| local(format!("invalid argument {text:?} for \"--{flag}\" flag: {e}")));
    let policy = RetentionPolicy {
        keep_tag_revisions: args.keep_tag_revisions,
        keep_younger_than_seconds: duration("keep-younger-than", &args.keep_younger_than)?,
        keep_tag_patterns: args.keep_tag_pattern.clone(),
        pulled_within_seconds: args.pulled_within.as_deref().map(|t| duration("pulled-within", t)).transpose()?,
    };
    let saved: StoredRetentionPolicy = ctx.client.put(&format!("/api/v1/namespaces/{}/retention", ctx.namespace), &policy).await?;
    out.print(&format!("retention policy of namespace/{} set: {}\n", saved.namespace, saved.policy.describe()))
}
