//! "Did you mean" for field names and enum values. Users paste policies from web pages,
//! so the typical mistakes are case (`block`), a word glued to a key (`Policymetadata`),
//! a truncated key (`Version`) and ordinary typos (`recurive`).

/// Edit distance counting a swap of two neighbours as one edit (`sepc` → `spec`).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j - 1] + cost)
                .min(d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// The candidate the user most likely meant, if any is close enough to be worth saying.
pub fn suggest<'a, I>(input: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let lower = input.to_lowercase();
    let candidates: Vec<&'a str> = candidates.into_iter().collect();
    if let Some(c) = candidates.iter().find(|c| c.to_lowercase() == lower) {
        return Some(c);
    }
    // A known name glued into or cut out of the input; the longest such name is the most
    // specific (`Policymetadata` → `metadata`, `Version` → `apiVersion`).
    let contained = candidates
        .iter()
        .filter(|c| c.len() >= 4 && lower.len() >= 4)
        .filter(|c| {
            let c = c.to_lowercase();
            lower.contains(&c) || c.contains(&lower)
        })
        .max_by_key(|c| c.len());
    if let Some(c) = contained {
        return Some(c);
    }
    let limit = (input.chars().count() / 3).clamp(1, 3);
    // Long inputs are no typo of a short name, and distance is quadratic in length.
    if input.len() > 64 {
        return None;
    }
    candidates
        .iter()
        .filter(|c| c.chars().count().abs_diff(input.chars().count()) <= limit)
        .map(|c| (distance(&lower, &c.to_lowercase()), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::suggest;

    #[test]
    fn common_mistakes() {
        let top = ["apiVersion", "kind", "metadata", "spec", "status"];
        assert_eq!(suggest("Policymetadata", top), Some("metadata"));
        assert_eq!(suggest("Version", top), Some("apiVersion"));
        assert_eq!(suggest("sepc", top), Some("spec"));
        assert_eq!(suggest("block", ["Allow", "Audit", "Block"]), Some("Block"));
        assert_eq!(
            suggest("recurive", ["recursive", "readOnly", "dir"]),
            Some("recursive")
        );
        assert_eq!(suggest("zzzzzz", top), None);
    }
}
