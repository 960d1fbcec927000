//! The web forms' commands: the `tag` form and the import form run the same plans and messages
//! as `imagestreams tag` and `import-image`, the token form turns a lifetime in days into an
//! expiry on the service clock. A rule broken in a form comes back as a field error naming the
//! form's field.
//!
//! Must not: restate a rule of `app::domain` (the plans are the domain's) or render markup.

use super::access::{RES_MEMBERS, RES_TOKENS, RES_USERS};
use super::imports::RES_IMAGESTREAMIMPORTS;
use super::{Caller, ImportProgress, Service, Verb};
use app::api::{ImportForm, TagForm, TokenForm};
use app::domain::accounts::expiry_after_days;
use app::domain::plain::{count, import_reason_words, page_message};
use app::domain::tag_command::{
    FROM_OTHER_STREAM, FROM_REGISTRY, FROM_THIS_STREAM, TagArgs, TagPlan, ThisStreamSource, form_destination, plan_tag, tag_message,
    tag_reference_for, this_stream_source,
};
use app::model::*;
use std::sync::Arc;

/// A field error of a web form: the message is the rule itself (the form shows it under the
/// field), the cause names the form's field.
pub fn form_error(resource: Resource, field: &str, message: String) -> ApiError {
    let mut e = ApiError::invalid(
        resource,
        field,
        &[FieldError { field: field.into(), kind: FieldErrorKind::Invalid, value: None, detail: message.clone() }],
    );
    e.status.message = message;
    e
}

impl Service {
    /// The `tag` form: the same plan and messages as `imagestreams tag`.
    pub async fn tag_from_form(&self, caller: &Caller, form: TagForm) -> Result<String, ApiError> {
        // May the caller tag here at all? Asked first, so a refusal is a refusal, not a
        // problem with the source field.
        self.allow(caller, Verb::Update, "imagestreamtags", Some(&form.namespace))?;
        let (source, source_kind) = self.form_source(caller, &form).await?;
        let destination =
            if form.stream.is_empty() { form.destination.trim().to_string() } else { form_destination(&form.stream, &form.destination) };
        let args = TagArgs {
            args: vec![source, destination],
            source_kind: source_kind.map(str::to_string),
            alias: form.mode == "alias",
            reference: form.mode == "reference",
            reference_policy: (!form.reference_policy.is_empty()).then(|| form.reference_policy.clone()),
            scheduled: form.scheduled,
            insecure: form.insecure,
            import_mode: (!form.import_mode.is_empty()).then(|| form.import_mode.clone()),
            namespace: form.namespace.clone(),
            ..Default::default()
        };
        let plan = plan_tag(&args).map_err(|e| form_error(RES_IMAGESTREAMTAGS, e.field.as_str(), e.message))?;
        let TagPlan::Set { source, destinations, template, alias, scheduled } = plan else {
            return Err(form_error(RES_IMAGESTREAMTAGS, "destination", "use the delete button to remove a tag".into()));
        };
        let head = if source.kind == KIND_IMAGE_STREAM_TAG && !alias {
            let src_ns = if source.reference.namespace.is_empty() { form.namespace.clone() } else { source.reference.namespace.clone() };
            let stream = self
                .get_stream(caller, &src_ns, &source.reference.name)
                .await
                .map_err(|e| form_error(RES_IMAGESTREAMTAGS, "source", page_message(&e.status, &src_ns)))?;
            stream.head(&source.reference.tag).cloned()
        } else {
            None
        };
        let mut messages = vec![];
        for d in &destinations {
            let (tag_ref, printed) = tag_reference_for(&source, d, &template, alias, &form.namespace, head.as_ref())
                .map_err(|e| form_error(RES_IMAGESTREAMTAGS, e.field.as_str(), e.message))?;
            let istag = ImageStreamTag::setting(&d.namespace, &d.stream, tag_ref);
            let name = istag.metadata.name.clone();
            self.set_istag(caller, &d.namespace, &name, istag, false).await?;
            messages.push(tag_message(d, &form.namespace, &printed, alias, scheduled));
        }
        Ok(messages.join(" "))
    }

    /// The tag form's SOURCE and its kind, as the form said where it is (issue 17 point 2): a
    /// tag or an image of this stream (a digest prefix is looked up among its images), another
    /// stream's tag, or a registry image. Without a choice, the `tag` command's own reading.
    async fn form_source(&self, caller: &Caller, form: &TagForm) -> Result<(String, Option<&'static str>), ApiError> {
        let input = form.source.trim();
        let at_source = |message: String| form_error(RES_IMAGESTREAMTAGS, "source", message);
        match form.source_from.as_str() {
            FROM_THIS_STREAM => {
                let stream = self
                    .get_stream(caller, &form.namespace, &form.stream)
                    .await
                    .map_err(|e| at_source(page_message(&e.status, &form.namespace)))?;
                let has_tag = |t: &str| stream.spec_tag(t).is_some() || stream.status_tag(t).is_some();
                match this_stream_source(&form.stream, input, has_tag).map_err(at_source)? {
                    ThisStreamSource::Tag(t) => Ok((format!("{}:{t}", form.stream), Some("istag"))),
                    ThisStreamSource::Image(id) => {
                        let name = format!("{}@{id}", form.stream);
                        let found = self
                            .get_stream_image(caller, &form.namespace, &name)
                            .await
                            .map_err(|e| at_source(page_message(&e.status, &form.namespace)))?;
                        Ok((format!("{}@{}", form.stream, found.image.metadata.name), Some("isimage")))
                    }
                }
            }
            FROM_OTHER_STREAM if !input.contains(':') => {
                Err(at_source("Name the tag as stream:tag, or namespace/stream:tag for another namespace".into()))
            }
            FROM_OTHER_STREAM => Ok((input.to_string(), Some("istag"))),
            FROM_REGISTRY => Ok((input.to_string(), Some("docker"))),
            _ => Ok((input.to_string(), None)),
        }
    }

