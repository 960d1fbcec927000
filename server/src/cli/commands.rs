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

fn local(msg: impl Into<String>) -> CliError {
    CliError::Local(msg.into())
}

fn write_out(out: &mut dyn Write, text: &str) -> CmdResult {
    out.write_all(text.as_bytes()).map_err(|e| local(format!("writing output: {e}")))
}

fn ns_path(ns: &str, resource: &str) -> String {
    format!("/apis/image.openshift.io/v1/namespaces/{ns}/{resource}")
}

pub async fn create_namespace(ctx: &Context, name: &str, out: &mut dyn Write) -> CmdResult {
    let ns: Namespace = ctx.client.post("/api/v1/namespaces", &Namespace::new(name)).await?;
    write_out(out, &format!("namespace/{} created\n", ns.metadata.name))
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
                let name = format!("{}:{}", d.stream, d.tag);
                let body = ImageStreamTag {
                    api_version: IMAGE_API_VERSION.into(),
                    kind: "ImageStreamTag".into(),
                    metadata: ObjectMeta::named(Some(&d.namespace), &name),
                    tag: Some(tag_ref),
                    generation: 0,
                    lookup_policy: Default::default(),
                    conditions: vec![],
                    image: Image::default(),
                };
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
    let (resource, qualified) = resource_of(&args.kind)?;
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
            write_out(out, &serde_yaml::to_string(&value).map_err(|e| local(e.to_string()))?)
        }
        Some("name") => {
            for i in &items {
                write_out(out, &format!("{qualified}/{}\n", i["metadata"]["name"].as_str().unwrap_or_default()))?;
            }
            Ok(())
        }
        None | Some("wide") => {
            let wide = args.output.as_deref() == Some("wide");
            if items.is_empty() {
                eprintln!("No resources found in {} namespace.", ctx.namespace);
                return Ok(());
            }
            write_out(out, &table(resource, &items, wide)?)
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
    let (resource, qualified) = resource_of(kind)?;
    if resource != "imagestreams" && resource != "imagestreamtags" {
        return Err(local(format!("delete supports is and istag, not \"{kind}\"")));
    }
    ctx.client.delete(&format!("{}/{name}", ns_path(&ctx.namespace, resource))).await?;
    write_out(out, &format!("{qualified} \"{name}\" deleted\n"))
}
