//! POST to a folder (SPEC §4): `multipart/form-data` uploads (a browser form or `curl -F`),
//! any other body saved under the MD5 of its content, and the listing's no-JavaScript delete
//! button (`POST <entry>?delete`, guarded exactly like DELETE).

use std::fs::{self, Metadata};
use std::path::Path;

use md5::{Digest, Md5};

use super::delete;
use crate::access;
use crate::error::{Clash, Error, Refusal};
use crate::fs::etag;
use crate::fs::path::{TEMP_PREFIX, resolve};
use crate::fs::write::{self, TempFile};
use crate::http::Method;
use crate::http::accept;
use crate::http::encode::{encode_href, hex, push_json_string};
use crate::http::multipart::{self, FormDataReader, PartBody};
use crate::http::response::{Body, Response};
use crate::request::{Request, Target};

/// Longest saved file name, in bytes (the usual file-system limit).
const MAX_NAME: usize = 255;

/// How many numbered names (`a (1).txt`, …) are tried before an upload is refused (409).
const MAX_RENAMES: usize = 1000;

/// One file an upload saved.
struct Saved {
    /// The file name the client sent.
    sent: String,
    /// The name it was saved under.
    name: String,
    size: u64,
    location: String,
    etag: String,
}

/// True for `?delete`: the listing's delete button.
pub fn is_delete_form(query: Option<&str>) -> bool {
    query.is_some_and(|q| q.split('&').any(|p| p == "delete" || p == "delete="))
}

/// POSTs to a folder: an upload or a content-named file.
#[inline(never)] // see method/mod.rs
pub fn handle(req: &mut Request<'_>, target: &Target<'_>) -> Result<Response, Error> {
    check_same_origin(req)?;
    let dir = folder(req, target)?;
    let folder_url = folder_url(&target.url_path);
    let content_type = req.head.header("content-type").unwrap_or("").to_string();
    match multipart::form_data_boundary(&content_type) {
        Some(boundary) => {
            let folder = format!("{}/", target.url_path.trim_end_matches('/'));
            upload(req, &dir, (&folder, &folder_url), &boundary)
        }
        None => save_by_digest(req, &dir, &folder_url, &content_type),
    }
}

/// `POST <entry>?delete`, already authorised as a DELETE of `<entry>`: deletes it, then sends
/// a browser back to the listing (303) or answers 204.
#[inline(never)] // see method/mod.rs
pub fn delete_form(req: &Request<'_>, target: &Target<'_>) -> Result<Response, Error> {
    check_same_origin(req)?;
    delete::delete(req, target)?;
    let trimmed = target.url_path.trim_end_matches('/');
    let parent = &trimmed[..trimmed.rfind('/').map_or(0, |i| i + 1)];
    Ok(back_to_listing(req, &folder_url(parent)).unwrap_or_else(|| Response::new(204)))
}

/// A browser that posted a form gets 303 to the listing; `None` for other clients.
fn back_to_listing(req: &Request<'_>, folder_url: &str) -> Option<Response> {
    let accept = req.head.header("accept");
    accept::prefers(accept, "text/html", "application/json")
        .then(|| Response::text(303).header("Location", folder_url.to_string()))
}

/// Browsers send `Origin` with every POST; a page on another site must not upload or delete
/// with the user's stored credentials (cross-site request forgery). Clients without `Origin`
/// (curl, scripts) are not browsers acting for someone else.
fn check_same_origin(req: &Request<'_>) -> Result<(), Error> {
    let Some(origin) = req.head.header("origin") else {
        return Ok(());
    };
    let host = req.head.header("host").unwrap_or("");
    let authority = origin.split_once("://").map_or("", |(_, a)| a);
    match authority.eq_ignore_ascii_case(host) || req.config.cors.allows(origin) {
        true => Ok(()),
        false => Err(Error::Forbidden(Refusal::CrossSite)),
    }
}

/// The canonical folder a POST writes into: it must exist (404) and be a folder (409).
fn folder(req: &Request<'_>, target: &Target<'_>) -> Result<std::path::PathBuf, Error> {
    let hidden = req.config.server.hidden;
    let found = resolve(target.fs_root, &target.fs_path, hidden)?;
    match found.is_dir {
        true => Ok(found.path),
        false => Err(Error::Conflict(Clash::NotAFolder)),
    }
}

/// The folder's URL: every segment percent-encoded, with a trailing slash.
fn folder_url(norm: &str) -> String {
    let mut url = String::from("/");
    for segment in norm.split('/').filter(|s| !s.is_empty()) {
        url.push_str(&encode_href(segment));
        url.push('/');
    }
    url
}

