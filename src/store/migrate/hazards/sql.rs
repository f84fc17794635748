//! A small SQL tokenizer: enough to find verbs, names and top-level clauses, never to run SQL.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Word { text: String, quoted: bool },
    Str,
    Punct(char),
}

impl Tok {
    pub(super) fn is(&self, kw: &str) -> bool {
        matches!(self, Tok::Word { text, quoted: false } if text == kw)
    }
    pub(super) fn name(&self) -> Option<&str> {
        match self {
            Tok::Word { text, .. } => Some(text),
            _ => None,
        }
    }
}

/// Splits SQL into tokens with their byte spans; unquoted words are lower-cased (as PostgreSQL
/// folds them), string literals are opaque so a 'where' inside one is not a WHERE.
pub(super) fn tokenize(sql: &str) -> Vec<(Tok, usize, usize)> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'\'' || c == b'"' || c == b'`' {
            i += 1;
            while i < b.len() {
                if b[i] == c {
                    if b.get(i + 1) == Some(&c) {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            let end = (i + 1).min(b.len());
            let tok = if c == b'\'' {
                Tok::Str
            } else {
                Tok::Word {
                    text: sql[start + 1..i.min(b.len())].replace("\"\"", "\""),
                    quoted: true,
                }
            };
            out.push((tok, start, end));
            i = end;
        } else if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80) {
                i += 1;
            }
            out.push((
                Tok::Word {
                    text: sql[start..i].to_ascii_lowercase(),
                    quoted: false,
                },
                start,
                i,
            ));
        } else {
            out.push((Tok::Punct(c as char), start, i + 1));
            i += 1;
        }
    }
    out
}

/// `name` or `schema.name` at `j`: the last part, and the index after it.
pub(super) fn qualified_name(t: &[Tok], mut j: usize) -> Option<(String, usize)> {
    let mut name = t.get(j)?.name()?.to_owned();
    j += 1;
    while t.get(j) == Some(&Tok::Punct('.')) {
        name = t.get(j + 1)?.name()?.to_owned();
        j += 2;
    }
    Some((name, j))
}

pub(super) fn has_top_level(t: &[Tok], kw: &str) -> bool {
    let mut depth = 0i32;
    t.iter().any(|x| {
        match x {
            Tok::Punct('(') => depth += 1,
            Tok::Punct(')') => depth -= 1,
            _ => {}
        }
        depth == 0 && x.is(kw)
    })
}

pub(super) fn split_top_level(t: &[Tok]) -> Vec<&[Tok]> {
    let mut depth = 0i32;
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, x) in t.iter().enumerate() {
        match x {
            Tok::Punct('(') => depth += 1,
            Tok::Punct(')') => depth -= 1,
            Tok::Punct(',') if depth == 0 => {
                parts.push(&t[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&t[start..]);
    parts
}

pub(super) fn skip_to_top_level_verb(t: &[Tok]) -> usize {
    let mut depth = 0i32;
    for (i, x) in t.iter().enumerate() {
        match x {
            Tok::Punct('(') => depth += 1,
            Tok::Punct(')') => depth -= 1,
            _ if depth == 0 && (x.is("delete") || x.is("update") || x.is("insert")) => return i,
            _ => {}
        }
    }
    0
}
