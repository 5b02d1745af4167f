//! Profile pictures: decode an upload with the `image` crate on the
//! blocking pool (at most a few at once), bounded by `media.max_pixels`
//! before any pixel is allocated, refuse content whose format differs from
//! what the client declared, and re-encode it (which drops metadata and
//! anything smuggled after the image). Files live under
//! `<media.root>/profile_pics/` with random names and are written to a
//! temporary name first, then renamed into place.

use std::{io::Cursor, path::PathBuf};

use image::{ImageFormat, ImageReader, Limits};
use tokio::sync::Semaphore;

use crate::config::MediaSettings;

/// Folder under `media.root` that holds profile pictures.
pub const FOLDER: &str = "profile_pics";

/// At most this many pictures are decoded at once. The permit moves into
/// the blocking task, so a request that gives up early does not free a slot
/// while its decode still runs.
static DECODERS: std::sync::LazyLock<std::sync::Arc<Semaphore>> =
    std::sync::LazyLock::new(|| std::sync::Arc::new(Semaphore::new(2)));

const INVALID: &str =
    "Upload a valid image. The file you uploaded was either not an image or a corrupted image.";

/// A file as uploaded.
#[derive(Debug, Clone)]
pub struct Upload {
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// A re-encoded picture, ready to store.
#[derive(Debug)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub extension: &'static str,
}

/// Checks, decodes and re-encodes an upload; the error is the message for
/// the `profile_picture` field.
pub async fn process(upload: Upload, media: &MediaSettings) -> Result<Encoded, String> {
    if upload.bytes.len() > media.max_upload_bytes {
        return Err(format!(
            "The file is too large; the limit is {} bytes.",
            media.max_upload_bytes
        ));
    }
    let max_pixels = media.max_pixels;
    let max_decode = media.max_decode_bytes;
    let permit = DECODERS
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| "Image processing is unavailable.".to_string())?;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        reencode(&upload, max_pixels, max_decode)
    })
    .await
    .map_err(|_| INVALID.to_string())?
}

/// The format a client declared, by content type, else by file extension.
fn declared(upload: &Upload) -> Option<ImageFormat> {
    let by_type = upload
        .content_type
        .as_deref()
        .map(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .and_then(|t| match t.as_str() {
            "image/png" => Some(ImageFormat::Png),
            "image/jpeg" | "image/jpg" => Some(ImageFormat::Jpeg),
            "image/webp" => Some(ImageFormat::WebP),
            "image/gif" => Some(ImageFormat::Gif),
            _ => None,
        });
    by_type.or_else(|| {
        let name = upload.filename.as_deref()?;
        let (_, ext) = name.rsplit_once('.')?;
        ImageFormat::from_extension(ext)
    })
}

fn reencode(upload: &Upload, max_pixels: u64, max_decode: u64) -> Result<Encoded, String> {
    let reader = ImageReader::new(Cursor::new(&upload.bytes[..]))
        .with_guessed_format()
        .map_err(|_| INVALID.to_string())?;
    let format = reader.format().ok_or_else(|| INVALID.to_string())?;
    if !matches!(
        format,
        ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Gif
    ) {
        return Err("Unsupported image type; use JPEG, PNG, WebP or GIF.".into());
    }
    if let Some(claimed) = declared(upload)
        && claimed != format
    {
        return Err("The file's content does not match its declared type.".into());
    }
    let side = u32::try_from(max_pixels).unwrap_or(u32::MAX);
    let mut limits = Limits::default();
    limits.max_image_width = Some(side);
    limits.max_image_height = Some(side);
    // The decoded buffer (checked below) and what a decoder keeps beside
    // it; a colour conversion for JPEG output is another buffer of at most
    // the same size.
    limits.max_alloc = Some(max_decode.saturating_add(max_decode / 4).max(1 << 20));
    let decoder = ImageReader::with_format(Cursor::new(&upload.bytes[..]), format)
        .into_decoder()
        .map_err(|_| INVALID.to_string())?;
    let (width, height) = image::ImageDecoder::dimensions(&decoder);
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(format!(
            "The image is too large: {width}×{height} pixels; the limit is {max_pixels} pixels."
        ));
    }
    // Pixels alone do not bound memory: 16 bits per channel take twice
    // the bytes, so the decoded size is what is limited.
    let decoded = image::ImageDecoder::total_bytes(&decoder);
    if decoded > max_decode {
        return Err(format!(
            "The image is too large to process: {width}×{height} pixels at {} bytes each; \
             the limit is {max_decode} bytes decoded.",
            image::ImageDecoder::color_type(&decoder).bytes_per_pixel()
        ));
    }
    drop(decoder);
    let mut reader = ImageReader::with_format(Cursor::new(&upload.bytes[..]), format);
    reader.limits(limits);
    let image = reader.decode().map_err(|_| INVALID.to_string())?;
    let mut out = Cursor::new(Vec::new());
    let extension = if format == ImageFormat::Jpeg {
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90);
        image
            .to_rgb8()
            .write_with_encoder(encoder)
            .map_err(|_| INVALID.to_string())?;
        "jpg"
    } else {
        image
            .write_to(&mut out, ImageFormat::Png)
            .map_err(|_| INVALID.to_string())?;
        "png"
    };
    Ok(Encoded {
        bytes: out.into_inner(),
        extension,
    })
}

