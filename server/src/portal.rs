//! The whole HTTP surface of `serve`: the API router plus the Leptos UI (SSR + hydration), and
//! the `PortalBackend` the UI's server functions call, implemented by the service.

use crate::http;
use crate::service::{Caller, ListOptions, Service};
use app::api::backend::{BoxFuture, PortalBackend};
use app::api::{CatalogNamespace, CatalogStream};
use app::domain::present::{image_repository_column, last_updated, tags_by_recency, tags_column};
use app::model::ApiError;
use app::{App, shell};
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::sync::Arc;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

impl PortalBackend for Service {
    fn catalog(&self) -> BoxFuture<'_, Result<Vec<CatalogNamespace>, ApiError>> {
        Box::pin(async move {
            let caller = Caller::default();
            let namespaces = self.list_namespaces(&caller, None, None).await?;
            let mut out = vec![];
            for ns in namespaces.items {
                let name = ns.metadata.name;
                let streams = self.list_streams(&caller, Some(&name), &ListOptions { limit: Some(100), continue_token: None }).await?;
                let streams = streams
                    .items
                    .iter()
                    .map(|s| CatalogStream {
                        name: s.metadata.name.clone(),
                        image_repository: image_repository_column(s),
                        tags: tags_column(&tags_by_recency(s)),
                        updated: last_updated(s),
                        tag_count: s.status.tags.len().max(s.spec.tags.len()),
                    })
                    .collect();
                out.push(CatalogNamespace { name, streams });
            }
            Ok(out)
        })
    }
}

/// The router `serve` runs: API routes, then the UI routes and static files.
pub fn router(service: Service, options: LeptosOptions) -> Router {
    let routes = generate_route_list(App);
    let backend: Arc<dyn PortalBackend> = Arc::new(service.clone());
    let shell_options = options.clone();
    let ui = Router::new()
        .leptos_routes_with_context(&options, routes, move || provide_context(backend.clone()), move || shell(shell_options.clone()))
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(options);
    http::api_router(service).merge(ui).layer(CompressionLayer::new()).layer(TraceLayer::new_for_http())
}
