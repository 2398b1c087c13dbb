//! What knoxctl never shows: the credentials of URLs (`https://user:pass@host/...`), in
//! notes, errors, sysdumps and anything else that ends up in logs and bug reports.

/// `text` with the credentials of every URL in it (`https://user:pass@host/...`) replaced
/// by `***`: notes and errors are printed and end up in logs and bug reports.
pub fn url_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(['/', '?', '#', ' ', ')', '"', '\'', '\n'])
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(at) => {
                out.push_str("***");
                rest = &tail[at..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_printed_without_their_credentials() {
        assert_eq!(
            url_credentials("could not download https://me:s3cret@example.org/t.zip (x)"),
            "could not download https://***@example.org/t.zip (x)"
        );
        assert_eq!(
            url_credentials("error sending request for url (http://tok@127.0.0.1:9/a.zip)"),
            "error sending request for url (http://***@127.0.0.1:9/a.zip)"
        );
        assert_eq!(
            url_credentials("https://example.org/a@b.zip and http://h:1?u=a@b"),
            "https://example.org/a@b.zip and http://h:1?u=a@b"
        );
    }
}
