//! Where `--templates` finds a policy-templates tree: a directory, a `.zip` of one (a
//! release archive of kubearmor/policy-templates, or any zip of the tree), or an http(s)
//! URL of such a zip, downloaded once into the user's cache directory and revalidated
//! (ETag / Last-Modified) on later runs, so that a run without the network still works
//! from the cached copy, and says so.
//!
//! A zip is unpacked (its `*.yaml`/`*.yml` files only, names kept inside the target
//! directory, sizes bounded) into a temporary directory that the importer reads like any
//! tree: `metadata.yaml` names files next to it, so the tree must exist as files.

use super::HardenError;
use crate::redact::url_credentials;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A zip holding more than this (uncompressed YAML) is refused: the whole upstream corpus
/// is under 3 MiB, so this only stops a zip bomb.
const MAX_UNPACKED: u64 = 256 << 20;
/// The largest download accepted, for the same reason.
const MAX_DOWNLOAD: u64 = 64 << 20;
const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Dir(PathBuf),
    Zip(PathBuf),
    Url(String),
}

impl Source {
    /// What the user typed: a URL by its scheme, a zip by its name (or, for a file with
    /// another name, by its `PK` signature), anything else a directory.
    pub fn parse(arg: &str) -> Source {
        let lower = arg.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            return Source::Url(arg.to_string());
        }
        let p = PathBuf::from(arg);
        let zip_named = lower.ends_with(".zip");
        let zip_magic = p.is_file()
            && std::fs::File::open(&p)
                .and_then(|mut f| {
                    let mut m = [0u8; 4];
                    f.read_exact(&mut m).map(|()| m)
                })
                .is_ok_and(|m| m == *b"PK\x03\x04");
        if zip_named || zip_magic {
            Source::Zip(p)
        } else {
            Source::Dir(p)
        }
    }
}

/// Whether following a redirect from `from` to `to` would drop TLS (https to http): the
/// download would then be readable and changeable on the way, so it is refused.
fn downgrade(from: &reqwest::Url, to: &reqwest::Url) -> bool {
    from.scheme() == "https" && to.scheme() != "https"
}

fn err(path: impl std::fmt::Display, reason: impl Into<String>) -> HardenError {
    HardenError::Import {
        path: path.to_string(),
        reason: reason.into(),
    }
}

/// An unpacked archive, removed with its contents when dropped.
pub struct TempTree {
    dir: PathBuf,
    /// The one top-level directory everything is in (`policy-templates-0.2.3/` in a
    /// release archive), if so.
    top: Option<String>,
}

impl TempTree {
    /// The tree's root: inside the single top-level directory when there is one, since
    /// an imported template's category is its first directory in the tree (`mitre/...`).
    pub fn path(&self) -> PathBuf {
        match &self.top {
            Some(t) => self.dir.join(t),
            None => self.dir.clone(),
        }
    }

    /// That top-level directory's name, for naming files as they are in the archive.
    pub fn top(&self) -> Option<&str> {
        self.top.as_deref()
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Unpacks the YAML files of `zip` into a new temporary directory. `name` is how errors
/// name the archive (its path, or the URL it came from).
pub fn unpack(zip: &Path, name: &str) -> Result<TempTree, HardenError> {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let file = std::fs::File::open(zip).map_err(|e| err(name, format!("cannot open: {e}")))?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| err(name, format!("not a zip archive: {e}")))?;
    // A name nobody can guess, made with create_dir (never an existing directory or a
    // symlink someone planted in /tmp) and private to its owner: the templates unpacked
    // here become policies that root may apply.
    let dir = loop {
        let mut nonce = [0u8; 8];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut nonce))
            .map_err(|e| err("/dev/urandom", e.to_string()))?;
        let dir = std::env::temp_dir().join(format!(
            "knoxctl-templates-{}-{}-{:016x}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            u64::from_ne_bytes(nonce)
        ));
        let mut b = std::fs::DirBuilder::new();
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        match b.create(&dir) {
            Ok(()) => break dir,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(err(dir.display(), e.to_string())),
        }
    };
    let mut tree = TempTree { dir, top: None };
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| err(name, format!("entry {i}: {e}")))?;
        if !entry.is_file() {
            continue;
        }
        // Names that would leave the directory (`../x`, `/etc/x`) are not unpacked.
        let Some(rel) = entry.enclosed_name() else {
            continue;
        };
        if !rel.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            continue;
        }
        let dest = tree.dir.join(&rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| err(dest.display(), e.to_string()))?;
        }
        let mut out =
            std::fs::File::create(&dest).map_err(|e| err(dest.display(), e.to_string()))?;
        // The declared size can lie; the bound is on what is read.
        let left = MAX_UNPACKED - total;
        let n = std::io::copy(&mut (&mut entry).take(left + 1), &mut out)
            .map_err(|e| err(name, format!("{}: {e}", rel.display())))?;
        total += n;
        if total > MAX_UNPACKED {
            return Err(err(
                name,
                format!("more than {} MiB of YAML: refused", MAX_UNPACKED >> 20),
            ));
        }
    }
    let entries: Vec<std::fs::DirEntry> = std::fs::read_dir(&tree.dir)
        .map_err(|e| err(tree.dir.display(), e.to_string()))?
        .filter_map(Result::ok)
        .collect();
    if let [only] = entries.as_slice()
        && only.file_type().is_ok_and(|t| t.is_dir())
    {
        tree.top = Some(only.file_name().to_string_lossy().into_owned());
    }
    Ok(tree)
}

