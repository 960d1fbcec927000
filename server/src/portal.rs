//! The whole HTTP surface of `serve`: the API router plus the Leptos UI (SSR + hydration), and
//! the `PortalBackend` the UI's server functions call, implemented by the service (the same
//! methods the REST API calls, so every rule has one implementation).

use crate::http;
use crate::service::{Caller, Credentials, ImportProgress, Service};
use crate::store::{self, CatalogSort};
use app::api::backend::{Answer, PortalBackend};
use app::api::*;
use app::domain::present::{image_repository_column, last_updated, tags_by_recency, tags_column};
use app::domain::tag_command::{TagArgs, TagPlan, error_field, plan_tag, tag_message, tag_reference_for};
use app::model::*;
use app::{App, shell};
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

/// A web import running in the background, for the progress the form shows.
#[derive(Default)]
struct WebImport {
    /// Who started it: only they see its progress and result.
    owner: Option<String>,
    progress: Arc<ImportProgress>,
    finished: std::sync::Mutex<Option<Result<String, ApiFailure>>>,
    finished_at: std::sync::Mutex<Option<std::time::Instant>>,
}

const RES_IMAGESTREAMIMPORTS_JOB: app::model::Resource = app::model::Resource { plural: "imports", group: "portal", kind: "Import" };

/// The running and recently finished web imports of this process (progress is not stored:
/// the import's result is, in the stream).
fn web_imports() -> &'static std::sync::Mutex<std::collections::HashMap<String, Arc<WebImport>>> {
    static JOBS: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<String, Arc<WebImport>>>> = std::sync::OnceLock::new();
    JOBS.get_or_init(Default::default)
}

fn jobs_recent(j: &WebImport) -> bool {
    j.finished_at.lock().ok().and_then(|a| *a).is_some_and(|at| at.elapsed() < std::time::Duration::from_secs(600))
}

/// Catalog page size.
const CATALOG_PAGE: u32 = 50;

fn db(e: sqlx::Error) -> ApiError {
    tracing::error!(error = %e, "database error");
    ApiError::internal("the database failed to answer")
}

fn catalog_row(s: &ImageStream) -> CatalogStream {
    let images: BTreeSet<&str> =
        s.status.tags.iter().flat_map(|l| l.items().iter().map(|i| i.image.as_str())).filter(|i| !i.is_empty()).collect();
    let mut tags: BTreeSet<&str> = s.spec.tags.iter().map(|t| t.name.as_str()).collect();
    tags.extend(s.status.tags.iter().map(|l| l.tag.as_str()));
    CatalogStream {
        namespace: s.namespace().to_string(),
        name: s.metadata.name.clone(),
        image_repository: image_repository_column(s),
        tags: tags_column(&tags_by_recency(s)),
        updated: last_updated(s),
        tag_count: tags.len(),
        image_count: images.len(),
    }
}

/// A field error for the web forms (the field names are the form's).
/// The message is the rule itself (the form shows it under the field), the cause names the field.
fn form_error(field: &str, message: String) -> ApiError {
    let mut e = ApiError::invalid(
        RES_IMAGESTREAMTAGS,
        field,
        &[FieldError { field: field.into(), kind: FieldErrorKind::Invalid, value: None, detail: message.clone() }],
    );
    e.status.message = message;
    e
}

impl Service {
    async fn portal_catalog(&self, caller: &Caller, query: String, sort: String, page: u32) -> Result<CatalogPage, ApiError> {
        self.allow(caller, crate::service::Verb::List, "imagestreams", None)?;
        let scope = store::scope_json(caller.visible_namespaces().as_deref());
        let sort = if sort == "updated" { CatalogSort::Updated } else { CatalogSort::Name };
        let page = page.max(1);
        let mut conn = self.store().read().await.map_err(db)?;
        // Read before the page: changes after it reach the page live.
        let resource_version = store::current_resource_version(&mut conn).await.map_err(db)?.to_string();
        let (rows, total) =
            store::catalog_page(&mut conn, query.trim(), sort, ((page - 1) * CATALOG_PAGE) as i64, CATALOG_PAGE as i64, scope.as_deref())
                .await
                .map_err(db)?;
        let streams = rows
            .into_iter()
            .map(|e| {
                let mut row = catalog_row(&self.decorate(e.stream));
                row.tag_count = e.tag_count as usize;
                row.image_count = e.image_count as usize;
                row
            })
            .collect();
        Ok(CatalogPage { streams, total: total as u64, page, page_size: CATALOG_PAGE, resource_version })
    }

