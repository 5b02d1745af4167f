//! A fresh app with changed settings, for tests that need more than the
//! defaults `TestApp::new` gives.

use doorman::config::Settings;

use super::{Backend, TestApp};

/// A fresh app on `backend` with `tweak` applied to the test settings.
pub async fn app_on(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    TestApp::with_settings(backend, tweak).await
}

/// A fresh app (same backend as `app`, which is dropped) with `tweak`.
pub async fn app_with(app: TestApp, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let backend = app.db.backend;
    drop(app);
    app_on(backend, tweak).await
}
