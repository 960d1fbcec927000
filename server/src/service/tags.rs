//! ImageStreamTags: the virtual `<stream>:<tag>` view (spec §1.4) and its writes (§3.2, §10).
//! Must not: hold SQL or restate a rule of `app::domain`.

use super::streams::{check_namespace_matches, check_resource_version};
use super::{Caller, Service, Verb, db, page_size};
use crate::store;
use app::domain::deletion::Preconditions;
use app::domain::lookup::pull_spec_for_event;
use app::domain::names::parse_istag_name;
use app::domain::streams::validate_image_stream_tag;
use app::model::*;
use sqlx::SqliteConnection;

/// Upstream's create names the resource in the singular (`imagestreamtag.image.openshift.io
/// "<s>:<t>" already exists`).
const RES_IMAGESTREAMTAG_SINGULAR: Resource = Resource { plural: "imagestreamtag", group: IMAGE_GROUP, kind: "ImageStreamTag" };

impl Service {
    /// Builds the istag view. With `require_image`, a tag without a head image is NotFound (GET);
    /// writes answer with the view even before the tag has an image.
    async fn istag_view(
        &self,
        conn: &mut SqliteConnection,
        stream: &ImageStream,
        tag: &str,
        require_image: bool,
    ) -> Result<ImageStreamTag, ApiError> {
        let name = format!("{}:{}", stream.metadata.name, tag);
        let head = stream.head(tag).filter(|h| !h.image.is_empty());
        if require_image && head.is_none() {
            return Err(ApiError::not_found(RES_IMAGESTREAMTAGS, &name));
        }
        let spec = stream.spec_tag(tag).cloned();
        let mut image = match head {
            Some(h) => {
                let mut img =
                    store::get_image(conn, &h.image).await.map_err(db)?.ok_or_else(|| ApiError::not_found(RES_IMAGES, &h.image))?;
                img.strip_raw();
                let local = spec.as_ref().is_some_and(|t| t.reference_policy.kind == REFERENCE_POLICY_LOCAL);
                img.docker_image_reference = pull_spec_for_event(stream, h, local);
                img
            }
            None => Image::default(),
        };
        let tag_annotations = spec.as_ref().and_then(|t| t.annotations.clone()).unwrap_or_default();
        image.metadata.annotations.extend(tag_annotations.clone());
        Ok(ImageStreamTag {
            api_version: IMAGE_API_VERSION.into(),
            kind: "ImageStreamTag".into(),
            metadata: ObjectMeta {
                name,
                namespace: Some(stream.namespace().to_string()),
                uid: stream.metadata.uid.clone(),
                resource_version: stream.metadata.resource_version.clone(),
                creation_timestamp: head.map(|h| h.created.clone()),
                labels: stream.metadata.labels.clone(),
                annotations: tag_annotations,
                ..Default::default()
            },
            tag: spec,
            generation: head.map(|h| h.generation).unwrap_or(0),
            lookup_policy: stream.spec.lookup_policy.clone(),
            conditions: stream.status_tag(tag).map(|l| l.conditions.clone()).unwrap_or_default(),
            image,
        })
    }

    pub async fn get_istag(&self, caller: &Caller, ns: &str, name: &str) -> Result<ImageStreamTag, ApiError> {
        self.allow(caller, Verb::Get, "imagestreamtags", Some(ns))?;
        let (stream_name, tag) = parse_istag_name(name)?;
        let mut conn = self.store.read().await.map_err(db)?;
        let stored = self.load_stream_or_404(&mut conn, ns, &stream_name).await?;
        self.istag_view(&mut conn, &stored.stream, &tag, true).await
    }

