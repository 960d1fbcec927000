//! Users, and whether accounts are on at all (PRODUCT difference 9): they are once a user exists.
//! The first administrator is bootstrapped by `serve`; later users are created by server
//! administrators.
//!
//! Must not: delete users (accounts, once on, stay on: `AccountsSwitch` relies on it) or return a
//! password hash.

use super::sessions::check_new_password;
use super::{Bootstrap, Caller, RES_USERS};
use crate::service::{Service, Verb, db};
use crate::store;
use app::domain::accounts::{MAX_USER_NAME_LEN, too_long, validate_user_name};
use app::model::*;
use std::sync::atomic::{AtomicU8, Ordering};

/// Whether accounts are on, as far as this process knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Accounts {
    /// Not read from the database yet.
    Unknown = 0,
    /// No user exists: the server is open.
    Off = 1,
    /// A user exists: every request is checked.
    On = 2,
}

/// `Service::accounts`: what this process knows of `Accounts`, shared by the service's clones.
/// Settled from the database once, then only ever turned on (users are created only through the
/// service and never all deleted). An atomic rather than a lock, since every request reads it.
#[derive(Debug)]
pub(crate) struct AccountsSwitch(AtomicU8);

impl Default for AccountsSwitch {
    fn default() -> Self {
        AccountsSwitch(AtomicU8::new(Accounts::Unknown as u8))
    }
}

impl AccountsSwitch {
    fn get(&self) -> Accounts {
        match self.0.load(Ordering::Acquire) {
            x if x == Accounts::On as u8 => Accounts::On,
            x if x == Accounts::Off as u8 => Accounts::Off,
            _ => Accounts::Unknown,
        }
    }

    /// Records what the database said, unless the state is known already: a user created
    /// meanwhile has turned accounts on, and that must not be undone by an older read.
    fn settle(&self, on: bool) {
        let read = if on { Accounts::On } else { Accounts::Off };
        let _ = self.0.compare_exchange(Accounts::Unknown as u8, read as u8, Ordering::AcqRel, Ordering::Acquire);
    }

    fn turn_on(&self) {
        self.0.store(Accounts::On as u8, Ordering::Release);
    }
}

impl Service {
    /// Whether accounts are on (a user exists). Read from the database once, then known: users
    /// are only created through this service (which turns it on) and never all deleted.
    pub async fn accounts_on(&self) -> Result<bool, ApiError> {
        match self.accounts.get() {
            Accounts::On => return Ok(true),
            Accounts::Off => return Ok(false),
            Accounts::Unknown => {}
        }
        let mut conn = self.store.read().await.map_err(db)?;
        let on = store::count_users(&mut conn).await.map_err(db)? > 0;
        self.accounts.settle(on);
        Ok(self.accounts.get() == Accounts::On)
    }

    /// Makes sure a server administrator exists (`serve --admin-password-file`): when none does,
    /// creates `name` with `password` as one, or, should a user of that name exist, makes it the
    /// administrator with that password. Says what it did; never touches a server that has an
    /// administrator.
    pub async fn bootstrap_admin(&self, name: &str, password: &str) -> Result<Bootstrap, ApiError> {
        // Only the length: the first administrator's name comes from the operator, and names
        // beyond it could never sign in.
        if name.len() > MAX_USER_NAME_LEN {
            return Err(ApiError::invalid(RES_USERS, "", &[too_long("name", MAX_USER_NAME_LEN)]));
        }
        check_new_password(name, "password", password)?;
        let hash = self.password_hashing.hash(password).await?;
        let mut tx = self.store.begin().await.map_err(db)?;
        if store::count_server_admins(&mut tx).await.map_err(db)? > 0 {
            return Ok(Bootstrap::AdministratorExists);
        }
        let done = match store::user_by_name(&mut tx, name).await.map_err(db)? {
            Some(user) => {
                store::promote_to_admin(&mut tx, user.id, &hash).await.map_err(db)?;
                Bootstrap::Promoted
            }
            None => {
                store::insert_user(&mut tx, name, &hash, true, &self.now_rfc3339()).await.map_err(db)?;
                Bootstrap::Created
            }
        };
        tx.commit().await.map_err(db)?;
        self.accounts.turn_on();
        self.access_changed();
        self.spend_setup_token();
        Ok(done)
    }

    /// Server administrators create users. While no administrator exists, only the setup token
    /// (or the server itself) may, and only an administrator (`setup`): never an anonymous
    /// request, not even on a single-user loopback server.
    pub async fn create_user(&self, caller: &Caller, new: &NewUser) -> Result<WhoAmI, ApiError> {
        let name = new.name.trim();
        // An oversized name is not echoed as the object's name.
        let shown = if name.len() > MAX_USER_NAME_LEN { "" } else { name };
        let first = !self.administrator_exists().await?;
        if first {
            self.check_first_user(caller, shown, new.admin)?;
        } else {
            self.allow(caller, Verb::Create, "users", None)?;
        }
        let errs = validate_user_name(name, "name");
        if !errs.is_empty() {
            return Err(ApiError::invalid(RES_USERS, shown, &errs));
        }
        check_new_password(shown, "password", &new.password)?;
        let hash = self.password_hashing.hash(&new.password).await?;
        let mut tx = self.store.begin().await.map_err(db)?;
        if first && store::count_server_admins(&mut tx).await.map_err(db)? > 0 {
            // Another request created the first administrator meanwhile: the setup token is spent.
            return Err(ApiError::conflict(RES_USERS, name, "the first administrator was created meanwhile; sign in as them"));
        }
        if store::user_by_name(&mut tx, name).await.map_err(db)?.is_some() {
            return Err(ApiError::already_exists(RES_USERS, name));
        }
        store::insert_user(&mut tx, name, &hash, new.admin, &self.now_rfc3339()).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        self.accounts.turn_on();
        // Accounts may have just turned on: watches opened without signing in ask again.
        self.access_changed();
        if first {
            self.spend_setup_token();
            tracing::info!(user = %name, "created the first administrator with the setup token; the token is spent");
        }
        Ok(WhoAmI { user: Some(name.into()), admin: new.admin, ..Default::default() })
    }

    /// Every user with their memberships (server administrators).
    pub async fn list_users(&self, caller: &Caller) -> Result<Vec<WhoAmI>, ApiError> {
        self.allow(caller, Verb::List, "users", None)?;
        let mut conn = self.store.read().await.map_err(db)?;
        let mut out = vec![];
        for u in store::list_users(&mut conn).await.map_err(db)? {
            let namespaces = store::memberships(&mut conn, u.id)
                .await
                .map_err(db)?
                .into_iter()
                .map(|m| Membership { namespace: m.namespace, role: m.role.0.as_str().into() })
                .collect();
            out.push(WhoAmI { user: Some(u.name), admin: u.admin, open: false, namespaces, token: None });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_settle_once_and_only_turn_on() {
        let s = AccountsSwitch::default();
        assert_eq!(s.get(), Accounts::Unknown);
        s.settle(false);
        assert_eq!(s.get(), Accounts::Off);
        s.settle(true);
        assert_eq!(s.get(), Accounts::Off, "settled once");
        s.turn_on();
        assert_eq!(s.get(), Accounts::On);
        let fresh = AccountsSwitch::default();
        fresh.turn_on();
        fresh.settle(false);
        assert_eq!(fresh.get(), Accounts::On, "an older read does not turn accounts off");
    }
}
