//! A namespace's members and whether it is public: its admins add members, change their roles
//! and mark it public (readable without signing in). A namespace always keeps one admin.
//!
//! Must not: trust anything from another namespace (users are looked up by name within the call)
//! or skip a stored role that does not decode (the store fails the read).

use super::{Caller, RES_MEMBERS, RES_USERS, Role};
use crate::service::{Service, Verb, db};
use crate::store;
use app::model::*;
use sqlx::SqliteConnection;

/// Whether `user` is an admin of `ns`.
async fn is_admin(conn: &mut SqliteConnection, ns: &str, user: &str) -> Result<bool, ApiError> {
    Ok(store::members_of(conn, ns).await.map_err(db)?.iter().any(|m| m.user == user && m.role.0 == Role::Admin))
}

impl Service {
    /// The members of a namespace, by user name.
    pub async fn list_members(&self, caller: &Caller, ns: &str) -> Result<Vec<Member>, ApiError> {
        self.allow(caller, Verb::List, "members", Some(ns))?;
        let mut conn = self.store.read().await.map_err(db)?;
        self.require_namespace(&mut conn, ns).await?;
        let members = store::members_of(&mut conn, ns).await.map_err(db)?;
        Ok(members.into_iter().map(|m| Member { user: m.user, role: m.role.0.as_str().into() }).collect())
    }

    /// Adds a member or changes their role. The user is looked up by name within this call;
    /// nothing from another namespace is trusted.
    pub async fn set_member(&self, caller: &Caller, ns: &str, user: &str, role: &str) -> Result<Member, ApiError> {
        self.allow(caller, Verb::Update, "members", Some(ns))?;
        let Some(role) = Role::parse(role) else {
            let err = FieldError::not_supported("role", role, Role::supported_values());
            return Err(ApiError::invalid(RES_MEMBERS, user, &[err]));
        };
        // A name no user can have is refused as such (not as an unknown user), and an
        // oversized one is not echoed as the object's name.
        let errs = app::domain::accounts::validate_user_name(user, "user");
        if !errs.is_empty() {
            let shown = if user.len() > app::domain::accounts::MAX_USER_NAME_LEN { "" } else { user };
            return Err(ApiError::invalid(RES_MEMBERS, shown, &errs));
        }
        let mut tx = self.store.begin().await.map_err(db)?;
        self.require_namespace(&mut tx, ns).await?;
        let u = store::user_by_name(&mut tx, user).await.map_err(db)?.ok_or_else(|| ApiError::not_found(RES_USERS, user))?;
        if role != Role::Admin && is_admin(&mut tx, ns, user).await? && store::count_admins(&mut tx, ns).await.map_err(db)? <= 1 {
            return Err(ApiError::conflict(
                RES_MEMBERS,
                user,
                "the last admin of a namespace cannot be demoted; make someone else admin first",
            ));
        }
        store::set_member(&mut tx, ns, u.id, role).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        self.access_changed();
        Ok(Member { user: user.into(), role: role.as_str().into() })
    }

    /// Removes a member (not the last admin).
    pub async fn remove_member(&self, caller: &Caller, ns: &str, user: &str) -> Result<Status, ApiError> {
        self.allow(caller, Verb::Delete, "members", Some(ns))?;
        let mut tx = self.store.begin().await.map_err(db)?;
        let u = store::user_by_name(&mut tx, user).await.map_err(db)?.ok_or_else(|| ApiError::not_found(RES_MEMBERS, user))?;
        if is_admin(&mut tx, ns, user).await? && store::count_admins(&mut tx, ns).await.map_err(db)? <= 1 {
            return Err(ApiError::conflict(RES_MEMBERS, user, "the last admin of a namespace cannot be removed"));
        }
        if !store::remove_member(&mut tx, ns, u.id).await.map_err(db)? {
            return Err(ApiError::not_found(RES_MEMBERS, user));
        }
        tx.commit().await.map_err(db)?;
        self.access_changed();
        Ok(Status::success("members", "", user))
    }

    /// Whether a namespace is public.
    pub async fn get_visibility(&self, caller: &Caller, ns: &str) -> Result<Visibility, ApiError> {
        self.allow(caller, Verb::Get, "visibility", Some(ns))?;
        let mut conn = self.store.read().await.map_err(db)?;
        self.require_namespace(&mut conn, ns).await?;
        Ok(Visibility { public: store::public_namespaces(&mut conn).await.map_err(db)?.iter().any(|n| n == ns) })
    }

    /// Marks a namespace public (readable without signing in) or not.
    pub async fn set_visibility(&self, caller: &Caller, ns: &str, v: &Visibility) -> Result<Visibility, ApiError> {
        self.allow(caller, Verb::Update, "visibility", Some(ns))?;
        let mut tx = self.store.begin().await.map_err(db)?;
        self.require_namespace(&mut tx, ns).await?;
        store::set_public(&mut tx, ns, v.public).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        self.access_changed();
        Ok(v.clone())
    }
}
