//! The client commands, each mirroring `oc`: the checks and texts come from `app::domain`, the
//! data from the API.

use super::client::{CliError, Client};
use super::{GetArgs, TagFlags};
use app::domain::present::{ago, describe_stream, image_stream_row, render_table};
use app::domain::tag_command::{TagArgs, TagPlan, delete_message, plan_tag, tag_message, tag_reference_for};
use app::model::*;
use serde_json::Value;
use std::io::Write;

pub struct Context {
    pub client: Client,
    pub namespace: String,
}

type CmdResult = Result<(), CliError>;

pub(super) fn local(msg: impl Into<String>) -> CliError {
    CliError::Local(msg.into())
}

pub(super) fn write_out(out: &mut dyn Write, text: &str) -> CmdResult {
    out.write_all(text.as_bytes()).map_err(|e| local(format!("writing output: {e}")))
}

fn ns_path(ns: &str, resource: &str) -> String {
    format!("/apis/image.openshift.io/v1/namespaces/{ns}/{resource}")
}

pub async fn create_namespace(ctx: &Context, name: &str, out: &mut dyn Write) -> CmdResult {
    let ns: Namespace = ctx.client.post("/api/v1/namespaces", &Namespace::new(name)).await?;
    write_out(out, &format!("namespace/{} created\n", ns.metadata.name))
}

/// `create secret docker-registry`: the password travels once, to the server, and is never shown.
pub async fn create_registry_secret(
    ctx: &Context,
    name: &str,
    server: &str,
    username: &str,
    password: &str,
    out: &mut dyn Write,
) -> CmdResult {
    let config = serde_json::json!({"auths": {server: {"username": username, "password": password}}});
    let secret = Secret {
        metadata: ObjectMeta::named(Some(&ctx.namespace), name),
        secret_type: SECRET_TYPE_DOCKER_CONFIG_JSON.into(),
        string_data: [(DOCKER_CONFIG_JSON_KEY.to_string(), config.to_string())].into(),
        ..Default::default()
    };
    let created: Secret = ctx.client.post(&format!("/api/v1/namespaces/{}/secrets", ctx.namespace), &secret).await?;
    write_out(out, &format!("secret/{} created\n", created.metadata.name))
}

/// `tag`: plan with oc's checks, then one PUT (or DELETE) per destination, in order; the first
/// failure stops the rest.
pub async fn tag(ctx: &Context, flags: &TagFlags, out: &mut dyn Write) -> CmdResult {
    let args = TagArgs {
        args: flags.args.clone(),
        alias: flags.alias,
        reference: flags.reference,
        reference_policy: flags.reference_policy.clone(),
        scheduled: flags.scheduled,
        insecure: flags.insecure,
        import_mode: flags.import_mode.clone(),
        source_kind: flags.source.clone(),
        delete: flags.delete,
        namespace: ctx.namespace.clone(),
    };
    match plan_tag(&args).map_err(local)? {
        TagPlan::Delete(dests) => {
            for d in dests {
                ctx.client.delete(&format!("{}/{}:{}", ns_path(&d.namespace, "imagestreamtags"), d.stream, d.tag)).await?;
                write_out(out, &format!("{}\n", delete_message(&d)))?;
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
                write_out(out, &format!("{}\n", tag_message(d, &ctx.namespace, &printed, alias, scheduled)))?;
            }
            Ok(())
        }
    }
}

/// The canonical resource of a `get` kind argument.
fn resource_of(kind: &str) -> Result<(&'static str, &'static str), CliError> {
    Ok(match kind.to_ascii_lowercase().as_str() {
        "is" | "imagestream" | "imagestreams" => ("imagestreams", "imagestream.image.openshift.io"),
        "istag" | "imagestreamtag" | "imagestreamtags" => ("imagestreamtags", "imagestreamtag.image.openshift.io"),
        "isimage" | "imagestreamimage" | "imagestreamimages" => ("imagestreamimages", "imagestreamimage.image.openshift.io"),
        "image" | "images" => ("images", "image.image.openshift.io"),
        other => return Err(local(format!("the server doesn't have a resource type \"{other}\""))),
    })
}

fn path_of(ctx: &Context, resource: &str) -> String {
    if resource == "images" { "/apis/image.openshift.io/v1/images".into() } else { ns_path(&ctx.namespace, resource) }
}