    /// The import form: one tag, or the whole repository.
    pub async fn import_from_form(
        &self,
        caller: &Caller,
        form: ImportForm,
        progress: Option<Arc<ImportProgress>>,
    ) -> Result<String, ApiError> {
        let mut isi = ImageStreamImport::new(&form.namespace, &form.stream, true);
        let policy = TagImportPolicy {
            insecure: form.insecure,
            scheduled: form.scheduled,
            import_mode: if form.import_mode.is_empty() { IMPORT_MODE_LEGACY.into() } else { form.import_mode.clone() },
        };
        let from = ObjectReference { kind: KIND_DOCKER_IMAGE.into(), name: form.from.trim().to_string(), namespace: String::new() };
        if form.all {
            isi.spec.repository =
                Some(RepositoryImportSpec { from, import_policy: policy, reference_policy: Default::default(), include_manifest: false });
        } else {
            let to = (!form.tag.trim().is_empty()).then(|| LocalObjectReference { name: form.tag.trim().to_string() });
            isi.spec.images.push(ImageImportSpec {
                from,
                to,
                import_policy: policy,
                reference_policy: Default::default(),
                include_manifest: false,
            });
        }
        let done = self.import_images_with_progress(caller, &form.namespace, isi, progress).await.map_err(|e| {
            // A field error of the request concerns the form field its path names: the target
            // tag (`…to.name`) is the tag field, everything else is about the source.
            if e.code() != 422 {
                return e;
            }
            let api_field = e.status.details.as_ref().and_then(|d| d.causes.first()).map(|c| c.field.as_str()).unwrap_or_default();
            let field = if api_field.ends_with("to.name") { "tag" } else { "from" };
            form_error(RES_IMAGESTREAMIMPORTS, field, e.message().to_string())
        })?;
        let all: Vec<&ImageImportStatus> =
            done.status.images.iter().chain(done.status.repository.iter().flat_map(|r| r.images.iter())).collect();
        let ok = all.iter().filter(|i| i.status.is_success()).count();
        let mut failures = String::new();
        for f in all.iter().filter(|i| !i.status.is_success()) {
            let tag = if f.tag.is_empty() { "?" } else { &f.tag };
            let words = import_reason_words(&f.status.reason, &f.status.message);
            failures.push_str(&format!(" Tag {tag}: {words} ({}).", f.status.message));
        }
        let mut more = String::new();
        if let Some(r) = &done.status.repository {
            if !r.status.is_success() && r.images.is_empty() {
                failures.push_str(&format!(" {}", r.status.message));
            }
            if !r.additional_tags.is_empty() {
                let n = r.additional_tags.len();
                more = format!(" {} {} not imported (limit).", count(n as u64, "more tag"), if n == 1 { "was" } else { "were" });
            }
        }
        // Nothing imported is a failure, not a summary (issue 17 point 1): the form shows it in
        // error style, with each tag's reason in words.
        if ok == 0 {
            // Its own reason: the registry's (Unauthorized, say) is not the caller's problem
            // with this server, and must not read as "sign in".
            let what = if form.all { "Nothing was imported from the repository." } else { "The image was not imported." };
            let status = Status {
                kind: "Status".into(),
                api_version: "v1".into(),
                metadata: Default::default(),
                status: "Failure".into(),
                message: format!("{what}{failures}{more}"),
                reason: "ImportFailed".into(),
                details: None,
                code: 502,
            };
            return Err(ApiError::from_status(status));
        }
        Ok(format!("Imported {ok} of {}.{failures}{more}", count(all.len() as u64, "tag")))
    }

    /// The new-token form: namespaces separated by commas or spaces, the lifetime in whole days
    /// (empty: never expires).
    pub async fn create_token_from_form(&self, caller: &Caller, form: TokenForm) -> Result<ApiToken, ApiError> {
        let namespaces: Vec<String> =
            form.namespaces.split([',', ' ']).map(str::trim).filter(|n| !n.is_empty()).map(str::to_string).collect();
        let expires = expiry_after_days(&form.expires_in_days, self.clock_now()).map_err(|m| form_error(RES_TOKENS, "expires", m))?;
        let spec = ApiToken {
            name: form.name,
            namespaces: (!namespaces.is_empty()).then_some(namespaces),
            max_role: (!form.max_role.is_empty()).then_some(form.max_role),
            expires,
            ..Default::default()
        };
        self.create_token(caller, &spec).await
    }

    /// The password form: a broken rule concerns the field the API names.
    pub async fn change_password_from_form(&self, caller: &Caller, change: &PasswordChange) -> Result<(), ApiError> {
        self.change_password(caller, change).await.map_err(|e| match e.status.details.as_ref().and_then(|d| d.causes.first()) {
            Some(cause) => form_error(RES_USERS, &cause.field, e.message().to_string()),
            None => e,
        })
    }

    /// The add-member form: an unknown user concerns the user field; an unreadable namespace
    /// stays a 404.
    pub async fn set_member_from_form(&self, caller: &Caller, namespace: &str, user: &str, role: &str) -> Result<(), ApiError> {
        self.set_member(caller, namespace, user.trim(), role).await.map(|_| ()).map_err(|e| {
            let unknown_user = e.status.details.as_ref().is_some_and(|d| d.kind == "users");
            if e.code() == 404 && unknown_user { form_error(RES_MEMBERS, "user", e.message().to_string()) } else { e }
        })
    }
}
