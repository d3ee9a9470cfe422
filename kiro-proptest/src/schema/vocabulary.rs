//! The keywords of drafts 7 and 2020-12: draft detection and the walk that
//! refuses unknown keywords and formats before anything is generated.
//!
//! The canonicaliser ignores keywords it does not know, as a validator must;
//! a generator must not, because an ignored constraint (a misspelt
//! `maxLenght`, a draft-7 `dependencies` in a 2020-12 schema) silently widens
//! the values it makes.

use serde_json::{Map, Value};

use super::{Draft, SchemaError};

/// How a keyword's value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// One subschema.
    Schema,
    /// An array of subschemas.
    Schemas,
    /// An object whose values are subschemas.
    SchemaMap,
    /// Draft 7 `items`: a subschema or an array of them.
    SchemaOrSchemas,
    /// Draft 7 `dependencies`: values are subschemas or arrays of names.
    Dependencies,
    /// `format`: a name the generator must know.
    Format,
    /// `pattern`: an ECMA-262 regular expression.
    Pattern,
    /// `patternProperties`: a map from patterns to subschemas.
    PatternMap,
    /// Anything else the draft defines (assertions, annotations, identifiers).
    Data,
}

/// The shape of `keyword` in `draft`, `None` when the draft does not define it.
fn shape(keyword: &str, draft: Draft) -> Option<Shape> {
    let common = match keyword {
        "not" | "if" | "then" | "else" | "contains" | "additionalProperties" | "propertyNames" => {
            Shape::Schema
        }
        "allOf" | "anyOf" | "oneOf" => Shape::Schemas,
        // Containers of subschemas are accepted in both drafts: they assert
        // nothing, and `$ref` pointers into either work in both.
        "properties" | "definitions" | "$defs" => Shape::SchemaMap,
        "patternProperties" => Shape::PatternMap,
        "format" => Shape::Format,
        "pattern" => Shape::Pattern,
        "$schema" | "$id" | "$ref" | "$comment" | "title" | "description" | "default"
        | "examples" | "readOnly" | "writeOnly" | "type" | "enum" | "const" | "multipleOf"
        | "maximum" | "exclusiveMaximum" | "minimum" | "exclusiveMinimum" | "maxLength"
        | "minLength" | "maxItems" | "minItems" | "uniqueItems" | "maxProperties"
        | "minProperties" | "required" | "contentMediaType" | "contentEncoding" => Shape::Data,
        _ => return draft_specific(keyword, draft),
    };
    Some(common)
}

fn draft_specific(keyword: &str, draft: Draft) -> Option<Shape> {
    match draft {
        Draft::Draft7 => match keyword {
            "items" => Some(Shape::SchemaOrSchemas),
            "additionalItems" => Some(Shape::Schema),
            "dependencies" => Some(Shape::Dependencies),
            _ => None,
        },
        Draft::Draft202012 => match keyword {
            "items" | "unevaluatedItems" | "unevaluatedProperties" | "contentSchema" => {
                Some(Shape::Schema)
            }
            "prefixItems" => Some(Shape::Schemas),
            "dependentSchemas" => Some(Shape::SchemaMap),
            "$anchor" | "$dynamicAnchor" | "$dynamicRef" | "$vocabulary" | "deprecated"
            | "maxContains" | "minContains" | "dependentRequired" => Some(Shape::Data),
            _ => None,
        },
    }
}

/// The formats [`super::format`] generates.
pub(super) const FORMATS: &[&str] = &[
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uri-template",
    "uuid",
    "json-pointer",
    "relative-json-pointer",
    "regex",
];

/// The draft `schema` is read as: `forced` if given, else its `$schema`
/// (a custom meta-schema registered in `resources` counts as the draft it is
/// written in, its vocabularies left to the canonicaliser), else 2020-12.
pub(super) fn draft_of(
    schema: &Value,
    forced: Option<Draft>,
    resources: &[(String, Value)],
) -> Result<Draft, SchemaError> {
    if let Some(draft) = forced {
        return Ok(draft);
    }
    let Some(uri) = schema.get("$schema") else {
        return Ok(Draft::Draft202012);
    };
    let Some(text) = uri.as_str() else {
        return Err(SchemaError::Invalid {
            pointer: "/$schema".into(),
            message: format!("`$schema` must be a URI string, found {uri}"),
        });
    };
    if let Some(draft) = known_draft(text) {
        return Ok(draft);
    }
    let bare = text.trim_end_matches('#');
    resources
        .iter()
        .find(|(u, _)| u.trim_end_matches('#') == bare)
        .and_then(|(_, meta)| meta.get("$schema")?.as_str().and_then(known_draft))
        .ok_or_else(|| SchemaError::UnsupportedDraft { uri: text.into() })
}

