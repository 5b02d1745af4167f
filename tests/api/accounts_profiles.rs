//! `/api/auth/` profiles, pictures, `/media/`, provinces and the
//! `provinces import` command, on both backends.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{
    TestApp,
    accounts::{admin, member},
    apps::app_with,
    client::{call, json_as, text},
    images::{image_bytes, upload},
};

/// A PNG whose header claims 100000×100000 pixels (and no real data).
fn huge_png_header() -> Vec<u8> {
    let mut ihdr = 100_000u32.to_be_bytes().to_vec();
    ihdr.extend(100_000u32.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(&b"IHDR"[..], &ihdr[..]), (b"IDAT", &[]), (b"IEND", &[])] {
        png.extend((data.len() as u32).to_be_bytes());
        let mut chunk = kind.to_vec();
        chunk.extend_from_slice(data);
        png.extend(&chunk);
        png.extend(crc32(&chunk).to_be_bytes());
    }
    png
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for b in data {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The path part of a picture URL (`/media/...`).
fn media_path(url: &str) -> String {
    let at = url
        .find("/media/")
        .unwrap_or_else(|| panic!("not a media URL: {url}"));
    url[at..].to_string()
}

async fn profile_created_on_first_get_even_concurrently(app: TestApp) {
    let (id, auth) = member(&app, "alice").await;
    let (a, b) = tokio::join!(
        call(&app, Method::GET, "/api/auth/profile/", Some(&auth), None),
        call(&app, Method::GET, "/api/auth/profile/", Some(&auth), None)
    );
    assert_eq!(a.status, StatusCode::OK, "{}", text(&a));
    assert_eq!(b.status, StatusCode::OK, "{}", text(&b));
    let body = a.json();
    assert_eq!(body["username"], "alice");
    assert_eq!(body["email"], "alice@example.com");
    assert_eq!(body["phone"], "");
    assert_eq!(body["birth_date"], Value::Null);
    assert_eq!(body["profile_picture"], Value::Null);
    assert_eq!(body["roles"], json!([]));
    assert_eq!(body["groups"], json!([]));
    assert_eq!(body["province"], Value::Null);
    assert!(body["created_at"].as_str().unwrap().contains('T'));
    let rows = app
        .db
        .scalar(&format!(
            "SELECT COUNT(*) FROM doorman_profile WHERE user_id = {id}"
        ))
        .await;
    assert_eq!(rows, 1);
    let anonymous = call(&app, Method::GET, "/api/auth/profile/", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

async fn partial_updates_and_validation(app: TestApp) {
    let (_, auth) = member(&app, "bob").await;
    let r = json_as(
        &app,
        Method::PATCH,
        "/api/auth/profile/",
        &auth,
        json!({"phone": "123", "bio": "hi"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let first = r.json();
    let r = json_as(
        &app,
        Method::PUT,
        "/api/auth/profile/",
        &auth,
        json!({"address": "1 Main St", "birth_date": "1990-02-03"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let body = r.json();
    assert_eq!(body["phone"], "123", "PUT is partial");
    assert_eq!(body["bio"], "hi");
    assert_eq!(body["address"], "1 Main St");
    assert_eq!(body["birth_date"], "1990-02-03");
    assert_ne!(body["updated_at"], first["updated_at"]);
    let r = json_as(
        &app,
        Method::PATCH,
        "/api/auth/profile/",
        &auth,
        json!({"phone": "1".repeat(21), "address": "a".repeat(256), "birth_date": "3000-01-01"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", text(&r));
    let errors = r.json();
    assert!(errors["phone"][0].as_str().unwrap().contains("20"));
    assert!(errors["address"][0].as_str().unwrap().contains("255"));
    assert!(errors["birth_date"][0].as_str().unwrap().contains("future"));
    let r = json_as(
        &app,
        Method::PATCH,
        "/api/auth/profile/",
        &auth,
        json!({"birth_date": "03/02/1990"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json()["birth_date"][0]
            .as_str()
            .unwrap()
            .contains("YYYY-MM-DD")
    );
    let unchanged = call(&app, Method::GET, "/api/auth/profile/", Some(&auth), None)
        .await
        .json();
    assert_eq!(unchanged["phone"], "123");
    assert_eq!(unchanged["birth_date"], "1990-02-03");
}

async fn provinces_list_create_and_use_by_name(app: TestApp) {
    let (_, admin_auth) = admin(&app, "root").await;
    let (_, auth) = member(&app, "carol").await;
    let r = json_as(
        &app,
        Method::POST,
        "/api/auth/provinces/",
        &admin_auth,
        json!({"name": "Western Cape", "code": "WC"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", text(&r));
    let wc = r.json()["id"].as_i64().unwrap();
    let r = json_as(
        &app,
        Method::POST,
        "/api/auth/provinces/",
        &admin_auth,
        json!({"name": "Gauteng"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = json_as(
        &app,
        Method::POST,
        "/api/auth/provinces/",
        &admin_auth,
        json!({"name": "western cape"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["name"][0].is_string());
    let r = json_as(
        &app,
        Method::POST,
        "/api/auth/provinces/",
        &admin_auth,
        json!({"name": "  "}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["name"][0].is_string());
    let r = json_as(
        &app,
        Method::POST,
        "/api/auth/provinces/",
        &auth,
        json!({"name": "Nope"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let list = app.get("/api/auth/provinces/").await;
    assert_eq!(list.status, StatusCode::OK);
    let names: Vec<_> = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["Gauteng", "Western Cape"]);
    assert_eq!(list.json()[1]["code"], "WC");

    let r = json_as(
        &app,
        Method::PATCH,
        "/api/auth/profile/",
        &auth,
        json!({"province": "WESTERN cape"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    assert_eq!(r.json()["province"], wc);
    let r = json_as(
        &app,
        Method::PATCH,
        "/api/auth/profile/",
        &auth,
        json!({"province": "Atlantis"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["province"][0].is_string());
    let r = json_as(
        &app,
        Method::PATCH,
        "/api/auth/profile/",
        &auth,
        json!({"province": 99999}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = json_as(
        &app,
        Method::PATCH,
        "/api/auth/profile/",
        &auth,
        json!({"province": null}),
    )
    .await;
    assert_eq!(r.json()["province"], Value::Null);
}

async fn pictures_upload_serve_replace_and_delete(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let app = app_with(app, |s| s.media.root = root).await;
    let (admin_id, admin_auth) = admin(&app, "root").await;
    let _ = admin_id;
    let (id, auth) = member(&app, "dave").await;
    let png = image_bytes(image::ImageFormat::Png);
    let r = upload(
        &app,
        Method::PUT,
        "/api/auth/profile/",
        &auth,
        ("me.png", "image/png", &png),
        &[("bio", "pic")],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let url = r.json()["profile_picture"].as_str().unwrap().to_string();
    assert!(
        url.starts_with("http://testserver/media/profile_pics/"),
        "{url}"
    );
    assert_eq!(r.json()["bio"], "pic");
    let served = app.get(&media_path(&url)).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.header("content-type"), Some("image/png"));
    assert_eq!(served.header("x-content-type-options"), Some("nosniff"));
    assert!(
        served
            .header("cache-control")
            .unwrap()
            .starts_with("public, max-age=")
    );
    assert!(image::load_from_memory(&served.body).is_ok());
    let first_file = dir
        .path()
        .join(media_path(&url).trim_start_matches("/media/"));
    assert!(first_file.exists());

    for (name, ctype, format) in [
        ("a.gif", "image/gif", image::ImageFormat::Gif),
        ("a.jpg", "image/jpeg", image::ImageFormat::Jpeg),
    ] {
        let r = upload(
            &app,
            Method::PATCH,
            "/api/auth/profile/",
            &auth,
            (name, ctype, &image_bytes(format)),
            &[],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {}", text(&r));
    }
    assert!(!first_file.exists(), "a replaced picture is removed");
    let url = call(&app, Method::GET, "/api/auth/profile/", Some(&auth), None)
        .await
        .json()["profile_picture"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(url.ends_with(".jpg"));
    assert_eq!(
        app.get(&media_path(&url)).await.header("content-type"),
        Some("image/jpeg")
    );

    let r = upload(
        &app,
        Method::PATCH,
        "/api/auth/profile/",
        &auth,
        ("x.png", "image/png", b"not an image at all"),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", text(&r));
    assert!(r.json()["profile_picture"][0].is_string());
    let r = upload(
        &app,
        Method::PATCH,
        "/api/auth/profile/",
        &auth,
        ("x.png", "image/png", &image_bytes(image::ImageFormat::Jpeg)),
        &[],
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "content must match its type: {}",
        text(&r)
    );
    let started = std::time::Instant::now();
    let r = upload(
        &app,
        Method::PATCH,
        "/api/auth/profile/",
        &auth,
        ("big.png", "image/png", &huge_png_header()),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", text(&r));
    assert!(
        r.json()["profile_picture"][0]
            .as_str()
            .unwrap()
            .contains("too large")
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));

    assert_eq!(
        app.get("/media/../Cargo.toml").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/media/profile_pics/%2e%2e/x.png").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/media/profile_pics/missing.png").await.status,
        StatusCode::NOT_FOUND
    );

    let current = dir
        .path()
        .join(media_path(&url).trim_start_matches("/media/"));
    assert!(current.exists());
    let r = call(
        &app,
        Method::DELETE,
        &format!("/api/auth/users/{id}/delete/"),
        Some(&admin_auth),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", text(&r));
    assert!(!current.exists(), "deleting the user removes the picture");
}

async fn picture_cleared_with_null(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let app = app_with(app, |s| s.media.root = root).await;
    let (_, auth) = member(&app, "erin").await;
    let r = upload(
        &app,
        Method::PATCH,
        "/api/auth/profile/",
        &auth,
        ("me.png", "image/png", &image_bytes(image::ImageFormat::Png)),
        &[],
    )
    .await;
    let url = r.json()["profile_picture"].as_str().unwrap().to_string();
    let file = dir
        .path()
        .join(media_path(&url).trim_start_matches("/media/"));
    let r = json_as(
        &app,
        Method::PATCH,
        "/api/auth/profile/",
        &auth,
        json!({"profile_picture": null}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    assert_eq!(r.json()["profile_picture"], Value::Null);
    assert!(!file.exists());
}

async fn user_profile_list_detail_and_roles(app: TestApp) {
    let (admin_id, admin_auth) = admin(&app, "root").await;
    let (id, auth) = member(&app, "frank").await;
    let (other, _) = member(&app, "gina").await;
    app.db
        .execute("INSERT INTO auth_group (name) VALUES ('editors')")
        .await;
    let group = app
        .db
        .scalar("SELECT CAST(id AS BIGINT) FROM auth_group WHERE name = 'editors'")
        .await;

    let r = call(
        &app,
        Method::GET,
        "/api/auth/user_profile/?page_size=2",
        Some(&admin_auth),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let body = r.json();
    assert_eq!(body["count"], 3);
    assert_eq!(body["results"].as_array().unwrap().len(), 2);
    assert_eq!(body["results"][0]["username"], "root");
    assert!(body["next"].as_str().unwrap().contains("page=2"));
    assert_eq!(
        app.db
            .scalar(&format!(
                "SELECT COUNT(*) FROM doorman_profile WHERE user_id = {admin_id}"
            ))
            .await,
        1
    );

    let own = call(
        &app,
        Method::GET,
        &format!("/api/auth/user_profile/{id}/"),
        Some(&auth),
        None,
    )
    .await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(own.json()["username"], "frank");
    let theirs = call(
        &app,
        Method::GET,
        &format!("/api/auth/user_profile/{other}/"),
        Some(&auth),
        None,
    )
    .await;
    assert_eq!(theirs.status, StatusCode::FORBIDDEN);
    let missing = call(
        &app,
        Method::GET,
        "/api/auth/user_profile/999999/",
        Some(&admin_auth),
        None,
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let path = format!("/api/auth/user_profile/{other}/update/");
    let r = json_as(
        &app,
        Method::PATCH,
        &path,
        &admin_auth,
        json!({"roles": [group], "bio": "x"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    assert_eq!(r.json()["roles"], json!([{"id": group, "name": "editors"}]));
    let r = json_as(
        &app,
        Method::PUT,
        &path,
        &admin_auth,
        json!({"roles": [group, 424242]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["roles"][0].as_str().unwrap().contains("424242"));
    let r = json_as(&app, Method::PATCH, &path, &auth, json!({"bio": "y"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = json_as(
        &app,
        Method::PATCH,
        "/api/auth/profile/",
        &auth,
        json!({"roles": [group]}),
    )
    .await;
    assert_eq!(
        r.json()["roles"],
        json!([]),
        "roles are read-only on the own profile"
    );
}

async fn provinces_import_is_idempotent(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.csv");
    std::fs::write(&file, "name,code\nGauteng,GP\nLimpopo\n\nwestern cape,WC\n").unwrap();
    let run = |path: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_doorman"))
            .env("DOORMAN_DATABASE__URL", &app.db.url)
            .env("DOORMAN_LOG__LEVEL", "warn")
            .current_dir(std::env::temp_dir())
            .args(["provinces", "import"])
            .arg(path)
            .output()
            .unwrap()
    };
    let out = run(&file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 created"));
    let out = run(&file);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("0 created, 0 updated, 3 unchanged"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        app.db.scalar("SELECT COUNT(*) FROM doorman_province").await,
        3
    );
    std::fs::write(&file, "Gauteng,GP\nbad,line,here\n").unwrap();
    let out = run(&file);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 2"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

crate::on_both_backends!(
    profile_created_on_first_get_even_concurrently,
    partial_updates_and_validation,
    provinces_list_create_and_use_by_name,
    pictures_upload_serve_replace_and_delete,
    picture_cleared_with_null,
    user_profile_list_detail_and_roles,
    provinces_import_is_idempotent,
);

mod orphans {
    //! Pictures left on disk without a row are swept, young ones spared.
    use std::time::{Duration, SystemTime};

    use doorman::domain::{
        password::Password,
        users::{NewUser, Username},
    };

    use crate::{on_both_backends, support::TestApp};

    on_both_backends!(orphaned_pictures_are_swept);

    async fn orphaned_pictures_are_swept(app: TestApp) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let app = TestApp::with_settings(app.db.backend, move |s| s.media.root = root).await;
        let user = app
            .state
            .users
            .create(NewUser {
                username: Username::parse("pic").unwrap(),
                email: None,
                first_name: String::new(),
                last_name: String::new(),
                password: Some(Password::new("a-Sturdy-pass-42".into())),
                is_active: true,
                is_staff: false,
                is_superuser: false,
            })
            .await
            .unwrap();
        app.db
            .execute(&format!(
                "INSERT INTO doorman_profile (user_id, phone, address, bio, profile_picture, created_at, updated_at) \
                 VALUES ({}, '', '', '', 'profile_pics/kept.png', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
                user.id
            ))
            .await;
        let pics = dir.path().join("profile_pics");
        std::fs::create_dir_all(&pics).unwrap();
        let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
        for (name, old) in [
            ("kept.png", true),
            ("orphan.png", true),
            ("young.png", false),
        ] {
            let path = pics.join(name);
            std::fs::write(&path, b"x").unwrap();
            if old {
                std::fs::File::options()
                    .write(true)
                    .open(&path)
                    .unwrap()
                    .set_modified(two_hours_ago)
                    .unwrap();
            }
        }
        let removed = doorman::domain::profiles::pictures::sweep_orphans(
            &app.state.store,
            &app.state.settings.media,
            Duration::from_secs(3600),
        )
        .await
        .unwrap();
        assert_eq!(removed, 1);
        assert!(pics.join("kept.png").exists(), "referenced");
        assert!(!pics.join("orphan.png").exists(), "old and unreferenced");
        assert!(pics.join("young.png").exists(), "may be about to commit");
    }
}
