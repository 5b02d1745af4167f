//! Profiles (SPEC §1): one per user, created on first access; provinces;
//! profile pictures. Field parsing lives with
//! the handlers; the rules that need the database (a province named by id
//! or name, role ids that must exist) and the picture's life cycle live
//! here. A picture is decoded and re-encoded on the blocking pool
//! (`pictures`), written under `media.root` first, and only then is the row
//! committed; a failed commit removes the new file, a successful one the
//! old file.

use time::Date;

use super::{
    Error, FieldErrors,
    access::{self, Principal},
    audit::{Audit, Event, Kind},
};
use crate::{
    config::{MediaSettings, Settings},
    store::Store,
};

pub mod pictures;

pub use crate::model::{Named, Profile, ProfileChanges, Province};

/// How a request names a province.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProvinceRef {
    Clear,
    Id(i32),
    Name(String),
}

/// An uploaded picture, or a request to remove the current one.
#[derive(Debug, Clone)]
pub enum PictureInput {
    Clear,
    Upload(pictures::Upload),
}

/// A profile update as the handler parsed it; `errors` holds the field
/// errors found so far, reported together with the ones found here.
#[derive(Debug, Default)]
pub struct ProfileUpdate {
    pub changes: ProfileChanges,
    pub province: Option<ProvinceRef>,
    pub picture: Option<PictureInput>,
    pub errors: FieldErrors,
}

/// Parses `YYYY-MM-DD`; a date after `today` is refused. Years outside
/// 1–9999 are refused with DRF's format message, as DRF does: Python's
/// `date` (and so Django's DateField) cannot hold them, and a row holding
/// one could not be read back by Django.
pub fn parse_birth_date(text: &str, today: Date) -> Result<Date, String> {
    let wrong_format =
        || "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.".to_string();
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = Date::parse(text.trim(), format).map_err(|_| wrong_format())?;
    if !(1..=9999).contains(&date.year()) {
        return Err(wrong_format());
    }
    if date > today {
        return Err("Birth date cannot be in the future.".into());
    }
    Ok(date)
}

/// The user's profile, created if missing; `NotFound` for an unknown user.
pub async fn get_or_create(store: &Store, user_id: i32) -> Result<Profile, Error> {
    if store.find_user_by_id(user_id).await?.is_none() {
        return Err(Error::NotFound);
    }
    store.ensure_profile(user_id).await?;
    load(store, user_id).await
}

async fn load(store: &Store, user_id: i32) -> Result<Profile, Error> {
    let mut rows = store.load_profiles(&[user_id]).await?;
    match rows.pop() {
        Some((_, Some(profile))) => Ok(profile),
        _ => Err(Error::NotFound),
    }
}

/// Profiles for a page of user ids, creating the missing ones (one
/// statement for the page), in the order given.
pub async fn for_users(store: &Store, user_ids: &[i32]) -> Result<Vec<Profile>, Error> {
    store.ensure_profiles(user_ids).await?;
    let rows = store.load_profiles(user_ids).await?;
    Ok(rows.into_iter().filter_map(|(_, p)| p).collect())
}

/// An admin's update of user `user_id`'s profile, as `caller`: refused
/// unless the caller may manage that user (`access::may_manage`: a
/// permission holder cannot edit a superuser's or a full admin's profile)
/// and may grant (or take away) every role the update changes.
pub async fn update_as(
    store: &Store,
    audit: &Audit,
    settings: &Settings,
    caller: &Principal,
    user_id: i32,
    update: ProfileUpdate,
) -> Result<Profile, Error> {
    if caller.user.id != user_id {
        let target = store
            .find_user_by_id(user_id)
            .await?
            .ok_or(Error::NotFound)?;
        let target = Principal::load(store, &settings.accounts, target).await?;
        access::may_manage(caller, &target)?;
    }
    if let Some(roles) = &update.changes.roles {
        let current: Vec<i32> = get_or_create(store, user_id)
            .await?
            .roles
            .iter()
            .map(|r| r.id)
            .collect();
        let changed = access::changed(&current, roles);
        access::check_group_grants(store, &settings.accounts, caller, &changed).await?;
        if !changed.is_empty() {
            let event = Event::new(Kind::ProfileRolesChanged, Some(user_id), "")
                .by(Some(caller.user.id))
                .detail(format!("roles now {roles:?}"));
            return apply(
                store,
                &settings.media,
                user_id,
                update,
                Some((audit, event)),
            )
            .await;
        }
    }
    apply(store, &settings.media, user_id, update, None).await
}

/// Applies an update to the user's profile (created if missing). Every
/// field error, the handler's and these, is reported at once.
pub async fn update(
    store: &Store,
    media: &MediaSettings,
    user_id: i32,
    update: ProfileUpdate,
) -> Result<Profile, Error> {
    apply(store, media, user_id, update, None).await
}