fn known_draft(uri: &str) -> Option<Draft> {
    let bare = uri.trim_end_matches('#');
    let bare = bare
        .strip_prefix("https://")
        .or_else(|| bare.strip_prefix("http://"));
    match bare {
        Some("json-schema.org/draft-07/schema") => Some(Draft::Draft7),
        Some("json-schema.org/draft/2020-12/schema") => Some(Draft::Draft202012),
        _ => None,
    }
}

/// Checks every keyword of `schema` (and of every subschema, `$defs`
/// included) against `draft`.
pub(super) fn check(schema: &Value, draft: Draft) -> Result<(), SchemaError> {
    let mut pointer = String::new();
    walk(schema, draft, &mut pointer)
}

fn walk(schema: &Value, draft: Draft, pointer: &mut String) -> Result<(), SchemaError> {
    match schema {
        Value::Bool(_) => Ok(()),
        Value::Object(map) => walk_object(map, draft, pointer),
        other => Err(SchemaError::Invalid {
            pointer: pointer.clone(),
            message: format!("a schema is an object or a boolean, found {other}"),
        }),
    }
}

fn walk_object(
    map: &Map<String, Value>,
    draft: Draft,
    pointer: &mut String,
) -> Result<(), SchemaError> {
    for (keyword, value) in map {
        // OpenAPI-style extensions are annotations by convention.
        if keyword.starts_with("x-") {
            continue;
        }
        let Some(shape) = shape(keyword, draft) else {
            return Err(SchemaError::UnknownKeyword {
                keyword: keyword.clone(),
                pointer: pointer.clone(),
                draft,
            });
        };
        let mark = pointer.len();
        push(pointer, keyword);
        let checked = check_value(shape, value, draft, pointer);
        pointer.truncate(mark);
        checked?;
    }
    Ok(())
}

fn check_value(
    shape: Shape,
    value: &Value,
    draft: Draft,
    pointer: &mut String,
) -> Result<(), SchemaError> {
    match (shape, value) {
        (Shape::Schema, _) => walk(value, draft, pointer),
        (Shape::Schemas | Shape::SchemaOrSchemas, Value::Array(items)) => each(
            items.iter().enumerate().map(|(i, v)| (i.to_string(), v)),
            draft,
            pointer,
        ),
        (Shape::SchemaOrSchemas, _) => walk(value, draft, pointer),
        (Shape::SchemaMap | Shape::PatternMap, Value::Object(map)) => {
            each(map.iter().map(|(k, v)| (k.clone(), v)), draft, pointer)
        }
        (Shape::Dependencies, Value::Object(map)) => each(
            map.iter()
                .filter(|(_, v)| !v.is_array())
                .map(|(k, v)| (k.clone(), v)),
            draft,
            pointer,
        ),
        (Shape::Format, Value::String(name)) => {
            if FORMATS.contains(&name.as_str()) {
                Ok(())
            } else {
                Err(SchemaError::Unsupported {
                    keyword: "format".into(),
                    pointer: parent(pointer),
                    reason: format!("unknown format `{name}`; known: {}", FORMATS.join(", ")),
                })
            }
        }
        (Shape::Pattern, Value::String(_)) | (Shape::Data, _) => Ok(()),
        (shape, other) => Err(SchemaError::Invalid {
            pointer: pointer.clone(),
            message: format!("expected {}, found {other}", expected(shape)),
        }),
    }
}

fn each<'a>(
    children: impl Iterator<Item = (String, &'a Value)>,
    draft: Draft,
    pointer: &mut String,
) -> Result<(), SchemaError> {
    for (token, child) in children {
        let mark = pointer.len();
        push(pointer, &token);
        let checked = walk(child, draft, pointer);
        pointer.truncate(mark);
        checked?;
    }
    Ok(())
}

fn expected(shape: Shape) -> &'static str {
    match shape {
        Shape::Schema => "a schema",
        Shape::Schemas => "an array of schemas",
        Shape::SchemaOrSchemas => "a schema or an array of schemas",
        Shape::SchemaMap | Shape::PatternMap | Shape::Dependencies => "an object of schemas",
        Shape::Format => "a format name",
        Shape::Pattern => "a regular expression string",
        Shape::Data => "a value",
    }
}