/// Stores a picture under a random name; returns its path relative to
/// `media.root` (`profile_pics/<hex>.<ext>`).
pub async fn save(media: &MediaSettings, image: &Encoded) -> Result<String, std::io::Error> {
    let dir = media.root.join(FOLDER);
    tokio::fs::create_dir_all(&dir).await?;
    let name = format!(
        "{}.{}",
        hex::encode(rand::random::<[u8; 16]>()),
        image.extension
    );
    let temp = dir.join(format!(".{name}.tmp"));
    tokio::fs::write(&temp, &image.bytes).await?;
    if let Err(e) = tokio::fs::rename(&temp, dir.join(&name)).await {
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(e);
    }
    Ok(format!("{FOLDER}/{name}"))
}

/// Removes a stored picture; a file already gone is fine, other failures
/// are logged (the row no longer points at it either way).
pub async fn remove(media: &MediaSettings, path: &str) {
    let Some(full) = resolve(media, path) else {
        return;
    };
    match tokio::fs::remove_file(&full).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(path, error = %e, "could not remove a replaced picture"),
    }
}

/// The file for a media path, if the path is a plain relative one (no
/// `..`, no absolute or empty segments, no backslashes).
pub fn resolve(media: &MediaSettings, path: &str) -> Option<PathBuf> {
    let safe = !path.is_empty()
        && !path.contains('\\')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains(':'));
    safe.then(|| media.root.join(path))
}

/// Removes pictures no profile points at and older than `min_age`: files
/// left behind when the process died between writing a picture and
/// committing its row, or when removing a replaced one failed. Young files
/// are spared, as their row may be about to commit.
pub async fn sweep_orphans(
    store: &crate::store::Store,
    media: &MediaSettings,
    min_age: std::time::Duration,
) -> Result<usize, crate::domain::Error> {
    let dir = media.root.join(FOLDER);
    let mut entries = match tokio::fs::read_dir(&dir).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(crate::domain::Error::internal(e)),
    };
    let mut removed = 0;
    while let Ok(Some(entry)) = entries.next_entry().await {
        let Ok(meta) = entry.metadata().await else {
            continue;
        };
        let old = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age >= min_age);
        let name = entry.file_name().to_string_lossy().to_string();
        if !meta.is_file() || !old {
            continue;
        }
        let path = format!("{FOLDER}/{name}");
        if name.starts_with('.') || !store.picture_in_use(&path).await? {
            remove(media, &path).await;
            removed += 1;
        }
    }
    Ok(removed)
}
