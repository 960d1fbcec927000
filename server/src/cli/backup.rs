//! `backup --to DIR` and `restore --from DIR --data-dir NEW`: the two commands that are not
//! clients of the HTTP API. They open the data directory themselves (`service::backup` says
//! why), so they run on the server's machine, as the server's user.
//!
//! Must not: hold the backup's rules (order of copies, what marks a backup complete); those are
//! `service::backup`'s.

use super::args::{BackupArgs, RestoreArgs};
use super::output::{CmdResult, Output, local};

pub async fn backup(args: &BackupArgs, out: &mut Output) -> CmdResult {
    let blobs = crate::serve::blob_store(&args.blob_store, &args.data_dir).map_err(|e| local(format!("{e:#}")))?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let m = crate::service::backup::backup(&args.data_dir, &blobs, &args.to, &now).await.map_err(local)?;
    let mut text = format!(
        "backup of {} written to {}: database {} bytes, {} blobs ({} bytes){}\n",
        args.data_dir.display(),
        args.to.display(),
        m.database_bytes,
        m.blobs,
        m.blob_bytes,
        if m.sealing_key { ", sealing key" } else { "" }
    );
    if !m.blobs_missing.is_empty() {
        text.push_str(&format!(
            "note: {} blob(s) were garbage collected while the backup ran and are not in it (see backup.json)\n",
            m.blobs_missing.len()
        ));
    }
    out.print(&text)
}

pub async fn restore(args: &RestoreArgs, out: &mut Output) -> CmdResult {
    // The file store is created by the restore itself, after it checked the directory is empty.
    let blobs = match args.blob_store.as_str() {
        "file" | "" => None,
        _ => Some(crate::serve::blob_store(&args.blob_store, &args.data_dir).map_err(|e| local(format!("{e:#}")))?),
    };
    let m = crate::service::backup::restore(&args.from, &args.data_dir, blobs.as_ref()).await.map_err(local)?;
    out.print(&format!(
        "restored the backup of {} into {}: {} blobs; start it with: imagestreams serve --data-dir {}\n",
        m.created,
        args.data_dir.display(),
        m.blobs,
        args.data_dir.display()
    ))
}
