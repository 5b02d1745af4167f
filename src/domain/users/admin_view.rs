//! The admin's view of users: a searched page of them with their profiles,
//! and one user with groups and profile (`users/` and `users/{id}/`).

use super::Users;
use crate::{
    domain::Error,
    model::{Profile, UserSummary},
};

impl Users {
    /// A page of users with their profiles (`None` where none exists yet;
    /// the list creates none).
    pub async fn page(
        &self,
        search: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<(UserSummary, Option<Profile>)>, Error> {
        let users = self.store.user_page(search, offset, limit).await?;
        let ids: Vec<i32> = users.iter().map(|u| u.id).collect();
        let mut profiles = self.store.load_profiles(&ids).await?;
        Ok(users
            .into_iter()
            .map(|u| {
                let profile = profiles
                    .iter_mut()
                    .find(|(id, _)| *id == u.id)
                    .and_then(|(_, p)| p.take());
                (u, profile)
            })
            .collect())
    }

    /// One user as the admin endpoints show it, with their profile if any.
    pub async fn admin_view(&self, id: i32) -> Result<(UserSummary, Option<Profile>), Error> {
        let user = self
            .store
            .find_user_by_id(id)
            .await?
            .ok_or(Error::NotFound)?;
        let groups = self.store.user_groups(&[id]).await?;
        let profile = self
            .store
            .load_profiles(&[id])
            .await?
            .pop()
            .and_then(|(_, p)| p);
        Ok((
            UserSummary {
                id,
                username: user.username,
                email: user.email,
                first_name: user.first_name,
                last_name: user.last_name,
                is_active: user.is_active,
                groups: groups.into_iter().map(|(_, g)| g.id).collect(),
            },
            profile,
        ))
    }
}