    /// The image page: for anyone who may read a namespace that uses the image (or was the
    /// image; server administrators see every image).
    async fn portal_image(&self, caller: &Caller, digest: String) -> Result<ImagePage, ApiError> {
        let scope = store::scope_json(caller.visible_namespaces().as_deref());
        let uses = {
            let mut conn = self.store().read().await.map_err(db)?;
            store::image_uses(&mut conn, &digest, scope.as_deref()).await.map_err(db)?
        };
        if uses.is_empty() && !caller.server_admin() {
            return Err(ApiError::not_found(RES_IMAGES, &digest));
        }
        let image = self.get_image(&Caller::system(), &digest).await?;
        let uses: Vec<ImageUse> = uses
            .into_iter()
            .map(|(namespace, stream, tag, created, current)| ImageUse { namespace, stream, tag, created, current })
            .collect();
        // The YAML of `get isimage <stream>@<digest> -o yaml --export` where the image is used.
        let yaml = match uses.first() {
            Some(u) => match self.get_stream_image(caller, &u.namespace, &format!("{}@{}", u.stream, digest)).await {
                Ok(mut isimage) => {
                    isimage.metadata.export();
                    serde_yaml::to_string(&isimage).unwrap_or_default()
                }
                Err(_) => serde_yaml::to_string(&image).unwrap_or_default(),
            },
            None => serde_yaml::to_string(&image).unwrap_or_default(),
        };
        Ok(ImagePage { image, uses, yaml })
    }

