//! Image streams and their virtual resources from the command line, as oc does them: `tag`
//! (executing `app::domain::tag_command`'s plan), `get is|istag|isimage|image` (with `-w` for
//! streams), `describe is` and `delete is|istag`.
//!
//! Must not: hold oc's checks or messages (`app::domain::tag_command`), a table's columns
//! (`print.rs`) or the `-o` formats (`output.rs`).

use super::args::{GetArgs, TagFlags};
use super::client::CliError;
use super::output::{Answer, CmdResult, Context, Format, Output, Printable, Printer, Scope, local, name_segment, table};
use super::print::{describe_stream, istag_wide_table};
use app::domain::tag_command::{TagArgs, TagPlan, delete_message, plan_tag, tag_message, tag_reference_for};
use app::model::*;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

/// What a query value may hold unescaped: RFC 3986's unreserved characters.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn query_value(s: &str) -> String {
    utf8_percent_encode(s, QUERY_VALUE).to_string()
}

pub(super) fn ns_path(ns: &str, resource: &str) -> String {
    format!("{IMAGE_API_PATH}/namespaces/{ns}/{resource}")
}

/// `tag`: plan with oc's checks, then one PUT (or DELETE) per destination, in order; the first
/// failure stops the rest.
pub async fn tag(ctx: &Context, flags: &TagFlags, out: &mut Output) -> CmdResult {
    let args = TagArgs {
        args: flags.args.clone(),
        alias: flags.alias,
        reference: flags.reference,
        reference_policy: flags.policy.reference_policy.clone(),
        scheduled: flags.policy.scheduled,
        insecure: flags.policy.insecure,
        import_mode: flags.policy.import_mode.clone(),
        source_kind: flags.source.clone(),
        delete: flags.delete,
        namespace: ctx.namespace.clone(),
    };
    match plan_tag(&args).map_err(local)? {
        TagPlan::Delete(dests) => {
            for d in dests {
                ctx.client.delete(&format!("{}/{}:{}", ns_path(&d.namespace, "imagestreamtags"), d.stream, d.tag)).await?;
                out.print(&format!("{}\n", delete_message(&d)))?;
            }
            Ok(())
        }
        TagPlan::Set { source, destinations, template, alias, scheduled } => {
            // A permanent tag of an image stream tag is pinned to its current image: read it now.
            let head = if source.kind == KIND_IMAGE_STREAM_TAG && !alias {
                let src_ns = if source.reference.namespace.is_empty() { ctx.namespace.clone() } else { source.reference.namespace.clone() };
                let stream: ImageStream =
                    ctx.client.get(&format!("{}/{}", ns_path(&src_ns, "imagestreams"), source.reference.name)).await?;
                stream.head(&source.reference.tag).cloned()
            } else {
                None
            };
            for d in &destinations {
                let (tag_ref, printed) = tag_reference_for(&source, d, &template, alias, &ctx.namespace, head.as_ref()).map_err(local)?;
                let body = ImageStreamTag::setting(&d.namespace, &d.stream, tag_ref);
                let name = body.metadata.name.clone();
                let _: ImageStreamTag = ctx.client.put(&format!("{}/{}", ns_path(&d.namespace, "imagestreamtags"), name), &body).await?;
                out.print(&format!("{}\n", tag_message(d, &ctx.namespace, &printed, alias, scheduled)))?;
            }
            Ok(())
        }
    }
}

/// The resources of the image API `get`, `describe` and `delete` name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resource {
    ImageStreams,
    ImageStreamTags,
    ImageStreamImages,
    Images,
}

impl Resource {
    /// The resource a kind argument names (oc's short and long names, any case).
    fn of(kind: &str) -> Result<Resource, CliError> {
        Ok(match kind.to_ascii_lowercase().as_str() {
            "is" | "imagestream" | "imagestreams" => Resource::ImageStreams,
            "istag" | "imagestreamtag" | "imagestreamtags" => Resource::ImageStreamTags,
            "isimage" | "imagestreamimage" | "imagestreamimages" => Resource::ImageStreamImages,
            "image" | "images" => Resource::Images,
            other => return Err(local(format!("the server doesn't have a resource type \"{other}\""))),
        })
    }