    /// Every status tag with a head image, by stream then tag (PRODUCT difference 5), that the
    /// selectors select. The continue token is the last `<stream>:<tag>`; streams are read in
    /// pages from there.
    pub async fn list_istags(
        &self,
        caller: &Caller,
        ns: &str,
        limit: Option<i64>,
        cont: Option<&str>,
        labels: &app::domain::selectors::LabelSelector,
        fields: &app::domain::selectors::FieldSelector,
    ) -> Result<List<ImageStreamTag>, ApiError> {
        self.allow(caller, Verb::List, "imagestreamtags", Some(ns))?;
        let limit = page_size(limit)? as usize;
        let (after_stream, after_tag) = match cont {
            None | Some("") => (String::new(), String::new()),
            Some(c) => parse_istag_name(c)
                .map_err(|_| ApiError::bad_request(format!("continue: Invalid value: {c:?}: not a continue token of this list")))?,
        };
        let mut conn = self.store.read().await.map_err(db)?;
        self.require_namespace(&mut conn, ns).await?;
        let mut items: Vec<ImageStreamTag> = vec![];
        // The token's own stream may hold more tags after the token; then whole pages follow.
        let mut pending: Vec<crate::store::StoredStream> = match after_stream.is_empty() {
            true => vec![],
            false => store::load_stream(&mut conn, ns, &after_stream).await.map_err(db)?.into_iter().collect(),
        };
        let mut cursor = after_stream.clone();
        loop {
            for stored in std::mem::take(&mut pending) {
                let stream = self.with_public_repository(stored.stream);
                for list in &stream.status.tags {
                    let past_token = stream.metadata.name != after_stream || list.tag > after_tag;
                    let has_image = list.items().first().is_some_and(|h| !h.image.is_empty());
                    if past_token && has_image && items.len() <= limit {
                        let view = self.istag_view(&mut conn, &stream, &list.tag, true).await?;
                        if labels.matches(&view.metadata.labels) && fields.matches(&view.metadata.name, ns) {
                            items.push(view);
                        }
                    }
                }
                cursor = stream.metadata.name.clone();
            }
            if items.len() > limit {
                break;
            }
            pending = store::list_streams(&mut conn, Some(ns), ("", &cursor), 50, None).await.map_err(db)?;
            if pending.is_empty() {
                break;
            }
        }
        drop(conn);
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|i| i.metadata.name.clone())
        } else {
            None
        };
        Ok(List { api_version: IMAGE_API_VERSION.into(), kind: "ImageStreamTagList".into(), metadata: self.list_meta(next).await?, items })
    }

    /// PUT (`create_if_missing`) and POST: the spec tag is replaced wholesale by the sent one;
    /// the stream is created when missing; then the normal stream write path runs.
    pub async fn set_istag(
        &self,
        caller: &Caller,
        ns: &str,
        name: &str,
        mut istag: ImageStreamTag,
        create_only: bool,
    ) -> Result<ImageStreamTag, ApiError> {
        self.allow(caller, if create_only { Verb::Create } else { Verb::Update }, "imagestreamtags", Some(ns))?;
        check_namespace_matches(&mut istag.metadata, ns)?;
        if name.is_empty() {
            let err = FieldError::required("metadata.name", "the name <stream>:<tag> is required");
            return Err(ApiError::invalid(RES_IMAGESTREAMTAGS, name, &[err]));
        }
        if !istag.metadata.name.is_empty() && istag.metadata.name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                istag.metadata.name
            )));
        }
        let (stream_name, tag) = parse_istag_name(name)?;
        // Refused rather than dropped: what the client sent must be what is stored.
        let errs = validate_image_stream_tag(&istag);
        if !errs.is_empty() {
            return Err(ApiError::invalid(RES_IMAGESTREAMTAGS, name, &errs));
        }
        let mut tx = self.store.begin().await.map_err(db)?;
        self.require_namespace(&mut tx, ns).await?;
        let old = match store::load_stream(&mut tx, ns, &stream_name).await.map_err(db)? {
            Some(mut s) => {
                s.stream = self.with_public_repository(s.stream);
                Some(s)
            }
            None => None,
        };
        if let Some(o) = &old {
            check_resource_version(&istag.metadata, &o.stream.metadata, RES_IMAGESTREAMTAGS, name)?;
            if create_only && (o.stream.spec_tag(&tag).is_some() || o.stream.status_tag(&tag).is_some()) {
                return Err(ApiError::already_exists(RES_IMAGESTREAMTAG_SINGULAR, name));
            }
        }
        let mut stream = match &old {
            Some(o) => o.stream.clone(),
            None => ImageStream::new(ns, &stream_name),
        };
        match istag.tag.take() {
            Some(mut t) => {
                t.name = tag.clone();
                t.annotations = if istag.metadata.annotations.is_empty() { None } else { Some(istag.metadata.annotations.clone()) };
                stream.set_spec_tag(t);
            }
            None if create_only => {
                return Err(ApiError::invalid(RES_IMAGESTREAMTAGS, name, &[FieldError::required("tag", "tag is required")]));
            }
            None => {
                // Without a tag only the annotations of a spec tag change; a tag that exists
                // only in status (pushed) has none to change (upstream's 400).
                let Some(t) = stream.spec_tag_mut(&tag) else {
                    return Err(ApiError::bad_request(format!(
                        "imagestreamtag {tag} is not a spec tag in imagestream {ns}/{stream_name}, cannot be updated"
                    )));
                };
                t.annotations = if istag.metadata.annotations.is_empty() { None } else { Some(istag.metadata.annotations.clone()) };
            }
        }
        let written = self.write_stream(&mut tx, caller, stream, old.as_ref()).await?;
        let view = self.istag_view(&mut tx, &self.with_public_repository(written.clone()), &tag, false).await?;
        tx.commit().await.map_err(db)?;
        self.announce();
        self.notify_imports(&written);
        Ok(view)
    }

    /// DELETE removes both the spec tag and the history (spec §10).
    pub async fn delete_istag(&self, caller: &Caller, ns: &str, name: &str) -> Result<Status, ApiError> {
        self.delete_istag_if(caller, ns, name, &Preconditions::default()).await
    }

    /// Deletes several tags of one stream at once (the stream page's bulk delete): one
    /// transaction, one new resourceVersion and one watch event, all or nothing (a tag that is
    /// not there refuses the whole request, naming it). Returns how many were deleted.
    pub async fn delete_istags(&self, caller: &Caller, ns: &str, stream: &str, tags: &[String]) -> Result<usize, ApiError> {
        self.allow(caller, Verb::Delete, "imagestreamtags", Some(ns))?;
        let mut wanted: Vec<&String> = tags.iter().collect();
        wanted.sort();
        wanted.dedup();
        if wanted.is_empty() {
            return Err(ApiError::bad_request("choose at least one tag to delete"));
        }
        let mut tx = self.store.begin().await.map_err(db)?;
        let old = self.load_stream_or_404(&mut tx, ns, stream).await?;
        let mut new = old.stream.clone();
        let mut spec_changed = false;
        for tag in &wanted {
            let had_spec = new.spec_tag(tag).is_some();
            if !had_spec && new.status_tag(tag).is_none() {
                return Err(ApiError::not_found(RES_IMAGESTREAMTAGS, &format!("{stream}:{tag}")));
            }
            spec_changed |= had_spec;
            new.spec.tags.retain(|t| &t.name != *tag);
            new.status.tags.retain(|t| &t.tag != *tag);
        }
        if spec_changed {
            new.metadata.generation = Some(new.metadata.generation.unwrap_or(0) + 1);
        }
        new.metadata.resource_version = Some(store::next_resource_version(&mut tx).await.map_err(db)?.to_string());
        self.save_stream(&mut tx, &old, &new).await?;
        tx.commit().await.map_err(db)?;
        self.announce();
        Ok(wanted.len())
    }

    /// DELETE with preconditions, checked against the stream inside the delete's transaction
    /// (the tag carries its stream's uid and resource version).
    pub async fn delete_istag_if(&self, caller: &Caller, ns: &str, name: &str, pre: &Preconditions) -> Result<Status, ApiError> {
        self.allow(caller, Verb::Delete, "imagestreamtags", Some(ns))?;
        let (stream_name, tag) = parse_istag_name(name)?;
        let mut tx = self.store.begin().await.map_err(db)?;
        let old = self.load_stream_or_404(&mut tx, ns, &stream_name).await?;
        let meta = &old.stream.metadata;
        pre.check_istag(
            RES_IMAGESTREAMTAGS,
            name,
            meta.uid.as_deref().unwrap_or_default(),
            meta.resource_version.as_deref().unwrap_or_default(),
        )?;
        let mut new = old.stream.clone();
        let had_spec = new.spec_tag(&tag).is_some();
        let had_status = new.status_tag(&tag).is_some();
        if !had_spec && !had_status {
            return Err(ApiError::not_found(RES_IMAGESTREAMTAGS, name));
        }
        new.spec.tags.retain(|t| t.name != tag);
        new.status.tags.retain(|t| t.tag != tag);
        if had_spec {
            new.metadata.generation = Some(new.metadata.generation.unwrap_or(0) + 1);
        }
        new.metadata.resource_version = Some(store::next_resource_version(&mut tx).await.map_err(db)?.to_string());
        self.save_stream(&mut tx, &old, &new).await?;
        tx.commit().await.map_err(db)?;
        self.announce();
        Ok(Status::success("imagestreamtags", IMAGE_GROUP, name))
    }
}