    async fn portal_dashboard(&self, caller: &Caller) -> Result<Dashboard, ApiError> {
        let scope = store::scope_json(caller.visible_namespaces().as_deref());
        let now = self.clock_now();
        let today = now.format("%Y-%m-%dT00:00:00Z").to_string();
        let mut conn = self.store().read().await.map_err(db)?;
        let movements = store::recent_movements(&mut conn, 20, scope.as_deref())
            .await
            .map_err(db)?
            .into_iter()
            .map(|(namespace, stream, tag, created, reference, image, generation)| TagMovement {
                namespace,
                stream,
                tag,
                event: TagEvent { created, docker_image_reference: reference, image, generation },
            })
            .collect();
        let failing = store::failing_tags(&mut conn, 50, scope.as_deref())
            .await
            .map_err(db)?
            .into_iter()
            .filter_map(|(namespace, stream, tag, conditions)| {
                let conditions: Vec<TagEventCondition> = serde_json::from_str(&conditions).ok()?;
                let condition = conditions.into_iter().find(|c| c.kind == CONDITION_IMPORT_SUCCESS && c.status == "False")?;
                Some(FailingImport { namespace, stream, tag, condition })
            })
            .collect();
        let updated_today = store::updated_since(&mut conn, &today, 50, scope.as_deref())
            .await
            .map_err(db)?
            .into_iter()
            .map(|r| catalog_row(&self.decorate(r.stream)))
            .collect();
        Ok(Dashboard { movements, failing, updated_today, generated: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true) })
    }

    /// The `tag` form: the same plan and messages as `imagestreams tag`.
    async fn portal_tag(&self, caller: &Caller, form: TagForm) -> Result<String, ApiError> {
        // May the caller tag here at all? Asked first, so a refusal is a refusal, not a
        // problem with the source field.
        self.allow(caller, crate::service::Verb::Update, "imagestreamtags", Some(&form.namespace))?;
        let args = TagArgs {
            args: vec![form.source.trim().to_string(), form.destination.trim().to_string()],
            alias: form.mode == "alias",
            reference: form.mode == "reference",
            reference_policy: (!form.reference_policy.is_empty()).then(|| form.reference_policy.clone()),
            scheduled: form.scheduled,
            insecure: form.insecure,
            import_mode: (!form.import_mode.is_empty()).then(|| form.import_mode.clone()),
            namespace: form.namespace.clone(),
            ..Default::default()
        };
        let plan = plan_tag(&args).map_err(|m| form_error(error_field(&m), m))?;
        let TagPlan::Set { source, destinations, template, alias, scheduled } = plan else {
            return Err(form_error("destination", "use the delete button to remove a tag".into()));
        };
        let head = if source.kind == KIND_IMAGE_STREAM_TAG && !alias {
            let src_ns = if source.reference.namespace.is_empty() { form.namespace.clone() } else { source.reference.namespace.clone() };
            let stream = self
                .get_stream(caller, &src_ns, &source.reference.name)
                .await
                .map_err(|e| form_error("source", e.message().to_string()))?;
            stream.head(&source.reference.tag).cloned()
        } else {
            None
        };
        let mut messages = vec![];
        for d in &destinations {
            let (tag_ref, printed) =
                tag_reference_for(&source, d, &template, alias, &form.namespace, head.as_ref()).map_err(|m| form_error("source", m))?;
            let istag = ImageStreamTag::setting(&d.namespace, &d.stream, tag_ref);
            let name = istag.metadata.name.clone();
            self.set_istag(caller, &d.namespace, &name, istag, false).await?;
            messages.push(tag_message(d, &form.namespace, &printed, alias, scheduled));
        }
        Ok(messages.join(" "))
    }

    /// The import form: one tag, or the whole repository.
    async fn portal_import(&self, caller: &Caller, form: ImportForm, progress: Option<Arc<ImportProgress>>) -> Result<String, ApiError> {
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
            // Field errors of the request concern the source field of the form.
            if e.code() == 422 { form_error("from", e.message().to_string()) } else { e }
        })?;
        let all: Vec<&ImageImportStatus> =
            done.status.images.iter().chain(done.status.repository.iter().flat_map(|r| r.images.iter())).collect();
        let ok = all.iter().filter(|i| i.status.is_success()).count();
        let mut summary = format!("Imported {ok} of {} tags.", all.len());
        for f in all.iter().filter(|i| !i.status.is_success()) {
            summary.push_str(&format!(" Tag {} failed: {}.", if f.tag.is_empty() { "?" } else { &f.tag }, f.status.message));
        }
        if let Some(r) = &done.status.repository {
            if !r.status.is_success() && r.images.is_empty() {
                summary.push_str(&format!(" {}", r.status.message));
            }
            if !r.additional_tags.is_empty() {
                summary.push_str(&format!(" {} more tags were not imported (limit).", r.additional_tags.len()));
            }
        }
        Ok(summary)
    }
}

