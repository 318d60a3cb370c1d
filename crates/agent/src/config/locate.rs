//! From a field's path (`control.tokens[1].token`) to its line in the source, by
//! walking the span-carrying TOML document (as the gateway's config does), so that the
//! typed config stays free of spans.

use toml::de::{DeTable, DeValue};

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(&'static str),
    Index(usize),
}

/// The path as users write it: `control.tokens[1].token`.
pub(crate) fn display(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) if out.is_empty() => out.push_str(k),
            Seg::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The 1-based line of byte `offset`.
pub(crate) fn line_of(source: &str, offset: usize) -> usize {
    let end = offset.min(source.len());
    source.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The line of the deepest part of `path` present in `source` (0 if none is).
pub(crate) fn line_of_path(source: &str, path: &[Seg]) -> usize {
    let Ok(document) = DeTable::parse(source) else {
        return 0;
    };
    let mut start = None;
    let mut table: Option<&DeTable<'_>> = Some(document.get_ref());
    let mut array: Option<&[toml::Spanned<DeValue<'_>>]> = None;
    for seg in path {
        let value = match seg {
            Seg::Key(k) => table.and_then(|t| t.get(*k)),
            Seg::Index(i) => array.and_then(|a| a.get(*i)),
        };
        let Some(value) = value else { break };
        start = Some(value.span().start);
        table = None;
        array = None;
        match value.get_ref() {
            DeValue::Table(t) => table = Some(t),
            DeValue::Array(a) => array = Some(&a[..]),
            _ => {}
        }
    }
    start.map_or(0, |offset| line_of(source, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_fields() {
        let source = "id = \"a\"\n[control]\ntokens = [\n  { name = \"x\", token = \"1\" },\n  { name = \"y\", token = \"\" },\n]\n";
        let path = [
            Seg::Key("control"),
            Seg::Key("tokens"),
            Seg::Index(1),
            Seg::Key("token"),
        ];
        assert_eq!(line_of_path(source, &path), 5);
        assert_eq!(display(&path), "control.tokens[1].token");
    }
}
