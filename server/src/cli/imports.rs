//! `import-image NAME[:TAG]` (spec §4.1): executes `app::domain::import_command`'s plan: read the
//! stream, send one ImageStreamImport (again, after a re-read, when the server's background
//! imports changed the stream in between), print the result as oc does (the stream described, then
//! each failure) and exit 1 when a tag failed.
//!
//! Must not: decide what is imported or word a check (`app::domain::import_command`), or lay out
//! the description (`print.rs`).

use super::args::ImportImageArgs;
use super::client::{CliError, retry_on_conflict};
use super::output::{CmdResult, Context, Output, local};
use super::print::describe_stream;
use super::streams::ns_path;
use app::domain::import_command::{IMPORT_FAILED, ImportArgs, ImportOutcome, image_results, plan_import};
use app::model::*;

pub async fn import_image(ctx: &Context, a: &ImportImageArgs, out: &mut Output) -> CmdResult {
    let plan = plan_import(ImportArgs {
        name: a.name.clone(),
        from: a.from.clone(),
        confirm: a.confirm,
        all: a.all,
        scheduled: a.policy.scheduled,
        insecure: a.policy.insecure,
        reference_policy: a.policy.reference_policy.clone(),
        import_mode: a.policy.import_mode.clone(),
        dry_run: a.dry_run,
        namespace: ctx.namespace.clone(),
    })
    .map_err(local)?;
    // The request carries the resourceVersion just read; when the server's own importers change
    // the stream before it arrives, read and plan again (oc's retry on conflict).
    let done: ImageStreamImport = retry_on_conflict(|| async {
        let stream = match ctx.client.get::<ImageStream>(&format!("{}/{}", ns_path(&ctx.namespace, "imagestreams"), plan.stream())).await {
            Ok(s) => Some(s),
            Err(CliError::Server(e)) if e.code() == 404 => None,
            Err(e) => return Err(e),
        };
        let request = plan.request(stream.as_ref()).map_err(local)?;
        ctx.client.post(&ns_path(&ctx.namespace, "imagestreamimports"), &request).await
    })
    .await?;

    let outcome = ImportOutcome::of(&done);
    let mut text = format!("{}\n\n", outcome.headline(plan.stream(), plan.dry_run()));
    match &done.status.import {
        Some(s) => text.push_str(&describe_stream(s, chrono::Utc::now())),
        None => {
            for i in image_results(&done) {
                if let Some(img) = &i.image {
                    text.push_str(&format!("{}\t{}\n", i.tag, img.docker_image_reference));
                }
            }
        }
    }
    for f in &outcome.failures {
        text.push_str(&format!("\n{f}"));
    }
    if !outcome.failures.is_empty() {
        text.push('\n');
    }
    if let Some(info) = outcome.additional_tags_message() {
        text.push_str(&format!("\n{info}\n"));
    }
    out.print(&text)?;
    if outcome.failures.is_empty() { Ok(()) } else { Err(local(IMPORT_FAILED)) }
}