    /// The resource's name in the API's paths.
    fn plural(self) -> &'static str {
        match self {
            Resource::ImageStreams => "imagestreams",
            Resource::ImageStreamTags => "imagestreamtags",
            Resource::ImageStreamImages => "imagestreamimages",
            Resource::Images => "images",
        }
    }

    /// `<resource>.image.openshift.io`, as oc prints it.
    fn qualified(self) -> &'static str {
        match self {
            Resource::ImageStreams => ImageStream::RESOURCE,
            Resource::ImageStreamTags => ImageStreamTag::RESOURCE,
            Resource::ImageStreamImages => ImageStreamImage::RESOURCE,
            Resource::Images => Image::RESOURCE,
        }
    }

    /// Images are cluster-wide; the rest live in a namespace.
    fn path(self, ns: &str) -> String {
        match self {
            Resource::Images => format!("{IMAGE_API_PATH}/images"),
            other => ns_path(ns, other.plural()),
        }
    }
}

/// Every page of a list, followed through `continue`, as one list.
async fn list_all(ctx: &Context, path: &str) -> Result<Value, CliError> {
    let mut first: Value = ctx.client.get_value(path).await?;
    let mut items: Vec<Value> = first["items"].as_array().cloned().unwrap_or_default();
    let mut cont = first["metadata"]["continue"].as_str().map(str::to_string);
    while let Some(c) = cont {
        let page = ctx.client.get_value(&format!("{path}?continue={}", query_value(&c))).await?;
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        cont = page["metadata"]["continue"].as_str().map(str::to_string);
    }
    first["items"] = Value::Array(items);
    if let Some(m) = first["metadata"].as_object_mut() {
        m.remove("continue");
    }
    Ok(first)
}

/// `get is|istag|isimage|image [NAME]`, and `get is -w`.
pub async fn get(ctx: &Context, args: &GetArgs, printer: Printer, out: &mut Output) -> CmdResult {
    let resource = Resource::of(&args.kind)?;
    if args.watch && resource != Resource::ImageStreams {
        return Err(local(format!("watch is not supported on {}: only image streams can be watched", resource.plural())));
    }
    if args.watch && !printer.format.is_table() {
        // Said, not ignored: the rows of a watch are table rows.
        return Err(local("watch prints table rows: use -w without -o, or with -o wide"));
    }
    let base = resource.path(&ctx.namespace);
    let answer = match &args.name {
        Some(n) => Answer::one(ctx.client.get_value(&format!("{base}/{n}")).await?),
        None if resource == Resource::ImageStreamImages => return Err(local("a resource name is required for imagestreamimages")),
        None => Answer::list(list_all(ctx, &base).await?),
    };
    let scope = if resource == Resource::Images { Scope::Cluster } else { Scope::Namespace(&ctx.namespace) };
    match resource {
        Resource::ImageStreams if args.watch => {
            // The table (just its header when empty), then a row per change.
            let wide = printer.format == Format::Wide;
            out.print(&table(&answer.typed::<ImageStream>()?, wide, chrono::Utc::now()))?;
            watch(ctx, args.name.as_deref(), answer.body(), wide, out).await
        }
        Resource::ImageStreams => printer.print::<ImageStream>(out, scope, answer),
        Resource::ImageStreamTags if printer.format == Format::Wide && !answer.items().is_empty() => {
            // The pull specs in the portal's registry come from the tags' streams, as in
            // `describe is`: the one stream named, or the namespace's streams.
            let tags = answer.typed::<ImageStreamTag>()?;
            let streams_path = ns_path(&ctx.namespace, "imagestreams");
            let streams: Vec<ImageStream> = match args.name.as_deref().and_then(|n| n.split_once(':')) {
                Some((stream, _)) => vec![ctx.client.get(&format!("{streams_path}/{stream}")).await?],
                None => serde_json::from_value(list_all(ctx, &streams_path).await?["items"].take())
                    .map_err(|e| local(format!("the server's answer could not be read: {e}")))?,
            };
            out.print(&istag_wide_table(&tags, &streams, chrono::Utc::now()))
        }
        Resource::ImageStreamTags => printer.print::<ImageStreamTag>(out, scope, answer),
        Resource::ImageStreamImages => printer.print::<ImageStreamImage>(out, scope, answer),
        Resource::Images => printer.print::<Image>(out, scope, answer),
    }
}