/// Every page of a list, followed through `continue`.
async fn list_all(ctx: &Context, path: &str) -> Result<Value, CliError> {
    let mut first: Value = ctx.client.get_value(path).await?;
    let mut items: Vec<Value> = first["items"].as_array().cloned().unwrap_or_default();
    let mut cont = first["metadata"]["continue"].as_str().map(str::to_string);
    while let Some(c) = cont {
        let page = ctx.client.get_value(&format!("{path}?continue={}", urlencode(&c))).await?;
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        cont = page["metadata"]["continue"].as_str().map(str::to_string);
    }
    first["items"] = Value::Array(items);
    if let Some(m) = first["metadata"].as_object_mut() {
        m.remove("continue");
    }
    Ok(first)
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn export(v: &mut Value) {
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in ["uid", "resourceVersion", "creationTimestamp", "selfLink", "generation"] {
            m.remove(k);
        }
    }
    if let Some(items) = v.get_mut("items").and_then(Value::as_array_mut) {
        items.iter_mut().for_each(export);
    }
}

pub async fn get(ctx: &Context, args: &GetArgs, out: &mut dyn Write) -> CmdResult {
    if super::webhooks::is_webhook_kind(&args.kind) {
        return super::webhooks::get(ctx, args.name.as_deref(), args.output.as_deref(), out).await;
    }
    let (resource, qualified) = resource_of(&args.kind)?;
    if args.watch && resource != "imagestreams" {
        return Err(local(format!("watch is not supported on {resource}: only image streams can be watched")));
    }
    let base = path_of(ctx, resource);
    let mut value = match &args.name {
        Some(n) => ctx.client.get_value(&format!("{base}/{n}")).await?,
        None if resource == "imagestreamimages" => return Err(local("a resource name is required for imagestreamimages")),
        None => list_all(ctx, &base).await?,
    };
    let items: Vec<Value> = match &args.name {
        Some(_) => vec![value.clone()],
        None => value["items"].as_array().cloned().unwrap_or_default(),
    };
    match args.output.as_deref() {
        Some("json") => {
            if args.export {
                export(&mut value);
            }
            let text = serde_json::to_string_pretty(&value).map_err(|e| local(e.to_string()))?;
            write_out(out, &format!("{text}\n"))
        }
        Some("yaml") => {
            if args.export {
                export(&mut value);
            }
            write_out(out, &crate::yaml::try_to_string(&value).map_err(local)?)
        }
        Some("name") => {
            for i in &items {
                write_out(out, &format!("{qualified}/{}\n", i["metadata"]["name"].as_str().unwrap_or_default()))?;
            }
            Ok(())
        }
        None | Some("wide") => {
            let wide = args.output.as_deref() == Some("wide");
            if items.is_empty() && !args.watch {
                eprintln!("No resources found in {} namespace.", ctx.namespace);
                return Ok(());
            }
            let text = table(resource, &items, wide)?;
            if args.watch {
                let (header, rows) = text.split_once('\n').unwrap_or((&text, ""));
                write_out(out, &format!("{header}\n{}", if items.is_empty() { "" } else { rows }))?;
                return watch(ctx, args, &value, out).await;
            }
            write_out(out, &text)
        }
        Some(other) => Err(local(format!(
            "unable to match a printer suitable for the output format \"{other}\", allowed formats are: json,name,wide,yaml"
        ))),
    }
}

