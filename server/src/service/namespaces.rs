//! Namespaces: explicit objects (PRODUCT difference 6). Whoever creates one administers it;
//! lists show only what the caller may see; deleting one deletes its streams, each recorded for
//! watchers.
//!
//! Must not: restate the name rule (`app::domain::names`) or manage members (`access::members`).

use super::{Caller, Role, Service, Verb, db, new_uid, page_size};
use crate::store;
use app::domain::deletion::Preconditions;
use app::domain::names::validate_namespace_name;
use app::model::*;

impl Service {
    pub async fn create_namespace(&self, caller: &Caller, ns: Namespace) -> Result<Namespace, ApiError> {
        self.allow(caller, Verb::Create, "namespaces", None)?;
        let name = ns.metadata.name.clone();
        let errs = validate_namespace_name(&name, "metadata.name");
        if !errs.is_empty() {
            return Err(ApiError::invalid(RES_NAMESPACES, &name, &errs));
        }
        let mut tx = self.store.begin().await.map_err(db)?;
        if store::get_namespace(&mut tx, &name).await.map_err(db)?.is_some() {
            return Err(ApiError::already_exists(RES_NAMESPACES, &name));
        }
        let rv = store::next_resource_version(&mut tx).await.map_err(db)?;
        store::insert_namespace(&mut tx, &name, &new_uid(), rv, &self.now_rfc3339()).await.map_err(db)?;
        // Whoever creates a namespace administers it.
        if let Some(user) = caller.user_id {
            store::set_member(&mut tx, &name, user, Role::Admin).await.map_err(db)?;
        }
        let created = store::get_namespace(&mut tx, &name).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        self.access_changed();
        created.ok_or_else(|| ApiError::internal("namespace vanished"))
    }

    pub async fn get_namespace(&self, caller: &Caller, name: &str) -> Result<Namespace, ApiError> {
        self.allow(caller, Verb::Get, "namespaces", Some(name))?;
        let mut conn = self.store.read().await.map_err(db)?;
        store::get_namespace(&mut conn, name).await.map_err(db)?.ok_or_else(|| ApiError::not_found(RES_NAMESPACES, name))
    }

    pub async fn list_namespaces(&self, caller: &Caller, limit: Option<i64>, cont: Option<&str>) -> Result<List<Namespace>, ApiError> {
        self.allow(caller, Verb::List, "namespaces", None)?;
        let limit = page_size(limit)?;
        let mut conn = self.store.read().await.map_err(db)?;
        let scope = caller.visible_namespaces();
        let mut items = store::list_namespaces(&mut conn, cont.unwrap_or(""), limit + 1, scope.as_deref()).await.map_err(db)?;
        let next = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|n| n.metadata.name.clone())
        } else {
            None
        };
        Ok(List { api_version: "v1".into(), kind: "NamespaceList".into(), metadata: self.list_meta(next).await?, items })
    }

    pub async fn delete_namespace(&self, caller: &Caller, name: &str) -> Result<Status, ApiError> {
        self.delete_namespace_if(caller, name, &Preconditions::default()).await
    }

    /// DELETE with preconditions, checked inside the delete's transaction.
    pub async fn delete_namespace_if(&self, caller: &Caller, name: &str, pre: &Preconditions) -> Result<Status, ApiError> {
        self.allow(caller, Verb::Delete, "namespaces", Some(name))?;
        let mut tx = self.store.begin().await.map_err(db)?;
        let Some(found) = store::get_namespace(&mut tx, name).await.map_err(db)? else {
            return Err(ApiError::not_found(RES_NAMESPACES, name));
        };
        let meta = &found.metadata;
        pre.check_namespace(
            RES_NAMESPACES,
            name,
            meta.uid.as_deref().unwrap_or_default(),
            meta.resource_version.as_deref().unwrap_or_default(),
        )?;
        // Its streams go with it; watchers see each one deleted.
        for stream in store::stream_names(&mut tx, name).await.map_err(db)? {
            if let Some(old) = store::load_stream(&mut tx, name, &stream).await.map_err(db)? {
                let mut last = old.stream.clone();
                last.metadata.resource_version = Some(store::next_resource_version(&mut tx).await.map_err(db)?.to_string());
                store::delete_stream(&mut tx, old.id, &last, &self.now_rfc3339()).await.map_err(db)?;
            }
        }
        store::delete_namespace(&mut tx, name).await.map_err(db)?;
        store::next_resource_version(&mut tx).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        self.announce();
        self.access_changed();
        Ok(Status::success("namespaces", "", name))
    }
}
