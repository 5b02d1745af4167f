//! Profile pictures: small real images in any format, and the multipart
//! upload that sends one.

use std::io::Cursor;

use axum::{
    body::Body,
    http::{Method, Request},
};

use super::{TestApp, TestResponse};

/// A multipart body with one file field and text fields.
pub async fn upload(
    app: &TestApp,
    method: Method,
    path: &str,
    auth: &str,
    file: (&str, &str, &[u8]),
    fields: &[(&str, &str)],
) -> TestResponse {
    let boundary = "doormantestboundary";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .bytes(),
        );
    }
    let (name, ctype, bytes) = file;
    body.extend(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"profile_picture\"; filename=\"{name}\"\r\nContent-Type: {ctype}\r\n\r\n")
            .bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend(format!("\r\n--{boundary}--\r\n").bytes());
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", auth)
        .header("host", "testserver")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap();
    app.send(request).await
}

pub fn image_bytes(format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(2, 2, |x, y| image::Rgb([x as u8 * 200, y as u8 * 200, 90]));
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, format)
        .unwrap();
    out.into_inner()
}