/// Where downloaded template archives are kept: `templates/` in the user's cache
/// directory (`$XDG_CACHE_HOME/knoxctl`, else `~/.cache/knoxctl`).
pub fn cache_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "knoxctl").map(|d| d.cache_dir().join("templates"))
}

/// What a cached download was fetched with, for revalidation.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Meta {
    /// Without its credentials: the cache is a file anyone with the user's access reads,
    /// and the file name (a hash of the whole URL) already tells credentials apart.
    url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_modified: Option<String>,
    /// Unix seconds of the last download or revalidation.
    checked: u64,
}

/// A download's outcome: the archive to unpack and what to tell the user about it.
#[derive(Debug)]
pub struct Fetched {
    pub zip: PathBuf,
    pub note: String,
}

/// A stable file name for a URL (FNV-1a; not a security boundary, only a cache key).
fn key(url: &str) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in url.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Downloads `url` into `cache` (or revalidates the copy there). When the server cannot
/// be reached or answers with an error, a cached copy is used and the note says why; with
/// no cached copy that is an error. A download replaces the cached copy only once it is
/// whole and opens as a zip.
pub fn fetch(url: &str, cache: &Path) -> Result<Fetched, HardenError> {
    let raw = url;
    // What is printed: never the URL's credentials.
    let url = &url_credentials(raw);
    let k = key(raw);
    let zip_path = cache.join(format!("{k}.zip"));
    let meta_path = cache.join(format!("{k}.json"));
    let meta: Option<Meta> = std::fs::read(&meta_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(|m: &Meta| m.url == *url && zip_path.is_file());
    let fallback = |why: String| -> Result<Fetched, HardenError> {
        // reqwest's messages name the URL as it was asked for.
        let why = url_credentials(&why);
        match &meta {
            Some(_) => Ok(Fetched {
                zip: zip_path.clone(),
                note: format!(
                    "could not download {url} ({why}); using the copy cached in {}",
                    zip_path.display()
                ),
            }),
            None => Err(err(
                url,
                format!("cannot download ({why}) and no copy is cached"),
            )),
        }
    };
    let client = match reqwest::blocking::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            let downgraded = attempt
                .previous()
                .last()
                .is_some_and(|from| downgrade(from, attempt.url()));
            if downgraded {
                let to = url_credentials(attempt.url().as_str());
                attempt.error(format!("refused a redirect from https to {to}"))
            } else if attempt.previous().len() >= 10 {
                attempt.error("more than 10 redirects")
            } else {
                attempt.follow()
            }
        }))
        .user_agent(concat!("knoxctl/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => return fallback(e.to_string()),
    };
    let mut req = client.get(raw);
    if let Some(m) = &meta {
        if let Some(etag) = &m.etag {
            req = req.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &m.last_modified {
            req = req.header(reqwest::header::IF_MODIFIED_SINCE, lm);
        }
    }
    let resp = match req.send() {
        Ok(r) => r,
        Err(e) => return fallback(error_chain(&e)),
    };
    let status = resp.status();
    if status == reqwest::StatusCode::NOT_MODIFIED
        && let Some(m) = meta.as_ref()
    {
        let m = Meta {
            checked: now(),
            url: m.url.clone(),
            etag: m.etag.clone(),
            last_modified: m.last_modified.clone(),
        };
        // Only the time of the check changes; a failure to record it loses nothing.
        let _ = write_whole(&meta_path, &serde_json::to_vec(&m).unwrap_or_default());
        return Ok(Fetched {
            zip: zip_path.clone(),
            note: format!("{url}: not modified; using the cached copy"),
        });
    }
    if !status.is_success() {
        return fallback(format!("HTTP {status}"));
    }
    let header = |h: reqwest::header::HeaderName| {
        resp.headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let etag = header(reqwest::header::ETAG);
    let last_modified = header(reqwest::header::LAST_MODIFIED);
    let mut body = Vec::new();
    if let Err(e) = resp.take(MAX_DOWNLOAD + 1).read_to_end(&mut body) {
        return fallback(format!("reading the response: {e}"));
    }
    if body.len() as u64 > MAX_DOWNLOAD {
        return Err(err(
            url,
            format!("larger than {} MiB: refused", MAX_DOWNLOAD >> 20),
        ));
    }
    // Verified before it replaces anything: it must be a zip.
    if let Err(e) = zip::ZipArchive::new(std::io::Cursor::new(&body)) {
        return Err(err(url, format!("the download is not a zip archive: {e}")));
    }
    std::fs::create_dir_all(cache).map_err(|e| err(cache.display(), e.to_string()))?;
    write_whole(&zip_path, &body).map_err(|e| err(zip_path.display(), e.to_string()))?;
    let m = Meta {
        url: url.clone(),
        etag,
        last_modified,
        checked: now(),
    };
    write_whole(&meta_path, &serde_json::to_vec(&m).unwrap_or_default())
        .map_err(|e| err(meta_path.display(), e.to_string()))?;
    Ok(Fetched {
        zip: zip_path,
        note: format!(
            "downloaded {url} ({} bytes; cached in {})",
            body.len(),
            cache.display()
        ),
    })
}

/// reqwest's error with its causes ("error sending request: ... Connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let c_s = c.to_string();
        if !s.contains(&c_s) {
            s = format!("{s}: {c_s}");
        }
        cur = c.source();
    }
    s
}