/// Appends one reference token, escaped (`~` → `~0`, `/` → `~1`).
pub(super) fn push(pointer: &mut String, token: &str) {
    pointer.push('/');
    for c in token.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// The pointer without its last token.
fn parent(pointer: &str) -> String {
    pointer
        .rfind('/')
        .map_or_else(String::new, |i| pointer[..i].to_owned())
}

/// The pointer of the first schema object in `schema` whose `keyword` is
/// `value` (or, for `patternProperties`, has `value` as a key), so an error
/// found in the canonical form can name where the user wrote it.
pub(super) fn locate(schema: &Value, keyword: &str, value: &Value) -> Option<String> {
    fn go(node: &Value, keyword: &str, value: &Value, pointer: &mut String) -> bool {
        match node {
            Value::Object(map) => {
                match map.get(keyword) {
                    Some(found) if found == value => return true,
                    Some(Value::Object(keys))
                        if value.as_str().is_some_and(|k| keys.contains_key(k)) =>
                    {
                        return true
                    }
                    _ => {}
                }
                for (key, child) in map {
                    let mark = pointer.len();
                    push(pointer, key);
                    if go(child, keyword, value, pointer) {
                        return true;
                    }
                    pointer.truncate(mark);
                }
                false
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    let mark = pointer.len();
                    push(pointer, &i.to_string());
                    if go(child, keyword, value, pointer) {
                        return true;
                    }
                    pointer.truncate(mark);
                }
                false
            }
            _ => false,
        }
    }
    let mut pointer = String::new();
    go(schema, keyword, value, &mut pointer).then_some(pointer)
}

/// Removes `keywords` from every schema object of `schema` (data such as
/// `const` and `enum` untouched); whether any was removed.
pub(super) fn strip(schema: &mut Value, keywords: &[&str], draft: Draft) -> bool {
    let Value::Object(map) = schema else {
        return false;
    };
    let mut removed = false;
    for keyword in keywords {
        removed |= map.remove(*keyword).is_some();
    }
    for (keyword, value) in map.iter_mut() {
        let children: Vec<&mut Value> = match (shape(keyword, draft), value) {
            (Some(Shape::Schema), v) => vec![v],
            (Some(Shape::Schemas | Shape::SchemaOrSchemas), Value::Array(items)) => {
                items.iter_mut().collect()
            }
            (Some(Shape::SchemaOrSchemas), v) => vec![v],
            (
                Some(Shape::SchemaMap | Shape::PatternMap | Shape::Dependencies),
                Value::Object(m),
            ) => m.values_mut().collect(),
            _ => Vec::new(),
        };
        for child in children {
            removed |= strip(child, keywords, draft);
        }
    }
    removed
}