/// Saves every file part of a `multipart/form-data` body, one at a time as it streams in.
/// `folder` is the folder's decoded path and its URL, both with a trailing slash.
fn upload(
    req: &mut Request<'_>,
    dir: &Path,
    (folder, folder_url): (&str, &str),
    boundary: &str,
) -> Result<Response, Error> {
    let hidden = req.config.server.hidden;
    let mut saved = Vec::new();
    let mut parts = FormDataReader::new(&mut req.body, boundary);
    while let Some(head) = parts.next_part()? {
        // A file input left empty sends a part with `filename=""`; plain fields have none.
        let Some(sent) = head.filename.filter(|f| !f.is_empty()) else {
            continue;
        };
        let mut temp = TempFile::create_in(dir)?;
        let size = write::copy_body(&mut PartBody(&mut parts), temp.file(), None)?;
        let wanted = sanitize(&sent, hidden);
        let ctx = Ctx {
            config: req.config,
            head: req.head,
            client: req.client,
            folder,
        };
        let (name, meta) = commit(&ctx, dir, &wanted, temp)?;
        req.cache.invalidate(&dir.join(&name));
        saved.push(Saved {
            location: format!("{folder_url}{}", encode_href(&name)),
            etag: etag::for_file(&meta),
            sent,
            name,
            size,
        });
    }
    if let Some(back) = back_to_listing(req, folder_url) {
        return Ok(back);
    }
    let status = if saved.is_empty() { 200 } else { 201 };
    Ok(Response::new(status)
        .header("Content-Type", "application/json")
        .body(Body::Bytes(render_saved(&saved).into_bytes().into())))
}

/// What `commit` needs of the request to decide whether an existing name may be replaced.
struct Ctx<'r> {
    config: &'r crate::config::Config,
    head: &'r crate::http::parse::Head,
    client: std::net::IpAddr,
    /// The folder's decoded, normalised URL path, with a trailing slash (what `[[acl]]` judges).
    folder: &'r str,
}

/// Renames `temp` into `dir` as `wanted`, or as `wanted (1)`, `wanted (2)`… when a file of
/// that name exists and the ACL does not let this client PUT over it.
fn commit(
    ctx: &Ctx<'_>,
    dir: &Path,
    wanted: &str,
    temp: TempFile,
) -> Result<(String, Metadata), Error> {
    for n in 0..MAX_RENAMES {
        let name = numbered(wanted, n);
        let path = dir.join(&name);
        let _lock = write::lock(&path);
        let free = match fs::symlink_metadata(&path) {
            Err(_) => true,
            Ok(meta) => !meta.is_dir() && may_replace(ctx, &name),
        };
        if free {
            let meta = temp.persist(&path)?;
            return Ok((name, meta));
        }
    }
    Err(Error::Conflict(Clash::NamesTaken))
}

/// True when this client could PUT over `name` (credentials included, as a PUT would check).
fn may_replace(ctx: &Ctx<'_>, name: &str) -> bool {
    let path = format!("{}{name}", ctx.folder);
    access::authorize(ctx.config, &path, &Method::Put, ctx.client, ctx.head).is_ok()
}

/// `name`, or `stem (n).ext` for n > 0.
fn numbered(name: &str, n: usize) -> String {
    if n == 0 {
        return name.to_string();
    }
    match name.rfind('.').filter(|&i| i > 0) {
        Some(dot) => format!("{} ({n}){}", &name[..dot], &name[dot..]),
        None => format!("{name} ({n})"),
    }
}

/// A safe file name from what a client sent: the last path component only (no `/` or `\`),
/// no control characters, no leading dot unless `hidden` (and never a temporary-file name),
/// never `.` or `..`, at most [`MAX_NAME`] bytes; `upload` when nothing is left.
pub fn sanitize(sent: &str, hidden: bool) -> String {
    let base = sent.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base.chars().filter(|c| !c.is_control()).collect();
    let mut name = cleaned.trim();
    if !hidden || name.starts_with(TEMP_PREFIX) || name.chars().all(|c| c == '.') {
        name = name.trim_start_matches('.').trim_start();
    }
    let mut end = name.len().min(MAX_NAME);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    match &name[..end] {
        "" => "upload".to_string(),
        name => name.to_string(),
    }
}

/// The JSON list of saved files: `[{"filename", "name", "size", "location", "etag"}]`.
fn render_saved(saved: &[Saved]) -> String {
    let mut out = String::from("[");
    for (i, s) in saved.iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        out.push_str("{\"filename\":");
        push_json_string(&mut out, &s.sent);
        out.push_str(",\"name\":");
        push_json_string(&mut out, &s.name);
        out.push_str(&format!(",\"size\":{},\"location\":", s.size));
        push_json_string(&mut out, &s.location);
        out.push_str(",\"etag\":");
        push_json_string(&mut out, &s.etag);
        out.push('}');
    }
    out.push_str("\n]\n");
    out
}

