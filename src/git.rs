//! Git values parsed once at the edge: object ids and branch names.
use std::fmt;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GitValueError {
    #[error("{0:?} is not a git object id (40 or 64 hex digits)")]
    Sha(String),
    #[error("{0:?} is not a valid branch name")]
    Branch(String),
}

/// A git object id: 40 hex digits (SHA-1) or 64 (SHA-256 repositories), stored lowercase.
/// A column of this type reads back what was stored, unvalidated: only parsed values are written.
#[derive(
    Clone,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    sea_orm::DeriveValueType,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Sha(String);

impl TryFrom<String> for Sha {
    type Error = GitValueError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

/// Read-only: a sha is shown, sliced and compared as the text it is.
impl std::ops::Deref for Sha {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<Sha> for String {
    fn from(sha: Sha) -> Self {
        sha.0
    }
}

impl Sha {
    pub fn parse(raw: &str) -> Result<Self, GitValueError> {
        let ok = matches!(raw.len(), 40 | 64) && raw.bytes().all(|b| b.is_ascii_hexdigit());
        if ok {
            Ok(Self(raw.to_ascii_lowercase()))
        } else {
            Err(GitValueError::Sha(raw.chars().take(80).collect()))
        }
    }

    /// GitHub's all-zero sha: the `before` of a created branch, the `after` of a deleted one.
    pub fn is_zero(&self) -> bool {
        self.0.bytes().all(|b| b == b'0')
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// In the OpenAPI document: a string of 40 or 64 lowercase hex digits.
impl utoipa::PartialSchema for Sha {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^([0-9a-f]{40}|[0-9a-f]{64})$"))
            .description(Some("A git object id"))
            .into()
    }
}

impl utoipa::ToSchema for Sha {}

impl fmt::Display for Sha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Sha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha({})", &self.0)
    }
}

/// A branch name as git allows it (the rules of `git check-ref-format --branch`, simplified to
/// what matters for safety: no control characters, no `..`, no leading `-` or `/`).
/// Like `Sha`, a column of this type reads back what was stored: only parsed names are written.
#[derive(
    Clone,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    sea_orm::DeriveValueType,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct BranchName(String);

impl TryFrom<String> for BranchName {
    type Error = GitValueError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<BranchName> for String {
    fn from(b: BranchName) -> Self {
        b.0
    }
}

/// Read-only: a branch name is shown, joined into paths and compared as the text it is.
impl std::ops::Deref for BranchName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for BranchName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for BranchName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// In the OpenAPI document: a string.
impl utoipa::PartialSchema for BranchName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("A git branch name"))
            .into()
    }
}

impl utoipa::ToSchema for BranchName {}

impl BranchName {
    pub fn parse(raw: &str) -> Result<Self, GitValueError> {
        let bad = raw.is_empty()
            || raw.len() > 255
            || raw.starts_with(['-', '/', '.'])
            || raw.ends_with(['/', '.'])
            || raw.ends_with(".lock")
            || raw.contains("..")
            || raw.contains("//")
            || raw.contains("@{")
            || raw == "@"
            || raw.chars().any(|c| {
                c.is_control() || matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\')
            });
        if bad {
            Err(GitValueError::Branch(raw.chars().take(80).collect()))
        } else {
            Ok(Self(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A name read from a column that holds only parsed names (as a `BranchName` column reads).
    pub(crate) fn stored(name: String) -> Self {
        Self(name)
    }
}

impl fmt::Display for BranchName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for BranchName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BranchName({})", &self.0)
    }
}

/// One entry of a project's branch selection: a branch name, or a glob pattern such as
/// `release/*` (`*` and `?` stay within one path segment, `**` crosses them).
#[derive(Clone, Debug)]
pub enum Selector {
    Branch(BranchName),
    Pattern {
        pattern: String,
        matcher: globset::GlobMatcher,
    },
}

impl PartialEq for Selector {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Selector {
    pub fn parse(raw: &str) -> Result<Self, GitValueError> {
        let raw = raw.trim();
        if !raw.contains(['*', '?', '[']) {
            return BranchName::parse(raw).map(Self::Branch);
        }
        // The pattern must be a valid branch name once its wildcards are taken out.
        let literal: String = raw
            .chars()
            .filter(|c| !matches!(c, '*' | '?' | '[' | ']'))
            .collect();
        let literal_ok = literal.is_empty()
            || BranchName::parse(literal.trim_matches('/')).is_ok()
            || literal == "/";
        let glob = globset::GlobBuilder::new(raw)
            .literal_separator(true)
            .build();
        match (literal_ok && raw.len() <= 255, glob) {
            (true, Ok(glob)) => Ok(Self::Pattern {
                pattern: raw.to_owned(),
                matcher: glob.compile_matcher(),
            }),
            _ => Err(GitValueError::Branch(raw.chars().take(80).collect())),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Branch(b) => b.as_str(),
            Self::Pattern { pattern, .. } => pattern,
        }
    }

    pub fn is_pattern(&self) -> bool {
        matches!(self, Self::Pattern { .. })
    }

    pub fn matches(&self, branch: &BranchName) -> bool {
        match self {
            Self::Branch(b) => b == branch,
            Self::Pattern { matcher, .. } => matcher.is_match(branch.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shas() {
        let s = Sha::parse("6113728F27AE82C7B1A177C8D03F9E96E0ADF246").unwrap();
        assert_eq!(s.as_str(), "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
        assert!(Sha::parse(&"0".repeat(40)).unwrap().is_zero());
        assert!(Sha::parse(&"a".repeat(64)).is_ok());
        for bad in ["", "abc", &"g".repeat(40), &"a".repeat(41)] {
            assert!(Sha::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn branches() {
        for ok in ["main", "release/1.2", "feature/x-y_z", "ü"] {
            assert!(BranchName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "-x", "/x", "x/", "a..b", "a b", "a~1", "x.lock", "a\nb", "a//b", "@",
        ] {
            assert!(BranchName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn selectors() {
        let p = Selector::parse("release/*").unwrap();
        assert!(p.is_pattern());
        assert!(p.matches(&BranchName::parse("release/1.0").unwrap()));
        assert!(!p.matches(&BranchName::parse("release/1.0/hotfix").unwrap()));
        assert!(!p.matches(&BranchName::parse("main").unwrap()));
        assert!(Selector::parse("feature/**")
            .unwrap()
            .matches(&BranchName::parse("feature/a/b").unwrap()));
        assert!(!Selector::parse("main").unwrap().is_pattern());
        for bad in ["[", "a..*", "x y*", ""] {
            assert!(Selector::parse(bad).is_err(), "{bad:?}");
        }
    }
}