/// `get is -w`: after the list, one table row per change, as oc prints them (widths of the
/// first table are not kept: each row is padded on its own). The server ends a watch cleanly
/// after its maximum lifetime (`serve --watch-max-duration`); this one then resumes from the last
/// version it saw, so nothing is lost or printed twice. An `ERROR` event ends it.
async fn watch(ctx: &Context, name: Option<&str>, listed: &Value, wide: bool, out: &mut Output) -> CmdResult {
    let mut rv = listed["metadata"]["resourceVersion"].as_str().unwrap_or("0").to_string();
    loop {
        // Bookmarks keep `rv` current while nothing changes (a resume after a long quiet spell
        // is not older than the event log keeps) and mark where a server shutting down stopped.
        let mut path =
            format!("{}?watch=1&allowWatchBookmarks=true&resourceVersion={}", ns_path(&ctx.namespace, "imagestreams"), query_value(&rv));
        if let Some(name) = name {
            path.push_str(&format!("&fieldSelector=metadata.name%3D{}", query_value(name)));
        }
        ctx.client
            .watch_lines(&path, |line| {
                let event: Value = serde_json::from_str(line).map_err(|e| local(format!("unreadable watch event: {e}")))?;
                if let Some(v) = event["object"]["metadata"]["resourceVersion"].as_str() {
                    rv = v.to_string();
                }
                match event["type"].as_str() {
                    Some("BOOKMARK") => return Ok(()),
                    Some("ERROR") => return Err(local(event["object"]["message"].as_str().unwrap_or("the watch failed").to_string())),
                    _ => {}
                }
                let stream: ImageStream = serde_json::from_value(event["object"].clone()).map_err(|e| local(e.to_string()))?;
                let text = table(&[stream], wide, chrono::Utc::now());
                out.print(text.split_once('\n').map(|(_, row)| row).unwrap_or(""))?;
                out.flush()
            })
            .await?;
    }
}

/// `describe is NAME`.
pub async fn describe(ctx: &Context, kind: &str, name: &str, out: &mut Output) -> CmdResult {
    if Resource::of(kind)? != Resource::ImageStreams {
        return Err(local(format!("describe supports image streams (is), not \"{kind}\"")));
    }
    let stream: ImageStream =
        ctx.client.get(&format!("{}/{}", ns_path(&ctx.namespace, "imagestreams"), name_segment("image stream", name)?)).await?;
    out.print(&describe_stream(&stream, chrono::Utc::now()))
}

/// `delete is NAME` and `delete istag STREAM:TAG`.
pub async fn delete(ctx: &Context, kind: &str, name: &str, out: &mut Output) -> CmdResult {
    let resource = Resource::of(kind)?;
    if !matches!(resource, Resource::ImageStreams | Resource::ImageStreamTags) {
        return Err(local(format!("delete supports is, istag, webhook and token, not \"{kind}\"")));
    }
    ctx.client.delete(&format!("{}/{}", resource.path(&ctx.namespace), name_segment(resource.qualified(), name)?)).await?;
    out.print(&format!("{} \"{name}\" deleted\n", resource.qualified()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_keep_only_unreserved_characters() {
        assert_eq!(query_value("a-Z_0.9~"), "a-Z_0.9~");
        assert_eq!(query_value("eyJ0=/+ é"), "eyJ0%3D%2F%2B%20%C3%A9");
    }

    #[test]
    fn kinds_name_resources() {
        assert_eq!(Resource::of("IS").unwrap(), Resource::ImageStreams);
        assert_eq!(Resource::of("imagestreamtag").unwrap().qualified(), "imagestreamtag.image.openshift.io");
        assert_eq!(Resource::of("images").unwrap().path("demo"), "/apis/image.openshift.io/v1/images");
        assert_eq!(Resource::of("isimage").unwrap().path("demo"), "/apis/image.openshift.io/v1/namespaces/demo/imagestreamimages");
        assert_eq!(Resource::of("pods").unwrap_err().to_string(), "error: the server doesn't have a resource type \"pods\"");
    }
}
