//! From a field's path (`route[2].cluster`) to its line in the source, by walking the
//! span-carrying TOML document: the typed config stays free of spans. The agent's own
//! config reports its errors the same way.

use std::fmt;

use toml::de::{DeTable, DeValue};

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(&'static str),
    Owned(String),
    Index(usize),
}

/// A path into the document, printed the way users write it: `route[2].split.new`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPath(pub Vec<Seg>);

impl FieldPath {
    pub fn key(&self, key: &'static str) -> FieldPath {
        let mut next = self.clone();
        next.0.push(Seg::Key(key));
        next
    }

    pub fn owned(&self, key: &str) -> FieldPath {
        let mut next = self.clone();
        next.0.push(Seg::Owned(key.to_owned()));
        next
    }

    pub fn index(&self, index: usize) -> FieldPath {
        let mut next = self.clone();
        next.0.push(Seg::Index(index));
        next
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Owned(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Owned(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// The 1-based line of byte `offset`.
pub fn line_of(source: &str, offset: usize) -> usize {
    let end = offset.min(source.len());
    source.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The line of the deepest part of `path` found in `source` (0 if none is).
pub fn line_of_path(source: &str, path: &FieldPath) -> usize {
    let Ok(document) = DeTable::parse(source) else {
        return 0;
    };
    let mut start = None;
    let mut table: Option<&DeTable<'_>> = Some(document.get_ref());
    let mut array: Option<&[toml::Spanned<DeValue<'_>>]> = None;
    for seg in &path.0 {
        let value = match seg {
            Seg::Key(k) => table.and_then(|t| t.get(*k)),
            Seg::Owned(k) => table.and_then(|t| t.get(k.as_str())),
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
    fn finds_the_line_of_a_nested_field() {
        let source = "listeners = []\n\n[[route]]\nname = \"a\"\n\n[[route]]\nname = \"b\"\ncluster = \"x\"\n";
        let path = FieldPath::default().key("route").index(1).key("cluster");
        assert_eq!(line_of_path(source, &path), 8);
        assert_eq!(path.to_string(), "route[1].cluster");
    }

    #[test]
    fn finds_fields_inside_inline_arrays() {
        let source = "id = \"a\"\n[control]\ntokens = [\n  { name = \"x\", token = \"1\" },\n  { name = \"y\", token = \"\" },\n]\n";
        let path = FieldPath::default()
            .key("control")
            .key("tokens")
            .index(1)
            .key("token");
        assert_eq!(line_of_path(source, &path), 5);
        assert_eq!(path.to_string(), "control.tokens[1].token");
    }

    #[test]
    fn stops_at_the_deepest_part_found() {
        let source = "[[route]]\nname = \"a\"\n";
        let path = FieldPath::default().key("route").index(0).key("cluster");
        assert_eq!(line_of_path(source, &path), 1);
    }
}