/// The pointer of the first schema object in `schema` that has `keyword`.
pub(super) fn locate_keyword(schema: &Value, keyword: &str) -> Option<String> {
    fn go(node: &Value, keyword: &str, pointer: &mut String) -> bool {
        let children: Vec<(String, &Value)> = match node {
            Value::Object(map) if map.contains_key(keyword) => return true,
            Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect(),
            _ => return false,
        };
        for (token, child) in children {
            let mark = pointer.len();
            push(pointer, &token);
            if go(child, keyword, pointer) {
                return true;
            }
            pointer.truncate(mark);
        }
        false
    }
    let mut pointer = String::new();
    go(schema, keyword, &mut pointer).then_some(pointer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check_error(schema: Value, draft: Draft, expected: Option<&str>) {
        let found = check(&schema, draft).err().map(|e| e.to_string());
        match expected {
            None => assert_eq!(found, None, "{schema}"),
            Some(part) => assert!(
                found.as_deref().is_some_and(|f| f.contains(part)),
                "{schema}: expected an error containing {part:?}, got {found:?}"
            ),
        }
    }

    #[test]
    fn keywords_are_checked_per_draft_with_their_pointer() {
        use Draft::{Draft202012 as D2020, Draft7 as D7};
        check_error(
            json!({"type": "string", "maxLength": 3, "title": "t", "x-note": 1}),
            D2020,
            None,
        );
        check_error(
            json!({"maxLenght": 3}),
            D2020,
            Some("unknown keyword `maxLenght` at #"),
        );
        check_error(
            json!({"properties": {"a/b": {"items": {"minimum": 1, "bogus": true}}}}),
            D2020,
            Some("`bogus` at #/properties/a~1b/items"),
        );
        check_error(
            json!({"dependencies": {"a": ["b"]}}),
            D2020,
            Some("unknown keyword `dependencies`"),
        );
        check_error(
            json!({"dependencies": {"a": ["b"], "c": {"minProperties": 2}}}),
            D7,
            None,
        );
        check_error(
            json!({"prefixItems": [true]}),
            D7,
            Some("unknown keyword `prefixItems`"),
        );
        check_error(
            json!({"items": [true, {"type": "null"}], "additionalItems": false}),
            D7,
            None,
        );
        check_error(
            json!({"items": [true]}),
            D2020,
            Some("invalid schema at #/items: a schema is an object or a boolean"),
        );
        check_error(
            json!({"$defs": {"x": {"format": "phone"}}}),
            D2020,
            Some("unknown format `phone`; known"),
        );
        check_error(
            json!({"$defs": {"x": {"format": "phone"}}}),
            D2020,
            Some("at #/$defs/x:"),
        );
        check_error(json!({"not": 3}), D2020, Some("invalid schema at #/not"));
        check_error(
            json!({"enum": [{"bogus": 1}], "const": {"maxLenght": 1}, "default": {"x": 1}}),
            D2020,
            None,
        );
    }

    #[test]
    fn the_draft_comes_from_schema_then_defaults_to_2020_12() {
        let draft = |v: Value| draft_of(&v, None, &[]).map_err(|e| e.to_string());
        assert_eq!(
            draft(json!({"$schema": "http://json-schema.org/draft-07/schema#"})),
            Ok(Draft::Draft7)
        );
        assert_eq!(
            draft(json!({"$schema": "https://json-schema.org/draft-07/schema"})),
            Ok(Draft::Draft7)
        );
        assert_eq!(
            draft(json!({"$schema": "https://json-schema.org/draft/2020-12/schema"})),
            Ok(Draft::Draft202012)
        );
        assert_eq!(draft(json!({})), Ok(Draft::Draft202012));
        assert_eq!(draft(json!(true)), Ok(Draft::Draft202012));
        assert!(
            draft(json!({"$schema": "http://json-schema.org/draft-04/schema#"}))
                .is_err_and(|e| e.contains("unsupported `$schema`"))
        );
        assert_eq!(
            draft_of(
                &json!({"$schema": "http://json-schema.org/draft-04/schema#"}),
                Some(Draft::Draft7),
                &[]
            ),
            Ok(Draft::Draft7)
        );
    }

    #[test]
    fn strip_removes_keywords_from_schemas_only() {
        let mut schema = json!({
            "unevaluatedItems": false,
            "allOf": [{"unevaluatedItems": {"type": "string"}, "minItems": 1}],
            "const": {"unevaluatedItems": 1}
        });
        assert!(strip(
            &mut schema,
            &["unevaluatedItems"],
            Draft::Draft202012
        ));
        assert_eq!(
            schema,
            json!({"allOf": [{"minItems": 1}], "const": {"unevaluatedItems": 1}})
        );
        assert!(!strip(
            &mut schema,
            &["unevaluatedItems"],
            Draft::Draft202012
        ));
    }

    #[test]
    fn a_registered_meta_schema_counts_as_its_own_draft() {
        let meta = json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "http://example.com/meta"});
        let resources = [("http://example.com/meta".to_owned(), meta)];
        let schema = json!({"$schema": "http://example.com/meta#"});
        assert_eq!(draft_of(&schema, None, &resources), Ok(Draft::Draft202012));
        assert!(draft_of(&schema, None, &[]).is_err());
    }

    #[test]
    fn locate_finds_where_a_keyword_was_written() {
        let schema = json!({"properties": {"a": {"allOf": [{"pattern": "x(?=y)"}]}, "b": {"patternProperties": {"^k": true}}}});
        assert_eq!(
            locate(&schema, "pattern", &json!("x(?=y)")).as_deref(),
            Some("/properties/a/allOf/0")
        );
        assert_eq!(
            locate(&schema, "patternProperties", &json!("^k")).as_deref(),
            Some("/properties/b")
        );
        assert_eq!(locate(&schema, "pattern", &json!("zzz")), None);
    }
}
