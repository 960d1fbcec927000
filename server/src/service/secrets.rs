//! Registry credentials of a namespace: created from a docker config (like `oc create secret
//! docker-registry`), sealed before they are stored, never returned or logged, and handed to
//! the importer for the registries they name.
//! Must not: return or log a secret's plain text.

use super::{Caller, Service, Verb, db, new_uid};
use crate::store::{self, SecretRow};
use app::domain::secrets::registry_secret_credentials;
use app::model::*;
use std::collections::BTreeMap;

pub const RES_SECRETS: Resource = Resource { plural: "secrets", group: "", kind: "Secret" };

pub use app::domain::secrets::{RegistryCredential, normalize_registry};

impl Service {
    /// The credentials a stored secret holds, or why they cannot be read (sealed with another
    /// key, or not what this server seals). Callers log the reason and use no credentials: a
    /// secret that does not open never grants anything.
    fn open_credentials(&self, row: &SecretRow) -> Result<Vec<RegistryCredential>, &'static str> {
        let plain = self.sealer.open(&row.sealed).map_err(|_| "a registry secret does not open with this server's key")?;
        serde_json::from_slice(&plain).map_err(|_| "a registry secret does not hold registry credentials")
    }

    fn secret_view(&self, row: &SecretRow) -> Secret {
        let registries = match self.open_credentials(row) {
            Ok(c) => c.into_iter().map(|c| c.registry).collect(),
            Err(why) => {
                tracing::warn!(namespace = %row.namespace, secret = %row.name, "{why}");
                vec![]
            }
        };
        Secret {
            api_version: "v1".into(),
            kind: "Secret".into(),
            metadata: ObjectMeta::stored(&row.namespace, &row.name, &row.uid, row.resource_version, &row.created),
            secret_type: row.secret_type.clone(),
            data: BTreeMap::new(),
            string_data: BTreeMap::new(),
            registries,
        }
    }

    pub async fn create_secret(&self, caller: &Caller, ns: &str, mut secret: Secret) -> Result<Secret, ApiError> {
        self.allow(caller, Verb::Create, "secrets", Some(ns))?;
        super::streams::check_namespace_matches(&mut secret.metadata, ns)?;
        let name = secret.metadata.name.clone();
        let creds = registry_secret_credentials(&secret).map_err(|errs| ApiError::invalid(RES_SECRETS, &name, &errs))?;
        let plain = serde_json::to_vec(&creds).map_err(|e| ApiError::internal(e.to_string()))?;
        let sealed = self.sealer.seal(&plain).map_err(ApiError::internal)?;
        let mut tx = self.store.begin().await.map_err(db)?;
        self.require_namespace(&mut tx, ns).await?;
        if store::get_secret(&mut tx, ns, &name).await.map_err(db)?.is_some() {
            return Err(ApiError::already_exists(RES_SECRETS, &name));
        }
        let row = SecretRow {
            namespace: ns.into(),
            name: name.clone(),
            uid: new_uid(),
            resource_version: store::next_resource_version(&mut tx).await.map_err(db)?,
            created: self.now_rfc3339(),
            secret_type: secret.secret_type.clone(),
            sealed,
        };
        store::insert_secret(&mut tx, &row).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(self.secret_view(&row))
    }

    pub async fn get_secret(&self, caller: &Caller, ns: &str, name: &str) -> Result<Secret, ApiError> {
        self.allow(caller, Verb::Get, "secrets", Some(ns))?;
        let mut conn = self.store.read().await.map_err(db)?;
        let row = store::get_secret(&mut conn, ns, name).await.map_err(db)?.ok_or_else(|| ApiError::not_found(RES_SECRETS, name))?;
        Ok(self.secret_view(&row))
    }

    pub async fn list_secrets(&self, caller: &Caller, ns: &str) -> Result<List<Secret>, ApiError> {
        self.allow(caller, Verb::List, "secrets", Some(ns))?;
        let mut conn = self.store.read().await.map_err(db)?;
        self.require_namespace(&mut conn, ns).await?;
        let rows = store::list_secrets(&mut conn, ns).await.map_err(db)?;
        drop(conn);
        Ok(List {
            api_version: "v1".into(),
            kind: "SecretList".into(),
            metadata: self.list_meta(None).await?,
            items: rows.iter().map(|r| self.secret_view(r)).collect(),
        })
    }

    pub async fn delete_secret(&self, caller: &Caller, ns: &str, name: &str) -> Result<Status, ApiError> {
        self.delete_secret_if(caller, ns, name, &app::domain::deletion::Preconditions::default()).await
    }

    /// DELETE with preconditions, checked inside the delete's transaction.
    pub async fn delete_secret_if(
        &self,
        caller: &Caller,
        ns: &str,
        name: &str,
        pre: &app::domain::deletion::Preconditions,
    ) -> Result<Status, ApiError> {
        self.allow(caller, Verb::Delete, "secrets", Some(ns))?;
        let mut tx = self.store.begin().await.map_err(db)?;
        if !pre.is_empty() {
            let row = store::get_secret(&mut tx, ns, name).await.map_err(db)?.ok_or_else(|| ApiError::not_found(RES_SECRETS, name))?;
            pre.check(RES_SECRETS, name, &row.uid, &row.resource_version.to_string())?;
        }
        if !store::delete_secret(&mut tx, ns, name).await.map_err(db)? {
            return Err(ApiError::not_found(RES_SECRETS, name));
        }
        store::next_resource_version(&mut tx).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(Status::success("secrets", "", name))
    }

    /// The credentials of a namespace by registry (first secret by name wins for a registry).
    pub(crate) async fn registry_credentials(&self, ns: &str) -> Result<BTreeMap<String, RegistryCredential>, ApiError> {
        let mut conn = self.store.read().await.map_err(db)?;
        let rows = store::list_secrets(&mut conn, ns).await.map_err(db)?;
        let mut out = BTreeMap::new();
        for row in rows {
            match self.open_credentials(&row) {
                Ok(creds) => {
                    for c in creds {
                        out.entry(c.registry.clone()).or_insert(c);
                    }
                }
                Err(why) => tracing::warn!(namespace = ns, secret = %row.name, "{why}"),
            }
        }
        Ok(out)
    }
}