/// Writes through a temporary file and a rename: readers see the old file or the new.
fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_os_string();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
}

#[cfg(test)]
mod redirect_tests {
    use super::*;

    #[test]
    fn an_https_to_http_redirect_is_a_downgrade() {
        let u = |s: &str| reqwest::Url::parse(s).unwrap();
        assert!(downgrade(&u("https://a/x.zip"), &u("http://a/x.zip")));
        assert!(!downgrade(&u("https://a/x.zip"), &u("https://b/y.zip")));
        assert!(!downgrade(&u("http://a/x.zip"), &u("http://b/y.zip")));
        assert!(!downgrade(&u("http://a/x.zip"), &u("https://b/y.zip")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("knoxctl-fetch-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn sources_are_told_apart_by_scheme_name_and_signature() {
        let d = scratch("parse");
        assert_eq!(
            Source::parse("HTTPS://example.org/t.zip"),
            Source::Url("HTTPS://example.org/t.zip".into())
        );
        assert_eq!(
            Source::parse("/nope/t.zip"),
            Source::Zip("/nope/t.zip".into())
        );
        let odd = d.join("templates.bin");
        std::fs::write(&odd, b"PK\x03\x04rest").unwrap();
        assert_eq!(
            Source::parse(odd.to_str().unwrap()),
            Source::Zip(odd.clone())
        );
        assert_eq!(Source::parse(d.to_str().unwrap()), Source::Dir(d.clone()));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn unpacking_keeps_yaml_inside_and_refuses_what_is_not_a_zip() {
        let d = scratch("unpack");
        let z = d.join("t.zip");
        let mut w = zip::ZipWriter::new(std::fs::File::create(&z).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, body) in [
            ("tree-1.0/a/hsp.yaml", "kind: x\n"),
            ("tree-1.0/README.md", "no"),
            ("../escape.yaml", "kind: evil\n"),
        ] {
            w.start_file(name, opts).unwrap();
            w.write_all(body.as_bytes()).unwrap();
        }
        w.finish().unwrap();
        let tree = unpack(&z, "t.zip").unwrap();
        // The single top-level directory is the tree's root.
        assert_eq!(tree.top(), Some("tree-1.0"));
        assert_eq!(
            std::fs::read_to_string(tree.path().join("a/hsp.yaml")).unwrap(),
            "kind: x\n"
        );
        assert!(!tree.path().join("README.md").exists());
        let kept = tree.path().parent().unwrap().to_path_buf();
        assert!(!kept.parent().unwrap().join("escape.yaml").exists());
        drop(tree);
        assert!(!kept.exists(), "the temporary tree is removed");
        std::fs::write(d.join("bad.zip"), "not a zip").unwrap();
        let e = unpack(&d.join("bad.zip"), "bad.zip").err().unwrap();
        assert!(
            e.to_string().starts_with("bad.zip: not a zip archive"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn cache_keys_are_stable_and_distinct() {
        assert_eq!(key("https://a/x.zip"), key("https://a/x.zip"));
        assert_ne!(key("https://a/x.zip"), key("https://a/y.zip"));
        assert_eq!(key("").len(), 16);
    }
}