/// `update`, recording `record` (an audit event) with the write.
async fn apply(
    store: &Store,
    media: &MediaSettings,
    user_id: i32,
    update: ProfileUpdate,
    record: Option<(&Audit, Event)>,
) -> Result<Profile, Error> {
    let ProfileUpdate {
        mut changes,
        province,
        picture,
        mut errors,
    } = update;
    get_or_create(store, user_id).await?;
    match province {
        None => {}
        Some(ProvinceRef::Clear) => changes.province_id = Some(None),
        Some(r) => match resolve_province(store, &r).await? {
            Some(id) => changes.province_id = Some(Some(id)),
            None => errors.push(("province".into(), vec![province_error(&r)])),
        },
    }
    if let Some(roles) = &changes.roles {
        let missing = store.missing_groups(roles).await?;
        if !missing.is_empty() {
            errors.push(("roles".into(), vec![missing_message(&missing)]));
        }
    }
    let image = match picture {
        Some(PictureInput::Upload(upload)) => match pictures::process(upload, media).await {
            Ok(image) => Some(image),
            Err(message) => {
                errors.push(("profile_picture".into(), vec![message]));
                None
            }
        },
        Some(PictureInput::Clear) => {
            changes.picture = Some(None);
            None
        }
        None => None,
    };
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let new_file = match image {
        Some(image) => {
            let path = pictures::save(media, &image)
                .await
                .map_err(Error::internal)?;
            changes.picture = Some(Some(path.clone()));
            Some(path)
        }
        None => None,
    };
    let result = write(store, user_id, &changes, record).await;
    if let (Err(_), Some(path)) = (&result, new_file) {
        pictures::remove(media, &path).await;
    }
    // Only a file no profile names any more: Django's rows may share one
    // (an `ImageField` default), doorman's never do.
    if let Ok(Some(old)) = &result
        && changes.picture.is_some()
        && !store.picture_in_use(old).await.unwrap_or(true)
    {
        pictures::remove(media, old).await;
    }
    result?;
    load(store, user_id).await
}

/// Writes the changes; returns the picture path they replaced.
async fn write(
    store: &Store,
    user_id: i32,
    changes: &ProfileChanges,
    record: Option<(&Audit, Event)>,
) -> Result<Option<String>, Error> {
    let mut tx = store.begin().await?;
    let old = tx.profile_picture(user_id).await?;
    tx.update_profile(user_id, changes).await?;
    if let Some((audit, event)) = record {
        audit.in_tx(&mut tx, event).await?;
    }
    tx.commit().await?;
    Ok(old)
}

async fn resolve_province(store: &Store, r: &ProvinceRef) -> Result<Option<i32>, Error> {
    Ok(match r {
        ProvinceRef::Clear => None,
        ProvinceRef::Id(id) => store.province_exists(*id).await?.then_some(*id),
        ProvinceRef::Name(name) => store.find_province_by_name(name).await?.map(|p| p.id),
    })
}

fn province_error(r: &ProvinceRef) -> String {
    match r {
        ProvinceRef::Id(id) => format!("Invalid pk \"{id}\" - object does not exist."),
        ProvinceRef::Name(name) => format!("No province named \"{name}\"."),
        ProvinceRef::Clear => String::new(),
    }
}

pub use super::users::missing_message;

/// Checks a new province's name (required, ≤100) and code (≤10).
pub fn check_province(name: Option<&str>, code: Option<&str>) -> FieldErrors {
    let mut errors = FieldErrors::new();
    match name.map(str::trim) {
        None => errors.push(("name".into(), vec!["This field is required.".into()])),
        Some("") => errors.push(("name".into(), vec!["This field may not be blank.".into()])),
        Some(n) if n.chars().count() > 100 => errors.push((
            "name".into(),
            vec!["Ensure this field has no more than 100 characters.".into()],
        )),
        _ => {}
    }
    if code.is_some_and(|c| c.trim().chars().count() > 10) {
        errors.push((
            "code".into(),
            vec!["Ensure this field has no more than 10 characters.".into()],
        ));
    }
    errors
}

pub const PROVINCE_TAKEN: &str = "province with this name already exists.";

/// Creates a province; a name taken (ignoring case) is a field error.
pub async fn create_province(
    store: &Store,
    name: &str,
    code: Option<&str>,
) -> Result<Province, Error> {
    let mut errors = check_province(Some(name), code);
    if errors.is_empty() && store.find_province_by_name(name.trim()).await?.is_some() {
        errors.push(("name".into(), vec![PROVINCE_TAKEN.into()]));
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let code = code.map(str::trim).filter(|c| !c.is_empty());
    store
        .insert_province(name.trim(), code)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Conflict { .. } => Error::field("name", PROVINCE_TAKEN),
            other => other.into(),
        })
}

/// What an import did with one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    Created,
    Updated,
    Unchanged,
}

/// Adds a province or, if one has this name (ignoring case), sets its code
/// when a different one is given.
pub async fn import_province(
    store: &Store,
    name: &str,
    code: Option<&str>,
) -> Result<Imported, Error> {
    match store.find_province_by_name(name).await? {
        Some(p) if code.is_some() && p.code.as_deref() != code => {
            store.set_province_code(p.id, code).await?;
            Ok(Imported::Updated)
        }
        Some(_) => Ok(Imported::Unchanged),
        None => {
            create_province(store, name, code).await?;
            Ok(Imported::Created)
        }
    }
}
