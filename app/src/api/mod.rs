//! Server functions: thin. Each asks the `PortalBackend` in context (the server's service layer)
//! and maps errors; no rules and no SQL here.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One stream row of the catalog: `oc get is` columns plus counts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CatalogStream {
    pub name: String,
    pub image_repository: String,
    pub tags: String,
    /// RFC 3339 time of the newest head, if any.
    pub updated: Option<String>,
    pub tag_count: usize,
}

/// A namespace and its streams.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CatalogNamespace {
    pub name: String,
    pub streams: Vec<CatalogStream>,
}

#[cfg(feature = "ssr")]
pub mod backend {
    //! The seam between the app and the server: the server implements this trait with its
    //! service layer and provides it as `Arc<dyn PortalBackend>` in Leptos context.
    use super::CatalogNamespace;
    use crate::model::ApiError;
    use std::future::Future;
    use std::pin::Pin;

    pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

    pub trait PortalBackend: Send + Sync + 'static {
        /// Every namespace the caller may read with its streams (first page of each).
        fn catalog(&self) -> BoxFuture<'_, Result<Vec<CatalogNamespace>, ApiError>>;
    }
}

/// The catalog: namespaces and their streams.
#[server]
pub async fn list_catalog() -> Result<Vec<CatalogNamespace>, ServerFnError> {
    use backend::PortalBackend;
    use std::sync::Arc;
    let backend = use_context::<Arc<dyn PortalBackend>>().ok_or_else(|| ServerFnError::new("backend missing from context"))?;
    backend.catalog().await.map_err(|e| ServerFnError::new(e.message()))
}
