//! The adapter between the JSON of new services and a legacy upstream's formats:
//! JSON → XML and XML → JSON with a field mapping, and JSON → form encoding. Pure.
//!
//! XML carries no types, so text that reads back as the same JSON number or boolean
//! (`7`, `2.5`, `true`) becomes one and everything else stays a string (`"01234"`).
//! An empty element is `null`; repeated elements are an array.

use std::collections::BTreeMap;

use quick_xml::Reader;
use quick_xml::Writer;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use serde_json::{Map, Value};

/// A body that cannot be translated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot translate the body: {0}")]
pub struct AdaptError(pub String);

fn fail(reason: impl Into<String>) -> AdaptError {
    AdaptError(reason.into())
}

/// Writes a JSON object as `<root>` with one element per field, renamed by `fields`.
pub fn json_to_xml(
    root: &str,
    fields: &BTreeMap<String, String>,
    json: &Value,
) -> Result<String, AdaptError> {
    let Value::Object(object) = json else {
        return Err(fail("the JSON body must be an object"));
    };
    let mut writer = Writer::new(Vec::new());
    write_object(&mut writer, root, fields, object)?;
    String::from_utf8(writer.into_inner()).map_err(|e| fail(e.to_string()))
}

fn write_object(
    writer: &mut Writer<Vec<u8>>,
    name: &str,
    fields: &BTreeMap<String, String>,
    object: &Map<String, Value>,
) -> Result<(), AdaptError> {
    start(writer, name)?;
    for (key, value) in object {
        let element = fields.get(key).map_or(key.as_str(), String::as_str);
        write_value(writer, element, fields, value)?;
    }
    end(writer, name)
}

fn write_value(
    writer: &mut Writer<Vec<u8>>,
    name: &str,
    fields: &BTreeMap<String, String>,
    value: &Value,
) -> Result<(), AdaptError> {
    match value {
        Value::Object(object) => write_object(writer, name, fields, object),
        Value::Array(items) => items
            .iter()
            .try_for_each(|item| write_value(writer, name, fields, item)),
        Value::Null => {
            check_name(name)?;
            writer
                .write_event(Event::Empty(BytesStart::new(name)))
                .map_err(|e| fail(e.to_string()))
        }
        Value::String(text) => text_element(writer, name, text),
        other => text_element(writer, name, &other.to_string()),
    }
}

fn text_element(writer: &mut Writer<Vec<u8>>, name: &str, text: &str) -> Result<(), AdaptError> {
    start(writer, name)?;
    writer
        .write_event(Event::Text(BytesText::new(text)))
        .map_err(|e| fail(e.to_string()))?;
    end(writer, name)
}

fn start(writer: &mut Writer<Vec<u8>>, name: &str) -> Result<(), AdaptError> {
    check_name(name)?;
    writer
        .write_event(Event::Start(BytesStart::new(name)))
        .map_err(|e| fail(e.to_string()))
}

fn end(writer: &mut Writer<Vec<u8>>, name: &str) -> Result<(), AdaptError> {
    writer
        .write_event(Event::End(BytesEnd::new(name)))
        .map_err(|e| fail(e.to_string()))
}

/// A JSON key that is not a usable XML name would produce broken XML: refuse it.
fn check_name(name: &str) -> Result<(), AdaptError> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(fail(format!("{name:?} is not an XML element name")))
    }
}