fn table(resource: &str, items: &[Value], wide: bool) -> Result<String, CliError> {
    let now = chrono::Utc::now();
    let parse = |v: &Value| -> Result<Value, CliError> { Ok(v.clone()) };
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    Ok(match resource {
        "imagestreams" => {
            let rows = items
                .iter()
                .map(|v| {
                    serde_json::from_value::<ImageStream>(parse(v)?).map(|is| image_stream_row(&is, now)).map_err(|e| local(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            render_table(&["NAME", "IMAGE REPOSITORY", "TAGS", "UPDATED"], &rows)
        }
        "imagestreamtags" => {
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|v| {
                    let mut row = vec![
                        s(&v["metadata"]["name"]),
                        s(&v["image"]["dockerImageReference"]),
                        ago(&s(&v["metadata"]["creationTimestamp"]), now),
                    ];
                    if wide {
                        row.push(s(&v["image"]["metadata"]["name"]));
                    }
                    row
                })
                .collect();
            let header: &[&str] =
                if wide { &["NAME", "IMAGE REFERENCE", "UPDATED", "IMAGE NAME"] } else { &["NAME", "IMAGE REFERENCE", "UPDATED"] };
            render_table(header, &rows)
        }
        "imagestreamimages" => {
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|v| {
                    let mut row = vec![s(&v["metadata"]["name"]), ago(&s(&v["metadata"]["creationTimestamp"]), now)];
                    if wide {
                        row.push(s(&v["image"]["dockerImageReference"]));
                        row.push(s(&v["image"]["metadata"]["name"]));
                    }
                    row
                })
                .collect();
            let header: &[&str] = if wide { &["NAME", "UPDATED", "IMAGE REFERENCE", "IMAGE NAME"] } else { &["NAME", "UPDATED"] };
            render_table(header, &rows)
        }
        _ => {
            let rows: Vec<Vec<String>> = items.iter().map(|v| vec![s(&v["metadata"]["name"]), s(&v["dockerImageReference"])]).collect();
            render_table(&["NAME", "IMAGE REFERENCE"], &rows)
        }
    })
}

pub async fn describe(ctx: &Context, kind: &str, name: &str, out: &mut dyn Write) -> CmdResult {
    let (resource, _) = resource_of(kind)?;
    if resource != "imagestreams" {
        return Err(local(format!("describe supports image streams (is), not \"{kind}\"")));
    }
    let stream: ImageStream = ctx.client.get(&format!("{}/{name}", ns_path(&ctx.namespace, "imagestreams"))).await?;
    write_out(out, &describe_stream(&stream, chrono::Utc::now()))
}

pub async fn delete(ctx: &Context, kind: &str, name: &str, out: &mut dyn Write) -> CmdResult {
    if super::webhooks::is_webhook_kind(kind) {
        return super::webhooks::delete(ctx, name, out).await;
    }
    let (resource, qualified) = resource_of(kind)?;
    if resource != "imagestreams" && resource != "imagestreamtags" {
        return Err(local(format!("delete supports is, istag and webhook, not \"{kind}\"")));
    }
    ctx.client.delete(&format!("{}/{name}", ns_path(&ctx.namespace, resource))).await?;
    write_out(out, &format!("{qualified} \"{name}\" deleted\n"))
}

/// `import-image NAME[:TAG]` (spec §4.1): checks with oc's messages, then one ImageStreamImport.
pub async fn import_image(ctx: &Context, a: &super::ImportImageArgs, out: &mut dyn Write) -> CmdResult {
    use app::domain::reference::DockerImageReference;
    let r = DockerImageReference::parse(&a.name).map_err(|_| {
        local("the image name must be a valid container image pull spec or reference to an image stream (e.g. myregistry/myteam/image:tag)")
    })?;
    if !r.id.is_empty() {
        return Err(local("to import images by ID, use the 'tag' command"));
    }
    if !r.tag.is_empty() && a.all {
        return Err(local(format!("cannot specify a tag {:?} as well as --all", a.name)));
    }
    let reference_policy = match a.reference_policy.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("source") => REFERENCE_POLICY_SOURCE,
        Some("local") => REFERENCE_POLICY_LOCAL,
        Some(_) => return Err(local("valid reference policy values are source or local")),
    };
    let import_mode = match a.import_mode.as_deref() {
        None | Some(IMPORT_MODE_LEGACY) => IMPORT_MODE_LEGACY,
        Some(IMPORT_MODE_PRESERVE_ORIGINAL) => IMPORT_MODE_PRESERVE_ORIGINAL,
        Some(_) => return Err(local("valid ImportMode values are Legacy or PreserveOriginal")),
    };
    let stream_name = r.name.clone();
    let stream_path = format!("{}/{stream_name}", ns_path(&ctx.namespace, "imagestreams"));
    let stream: Option<ImageStream> = match ctx.client.get::<ImageStream>(&stream_path).await {
        Ok(s) => Some(s),
        Err(CliError::Server(e)) if e.code() == 404 => {
            if !a.confirm {
                return Err(local(format!("no image stream named {stream_name:?} exists, pass --confirm to create and import")));
            }
            None
        }
        Err(e) => return Err(e),
    };
    let stream_insecure =
        stream.as_ref().is_some_and(|s| s.metadata.annotations.get(ANNOTATION_INSECURE_REPOSITORY).map(String::as_str) == Some("true"));
    let policy = |insecure: bool, scheduled: bool| TagImportPolicy {
        // The stream annotation counts unless --insecure was given; either way the tag's own flag adds.
        insecure: a.insecure || insecure || stream_insecure,
        scheduled: a.scheduled || scheduled,
        import_mode: import_mode.into(),
    };
    let ref_policy = TagReferencePolicy { kind: reference_policy.into() };
    let mut isi = ImageStreamImport::new(&ctx.namespace, &stream_name, !a.dry_run);
    if let Some(s) = &stream {
        isi.metadata.resource_version = s.metadata.resource_version.clone();
        isi.metadata.uid = s.metadata.uid.clone();
    }
    let docker = |name: &str| ObjectReference { kind: KIND_DOCKER_IMAGE.into(), name: name.into(), namespace: String::new() };
    if a.all {
        match (&a.from, &stream) {
            (Some(from), Some(s)) if s.spec.docker_image_repository != *from && !a.confirm => {
                return Err(local(if s.spec.docker_image_repository.is_empty() {
                    "the image stream does not currently import an entire Docker repository, pass --confirm to update".to_string()
                } else {
                    format!("the image stream has a different import spec {:?}, pass --confirm to update", s.spec.docker_image_repository)
                }));
            }
            (Some(from), _) => {
                isi.spec.repository = Some(RepositoryImportSpec {
                    from: docker(from),
                    import_policy: policy(false, false),
                    reference_policy: ref_policy.clone(),
                    include_manifest: false,
                });
            }
            (None, None) => {
                isi.spec.repository = Some(RepositoryImportSpec {
                    from: docker(&a.name),
                    import_policy: policy(false, false),
                    reference_policy: ref_policy.clone(),
                    include_manifest: false,
                })
            }
            (None, Some(s)) => {
                for t in s.spec.tags.iter().filter(|t| app::domain::streams::is_importable(t)) {
                    let from = t.from.as_ref().map(|f| f.name.clone()).unwrap_or_default();
                    isi.spec.images.push(ImageImportSpec {
                        from: docker(&from),
                        to: Some(LocalObjectReference { name: t.name.clone() }),
                        import_policy: policy(t.import_policy.insecure, t.import_policy.scheduled),
                        reference_policy: ref_policy.clone(),
                        include_manifest: false,
                    });
                }
                if isi.spec.images.is_empty() {
                    return Err(local("image stream does not have tags pointing to external container images"));
                }
            }
        }
    } else {
        let mut tag = if r.tag.is_empty() { DEFAULT_TAG.to_string() } else { r.tag.clone() };
        let mut from = a.from.clone().unwrap_or_else(|| a.name.clone());
        let mut inherited = (false, false);
        if let Some(s) = &stream {
            // Follow same-stream aliases to the tag that is really imported.
            let mut seen = vec![tag.clone()];
            while let Some(t) = s.spec_tag(&tag) {
                let Some(f) = &t.from else { break };
                if f.kind != KIND_IMAGE_STREAM_TAG {
                    break;
                }
                let (src_stream, src_tag) =
                    f.name.split_once(':').map(|(a, b)| (a.to_string(), b.to_string())).unwrap_or((stream_name.clone(), f.name.clone()));
                if src_stream != stream_name || (!f.namespace.is_empty() && f.namespace != ctx.namespace) {
                    return Err(local(format!("tag {tag:?} points to an imagestreamtag from another ImageStream")));
                }
                if seen.contains(&src_tag) {
                    return Err(local(format!("tag {tag:?} on the image stream is a reference to same tag")));
                }
                seen.push(src_tag.clone());
                tag = src_tag;
            }
            match s.spec_tag(&tag) {
                None if a.from.is_none() => {
                    return Err(local(format!(
                        "the tag {tag:?} does not exist on the image stream - choose an existing tag to import or use the 'tag' command to create a new tag"
                    )));
                }
                None => {}
                Some(t) => match &t.from {
                    None => {
                        return Err(local(format!(
                            "tag {tag:?} already exists - you must use the 'tag' command if you want to change the source to {from:?}"
                        )));
                    }
                    Some(f) if f.kind != KIND_DOCKER_IMAGE => {
                        return Err(local(format!("tag {tag:?} points to existing {} {:?}, it cannot be re-imported", f.kind, f.name)));
                    }
                    Some(f) => {
                        if a.from.as_ref().is_some_and(|given| *given != f.name) {
                            return Err(local(format!(
                                "the tag {tag:?} points to {:?} - use the 'tag' command if you want to change the source to {from:?}",
                                f.name
                            )));
                        }
                        from = f.name.clone();
                        inherited = (t.import_policy.insecure, t.import_policy.scheduled);
                    }
                },
            }
        }
        isi.spec.images.push(ImageImportSpec {
            from: docker(&from),
            to: Some(LocalObjectReference { name: tag }),
            import_policy: policy(inherited.0, inherited.1),
            reference_policy: ref_policy,
            include_manifest: false,
        });
    }
    let done: ImageStreamImport = ctx.client.post(&ns_path(&ctx.namespace, "imagestreamimports"), &isi).await?;
    let mut failures: Vec<String> = vec![];
    for i in done.status.images.iter().chain(done.status.repository.iter().flat_map(|r| r.images.iter())) {
        if !i.status.is_success() {
            failures.push(format!("error: tag {} failed: {}", i.tag, i.status.message));
        }
    }
    if let Some(rs) = &done.status.repository
        && !rs.status.is_success()
        && rs.images.is_empty()
    {
        failures.push(format!("error: {}", rs.status.message));
    }
    let verb = if failures.is_empty() { "imported" } else { "imported with errors" };
    let dry = if a.dry_run { " (dry run)" } else { "" };
    write_out(out, &format!("imagestream.image.openshift.io/{stream_name} {verb}{dry}\n\n"))?;
    match &done.status.import {
        Some(s) => write_out(out, &describe_stream(s, chrono::Utc::now()))?,
        None => {
            for i in done.status.images.iter().chain(done.status.repository.iter().flat_map(|r| r.images.iter())) {
                if let Some(img) = &i.image {
                    write_out(out, &format!("{}\t{}\n", i.tag, img.docker_image_reference))?;
                }
            }
        }
    }
    for f in &failures {
        write_out(out, &format!("\n{f}"))?;
    }
    if !failures.is_empty() {
        write_out(out, "\n")?;
    }
    if let Some(rs) = &done.status.repository
        && !rs.additional_tags.is_empty()
    {
        write_out(
            out,
            &format!(
                "\ninfo: The remote repository contained {} additional tags which were not imported: {}\n",
                rs.additional_tags.len(),
                rs.additional_tags.join(", ")
            ),
        )?;
    }
    if failures.is_empty() { Ok(()) } else { Err(local("imported completed with errors")) }
}

/// `get is -w`: after the list, one table row per change, as oc prints them (widths of the
/// first table are not kept: each row is padded on its own).
async fn watch(ctx: &Context, args: &GetArgs, listed: &Value, out: &mut dyn Write) -> CmdResult {
    let rv = listed["metadata"]["resourceVersion"].as_str().unwrap_or("0").to_string();
    let mut path = format!("{}?watch=1&resourceVersion={rv}", ns_path(&ctx.namespace, "imagestreams"));
    if let Some(name) = &args.name {
        path.push_str(&format!("&fieldSelector=metadata.name%3D{}", urlencode(name)));
    }
    let now = chrono::Utc::now;
    ctx.client
        .watch_lines(&path, |line| {
            let event: Value = serde_json::from_str(line).map_err(|e| local(format!("unreadable watch event: {e}")))?;
            match event["type"].as_str() {
                Some("BOOKMARK") => return Ok(()),
                Some("ERROR") => return Err(local(event["object"]["message"].as_str().unwrap_or("the watch failed").to_string())),
                _ => {}
            }
            let stream: ImageStream = serde_json::from_value(event["object"].clone()).map_err(|e| local(e.to_string()))?;
            let row = image_stream_row(&stream, now());
            let text = render_table(&["NAME", "IMAGE REPOSITORY", "TAGS", "UPDATED"], &[row]);
            let line = text.split_once('\n').map(|(_, r)| r).unwrap_or("");
            write_out(out, line)?;
            out.flush().map_err(|e| local(e.to_string()))
        })
        .await
}