/// Saves a non-multipart body as `<md5 of the content>.<ext>`: 201, or 200 when that exact
/// content is already there (nothing written).
fn save_by_digest(
    req: &mut Request<'_>,
    dir: &Path,
    folder_url: &str,
    content_type: &str,
) -> Result<Response, Error> {
    let mut temp = TempFile::create_in(dir)?;
    let mut md5 = Md5::new();
    let size = write::copy_body(&mut req.body, temp.file(), Some(&mut md5))?;
    let name = format!("{}{}", hex(&md5.finalize()), extension_for(content_type));
    let path = dir.join(&name);
    let location = format!("{folder_url}{name}");
    let _lock = write::lock(&path);
    // Same name, same size: the same content (the name is its MD5).
    if let Ok(meta) = fs::metadata(&path)
        && meta.is_file()
        && meta.len() == size
    {
        return Ok(Response::text(200)
            .header("Location", location)
            .header("ETag", etag::for_file(&meta)));
    }
    let meta = temp.persist(&path)?;
    req.cache.invalidate(&path);
    Ok(Response::text(201)
        .header("Location", location)
        .header("ETag", etag::for_file(&meta)))
}

/// `.txt` for `text/plain`, and so on; nothing for unknown or generic types.
fn extension_for(content_type: &str) -> String {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let known = match essence.as_str() {
        "" | "application/octet-stream" | "application/x-www-form-urlencoded" => {
            return String::new();
        }
        "text/plain" => Some("txt"),
        "text/html" => Some("html"),
        "image/jpeg" => Some("jpg"),
        "application/json" => Some("json"),
        _ => None,
    };
    let guessed = known.map(str::to_string).or_else(|| {
        mime_guess::get_mime_extensions_str(&essence)
            .and_then(|exts| exts.first())
            .map(|e| e.to_string())
    });
    match guessed {
        Some(ext) if !ext.is_empty() && ext.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            format!(".{ext}")
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_rows() {
        // (sent, hidden, saved as)
        let rows: &[(&str, bool, &str)] = &[
            // Hostile rows first.
            ("../x", false, "x"),
            ("../../etc/passwd", false, "passwd"),
            ("a/b", false, "b"),
            ("..\\..\\win.ini", false, "win.ini"),
            ("C:\\Users\\me\\doc.txt", false, "doc.txt"),
            ("..", true, "upload"),
            (".", true, "upload"),
            ("/", false, "upload"),
            ("x/..", false, "upload"),
            (".env", false, "env"),
            ("...env", false, "env"),
            (".shelf-tmp-1", true, "shelf-tmp-1"),
            ("a\u{0}b\r\nc\u{7f}.txt", false, "abc.txt"),
            ("  spaced  ", false, "spaced"),
            // Kept.
            (".env", true, ".env"),
            ("été \"quoted\".txt", false, "été \"quoted\".txt"),
            ("a b.tar.gz", false, "a b.tar.gz"),
        ];
        for (sent, hidden, want) in rows {
            assert_eq!(sanitize(sent, *hidden), *want, "{sent:?} hidden={hidden}");
        }
        let long = "é".repeat(200);
        let cut = sanitize(&long, false);
        assert!(cut.len() <= MAX_NAME && cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn numbered_rows() {
        assert_eq!(numbered("a.txt", 0), "a.txt");
        assert_eq!(numbered("a.txt", 1), "a (1).txt");
        assert_eq!(numbered("a.tar.gz", 2), "a.tar (2).gz");
        assert_eq!(numbered("README", 3), "README (3)");
        assert_eq!(numbered(".env", 1), ".env (1)");
    }

    #[test]
    fn extension_rows() {
        let rows: &[(&str, &str)] = &[
            ("", ""),
            ("application/octet-stream", ""),
            ("text/plain; charset=utf-8", ".txt"),
            ("Application/JSON", ".json"),
            ("image/png", ".png"),
            ("image/jpeg", ".jpg"),
            ("no/such-type", ""),
        ];
        for (ct, want) in rows {
            assert_eq!(extension_for(ct), *want, "{ct}");
        }
    }

    #[test]
    fn delete_form_query() {
        assert!(is_delete_form(Some("delete")));
        assert!(is_delete_form(Some("sort=name&delete")));
        assert!(!is_delete_form(Some("deleted")));
        assert!(!is_delete_form(None));
    }
}