/// Reads an XML document into a JSON object of its root's children, with names mapped
/// back through `fields` (upstream name → JSON name).
pub fn xml_to_json(fields: &BTreeMap<String, String>, xml: &str) -> Result<Value, AdaptError> {
    let reverse: BTreeMap<&str, &str> = fields
        .iter()
        .map(|(json, xml)| (xml.as_str(), json.as_str()))
        .collect();
    // Text is kept as written (trimming would eat the spaces around `&amp;`); the
    // whitespace between elements is dropped when the element closes.
    let mut reader = Reader::from_str(xml);
    // A stack of open elements: name, child fields, text.
    let mut stack: Vec<(String, Map<String, Value>, String)> = Vec::new();
    let mut root: Option<Value> = None;
    loop {
        let event = reader.read_event().map_err(|e| fail(e.to_string()))?;
        match event {
            Event::Start(start) => {
                let name = start.local_name().as_ref().to_owned();
                stack.push((name, Map::new(), String::new()));
            }
            Event::Empty(start) => {
                let name = start.local_name().as_ref().to_owned();
                close(
                    &mut stack,
                    &mut root,
                    &reverse,
                    name,
                    Map::new(),
                    String::new(),
                );
            }
            Event::Text(text) => {
                if let Some(top) = stack.last_mut() {
                    top.2.push_str(&text.xml10_content());
                }
            }
            Event::CData(data) => {
                if let Some(top) = stack.last_mut() {
                    top.2.push_str(&data.xml10_content());
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => {
                        let name = reference.xml10_content();
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| fail(format!("unknown entity &{name};")))?
                            .to_owned()
                    }
                };
                if let Some(top) = stack.last_mut() {
                    top.2.push_str(&resolved);
                }
            }
            Event::End(_) => {
                let (name, children, text) =
                    stack.pop().ok_or_else(|| fail("unbalanced end tag"))?;
                close(&mut stack, &mut root, &reverse, name, children, text);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(fail("the document ends inside an element"));
    }
    match root {
        Some(Value::Object(object)) => Ok(Value::Object(object)),
        Some(Value::Null) => Ok(Value::Object(Map::new())),
        Some(_) => Err(fail("the root element holds text, not fields")),
        None => Err(fail("no root element")),
    }
}

fn close(
    stack: &mut [(String, Map<String, Value>, String)],
    root: &mut Option<Value>,
    reverse: &BTreeMap<&str, &str>,
    name: String,
    children: Map<String, Value>,
    text: String,
) {
    let value = if !children.is_empty() {
        Value::Object(children)
    } else if text.trim().is_empty() {
        Value::Null
    } else {
        scalar(text)
    };
    let Some(parent) = stack.last_mut() else {
        *root = Some(value);
        return;
    };
    let key = reverse
        .get(name.as_str())
        .map_or(name.clone(), |json| (*json).to_owned());
    match parent.1.get_mut(&key) {
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
        None => {
            parent.1.insert(key, value);
        }
    }
}

/// Text as a number or boolean when it prints back the same, else a string.
fn scalar(text: String) -> Value {
    if text == "true" || text == "false" {
        return Value::Bool(text == "true");
    }
    if let Ok(number) = text.parse::<serde_json::Number>()
        && number.to_string() == text
    {
        return Value::Number(number);
    }
    Value::String(text)
}

/// Encodes a flat JSON object as `application/x-www-form-urlencoded`, names mapped by
/// `fields`; nested values are sent as their JSON text, `null` as empty.
pub fn json_to_form(fields: &BTreeMap<String, String>, json: &Value) -> Result<String, AdaptError> {
    let Value::Object(object) = json else {
        return Err(fail("the JSON body must be an object"));
    };
    let pairs: Vec<(&str, String)> = object
        .iter()
        .map(|(key, value)| {
            let name = fields.get(key).map_or(key.as_str(), String::as_str);
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (name, text)
        })
        .collect();
    serde_urlencoded::to_string(pairs).map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mapping() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("id".to_owned(), "ProductId".to_owned()),
            ("name".to_owned(), "Title".to_owned()),
        ])
    }

    #[test]
    fn json_goes_to_xml_with_names_mapped_and_text_escaped() {
        let xml = json_to_xml(
            "Product",
            &mapping(),
            &json!({"id": 7, "name": "Tea & <cake>"}),
        )
        .unwrap();
        assert_eq!(
            xml,
            "<Product><ProductId>7</ProductId><Title>Tea &amp; &lt;cake&gt;</Title></Product>"
        );
    }

    #[test]
    fn xml_comes_back_as_the_same_json() {
        let original = json!({
            "id": 7, "name": "Tea & <cake>", "zip": "01234", "tags": ["a", "b"],
            "stock": {"count": 3, "on_order": false}, "note": null
        });
        let xml = json_to_xml("Product", &mapping(), &original).unwrap();
        assert_eq!(xml_to_json(&mapping(), &xml).unwrap(), original);
    }

    #[test]
    fn numeric_entities_and_cdata_are_read() {
        let xml = "<r><a>&#65;&#x42;</a><b><![CDATA[<x>]]></b></r>";
        assert_eq!(
            xml_to_json(&BTreeMap::new(), xml).unwrap(),
            json!({"a": "AB", "b": "<x>"})
        );
    }

    #[test]
    fn broken_xml_and_bad_names_are_errors() {
        assert!(xml_to_json(&BTreeMap::new(), "<r><a></r>").is_err());
        assert!(json_to_xml("r", &BTreeMap::new(), &json!({"1bad": 1})).is_err());
        assert!(json_to_xml("r", &BTreeMap::new(), &json!([1])).is_err());
    }

    #[test]
    fn json_goes_to_a_form() {
        let form = json_to_form(&mapping(), &json!({"id": 7, "name": "a b&c", "x": null})).unwrap();
        assert_eq!(form, "ProductId=7&Title=a+b%26c&x=");
    }
}