impl PortalBackend for Service {
    fn catalog(&self, query: String, sort: String, page: u32) -> Answer<'_, CatalogPage> {
        let c = web_credentials();
        Box::pin(async move { self.portal_catalog(&self.resolve_caller(c).await?, query, sort, page).await })
    }
    fn stream(&self, namespace: String, name: String) -> Answer<'_, ImageStream> {
        let c = web_credentials();
        Box::pin(async move {
            let who = self.resolve_caller(c).await?;
            self.get_stream(&who, &namespace, &name).await
        })
    }
    fn image(&self, digest: String) -> Answer<'_, ImagePage> {
        let c = web_credentials();
        Box::pin(async move { self.portal_image(&self.resolve_caller(c).await?, digest).await })
    }
    fn stream_image(&self, namespace: String, name: String) -> Answer<'_, ImagePage> {
        let c = web_credentials();
        Box::pin(async move {
            let caller = self.resolve_caller(c).await?;
            let found = self.get_stream_image(&caller, &namespace, &name).await?;
            self.portal_image(&caller, found.image.metadata.name).await
        })
    }
    fn dashboard(&self) -> Answer<'_, Dashboard> {
        let c = web_credentials();
        Box::pin(async move { self.portal_dashboard(&self.resolve_caller(c).await?).await })
    }
    fn create_namespace(&self, name: String) -> Answer<'_, ()> {
        let c = web_credentials();
        Box::pin(async move {
            let who = self.resolve_caller(c).await?;
            self.create_namespace(&who, Namespace::new(name.trim())).await.map(|_| ())
        })
    }
    fn delete_namespace(&self, name: String) -> Answer<'_, ()> {
        let c = web_credentials();
        Box::pin(async move {
            let who = self.resolve_caller(c).await?;
            self.delete_namespace(&who, name.trim()).await.map(|_| ())
        })
    }
    fn create_stream(&self, namespace: String, name: String) -> Answer<'_, ()> {
        let c = web_credentials();
        Box::pin(async move {
            let who = self.resolve_caller(c).await?;
            self.create_stream(&who, namespace.trim(), ImageStream::new(namespace.trim(), name.trim())).await.map(|_| ())
        })
    }
    fn delete_stream(&self, namespace: String, name: String) -> Answer<'_, ()> {
        let c = web_credentials();
        Box::pin(async move {
            let who = self.resolve_caller(c).await?;
            self.delete_stream(&who, &namespace, &name).await.map(|_| ())
        })
    }
    fn tag(&self, form: TagForm) -> Answer<'_, String> {
        let c = web_credentials();
        Box::pin(async move { self.portal_tag(&self.resolve_caller(c).await?, form).await })
    }
    fn delete_tag(&self, namespace: String, stream: String, tag: String) -> Answer<'_, ()> {
        let c = web_credentials();
        Box::pin(async move {
            let who = self.resolve_caller(c).await?;
            self.delete_istag(&who, &namespace, &format!("{stream}:{tag}")).await.map(|_| ())
        })
    }
    fn import(&self, form: ImportForm) -> Answer<'_, String> {
        let c = web_credentials();
        Box::pin(async move { self.portal_import(&self.resolve_caller(c).await?, form, None).await })
    }
    fn start_import(&self, form: ImportForm) -> Answer<'_, String> {
        let c = web_credentials();
        Box::pin(async move {
            // Resolved (and checked) before the job starts; the job acts as this caller.
            let who = self.resolve_caller(c).await?;
            self.allow(&who, crate::service::Verb::Create, "imagestreamimports", Some(&form.namespace))?;
            let id = crate::service::new_job_id();
            let job = Arc::new(WebImport { owner: who.user.clone(), ..Default::default() });
            {
                let mut jobs = web_imports().lock().unwrap_or_else(|p| p.into_inner());
                // Finished jobs are kept for a while so a slow poll still sees the result.
                jobs.retain(|_, j| j.finished.lock().map(|f| f.is_none()).unwrap_or(false) || jobs_recent(j));
                jobs.insert(id.clone(), job.clone());
            }
            let service = self.clone();
            tokio::spawn(async move {
                let result = service.portal_import(&who, form, Some(job.progress.clone())).await.map_err(ApiFailure::from);
                if let Ok(mut f) = job.finished.lock() {
                    *f = Some(result);
                }
                if let Ok(mut at) = job.finished_at.lock() {
                    *at = Some(std::time::Instant::now());
                }
            });
            Ok(id)
        })
    }
    fn import_job(&self, id: String) -> Answer<'_, ImportJob> {
        let c = web_credentials();
        Box::pin(async move {
            let who = self.resolve_caller(c).await?;
            let job = web_imports()
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&id)
                .cloned()
                // Someone else's job is "not found", like a token of someone else.
                .filter(|j| who.open || j.owner == who.user)
                .ok_or_else(|| ApiError::not_found(RES_IMAGESTREAMIMPORTS_JOB, &id))?;
            let result = job.finished.lock().ok().and_then(|f| f.clone());
            Ok(ImportJob { done: job.progress.done.load(Ordering::Relaxed), total: job.progress.total.load(Ordering::Relaxed), result })
        })
    }
    fn webhooks(&self, namespace: String) -> Answer<'_, Vec<Webhook>> {
        let c = web_credentials();
        Box::pin(async move {
            let who = self.resolve_caller(c).await?;
            self.list_webhooks(&who, &namespace).await.map(|l| l.items)
        })
    }
    fn create_webhook(&self, form: WebhookForm) -> Answer<'_, ()> {
        let c = web_credentials();
        Box::pin(async move {
            let who = self.resolve_caller(c).await?;
            self.create_webhook(&who, &form.namespace, form.to_webhook()).await.map(|_| ())
        })
    }
    fn delete_webhook(&self, namespace: String, name: String) -> Answer<'_, ()> {
        let c = web_credentials();
        Box::pin(async move {
            let who = self.resolve_caller(c).await?;
            self.delete_webhook(&who, &namespace, &name).await.map(|_| ())
        })
    }
    fn deliveries(&self, namespace: String, name: String) -> Answer<'_, Vec<WebhookDelivery>> {
        let c = web_credentials();
        Box::pin(async move {
            let who = self.resolve_caller(c).await?;
            self.list_deliveries(&who, &namespace, &name).await.map(|l| l.items)
        })
    }
    fn test_webhook(&self, namespace: String, name: String) -> Answer<'_, i64> {
        let c = web_credentials();
        Box::pin(async move {
            let who = self.resolve_caller(c).await?;
            self.test_webhook(&who, &namespace, &name).await.map(|d| d.id)
        })
    }
    fn redeliver(&self, namespace: String, name: String, delivery: i64) -> Answer<'_, i64> {
        let c = web_credentials();
        Box::pin(async move {
            let who = self.resolve_caller(c).await?;
            self.redeliver(&who, &namespace, &name, delivery).await.map(|d| d.id)
        })
    }
    fn who_am_i(&self) -> Answer<'_, WhoAmI> {
        let c = web_credentials();
        Box::pin(async move { Ok(Service::who_am_i(self, &self.resolve_caller(c).await?)) })
    }
    fn sign_out(&self) -> Answer<'_, ()> {
        let c = web_credentials();
        let headers = use_context::<axum::http::request::Parts>().map(|p| p.headers).unwrap_or_default();
        let response = use_context::<leptos_axum::ResponseOptions>();
        Box::pin(async move {
            Service::sign_out(self, &self.resolve_caller(c).await?).await?;
            if let Some(r) = response {
                r.insert_header(axum::http::header::SET_COOKIE, http::session_cookie_header(&headers, "", 0)?);
            }
            Ok(())
        })
    }
    fn change_password(&self, current: String, new: String) -> Answer<'_, ()> {
        let c = web_credentials();
        Box::pin(async move {
            let who = self.resolve_caller(c).await?;
            Service::change_password(self, &who, &PasswordChange { current, new }).await.map_err(|e| {
                match e.status.details.as_ref().and_then(|d| d.causes.first()) {
                    Some(cause) => form_error(&cause.field, e.message().to_string()),
                    None => e,
                }
            })
        })
    }
    fn tokens(&self) -> Answer<'_, Vec<ApiToken>> {
        let c = web_credentials();
        Box::pin(async move { self.list_tokens(&self.resolve_caller(c).await?).await })
    }
    fn create_token(&self, form: TokenForm) -> Answer<'_, ApiToken> {
        let c = web_credentials();
        Box::pin(async move {
            let who = self.resolve_caller(c).await?;
            let namespaces: Vec<String> =
                form.namespaces.split([',', ' ']).map(str::trim).filter(|n| !n.is_empty()).map(str::to_string).collect();
            let expires = match form.expires_in_days.trim() {
                "" => None,
                d => match d.parse::<i64>() {
                    Ok(days) if days > 0 => {
                        Some((self.clock_now() + chrono::Duration::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    }
                    _ => return Err(form_error("expires", "the lifetime is a whole number of days, at least 1".into())),
                },
            };
            let spec = ApiToken {
                name: form.name,
                namespaces: (!namespaces.is_empty()).then_some(namespaces),
                max_role: (!form.max_role.is_empty()).then_some(form.max_role),
                expires,
                ..Default::default()
            };
            Service::create_token(self, &who, &spec).await
        })
    }
    fn revoke_token(&self, id: String) -> Answer<'_, ()> {
        let c = web_credentials();
        Box::pin(async move { Service::revoke_token(self, &self.resolve_caller(c).await?, &id).await.map(|_| ()) })
    }
    fn members(&self, namespace: String) -> Answer<'_, NamespaceSettings> {
        let c = web_credentials();
        Box::pin(async move {
            let who = self.resolve_caller(c).await?;
            let members = self.list_members(&who, &namespace).await?;
            let public = self.get_visibility(&who, &namespace).await?.public;
            let can_admin = self.may(&who, crate::service::Verb::Update, "members", Some(&namespace));
            Ok(NamespaceSettings { members, public, can_admin })
        })
    }
    fn set_member(&self, namespace: String, user: String, role: String) -> Answer<'_, ()> {
        let c = web_credentials();
        Box::pin(async move {
            let who = self.resolve_caller(c).await?;
            Service::set_member(self, &who, &namespace, user.trim(), &role).await.map(|_| ()).map_err(|e| {
                // An unknown user concerns the user field; an unreadable namespace stays a 404.
                let unknown_user = e.status.details.as_ref().is_some_and(|d| d.kind == "users");
                if e.code() == 404 && unknown_user { form_error("user", e.message().to_string()) } else { e }
            })
        })
    }
    fn remove_member(&self, namespace: String, user: String) -> Answer<'_, ()> {
        let c = web_credentials();
        Box::pin(async move { Service::remove_member(self, &self.resolve_caller(c).await?, &namespace, &user).await.map(|_| ()) })
    }
    fn set_public(&self, namespace: String, public: bool) -> Answer<'_, ()> {
        let c = web_credentials();
        Box::pin(async move { self.set_visibility(&self.resolve_caller(c).await?, &namespace, &Visibility { public }).await.map(|_| ()) })
    }
    fn audit(&self, namespace: String) -> Answer<'_, Vec<AuditEntry>> {
        let c = web_credentials();
        Box::pin(async move { self.audit_log(&self.resolve_caller(c).await?, Some(&namespace)).await })
    }
}

/// The credentials of the request a server function (or a server-rendered page) runs in.
/// Called synchronously in each backend method: the request is in the reactive context there.
fn web_credentials() -> Credentials {
    use_context::<axum::http::request::Parts>().map(|p| http::credentials(&p)).unwrap_or_default()
}

/// The router `serve` runs: API routes, then the UI routes and static files.
pub fn router(service: Service, options: LeptosOptions) -> Router {
    let routes = generate_route_list(App);
    let backend: Arc<dyn PortalBackend> = Arc::new(service.clone());
    let shell_options = options.clone();
    let ui = Router::new()
        .leptos_routes_with_context(&options, routes, move || provide_context(backend.clone()), move || shell(shell_options.clone()))
        // The site's build output, named before the pages: `/pkg/portal.js` has the shape of
        // the `/<namespace>/<stream>@<id>` page route and must not be taken for it.
        .route("/pkg/{*file}", axum::routing::get(leptos_axum::file_and_error_handler(shell)))
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(options)
        .layer(axum::middleware::from_fn_with_state(service.clone(), http::edge));
    http::api_router(service).merge(ui).layer(CompressionLayer::new()).layer(TraceLayer::new_for_http())
}
