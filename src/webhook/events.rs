//! Our own serde structs for the events hubsync acts on. Each keeps only the fields it needs,
//! ignores the rest, and treats what GitHub may omit as optional. Git values are parsed here,
//! at the edge, so a payload that names an impossible branch or sha is refused at once.
use serde::{de, Deserialize, Deserializer};
use serde_json::Value;

use crate::git::{BranchName, Sha};

use super::headers::EventName;

/// `{"id": ...}`: how most events name their installation.
#[derive(Debug, Clone, Deserialize)]
pub struct InstallationRef {
    pub id: i64,
}

/// The fields every payload may carry, read for every event (also those we ignore).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Envelope {
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub installation: Option<InstallationRef>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Account {
    /// Users and organisations have a login; enterprises a slug.
    #[serde(alias = "slug")]
    pub login: String,
    pub id: i64,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

/// The full installation object of `installation` and `installation_repositories` events.
#[derive(Debug, Clone, Deserialize)]
pub struct Installation {
    pub id: i64,
    #[serde(default)]
    pub account: Option<Account>,
    #[serde(default)]
    pub repository_selection: Option<String>,
    /// A timestamp when suspended; its format is not relied on.
    #[serde(default)]
    pub suspended_at: Option<Value>,
}

/// The short repository shape in installation events.
#[derive(Debug, Clone, Deserialize)]
pub struct RepoSummary {
    pub id: i64,
    #[serde(default)]
    pub full_name: Option<String>,
    #[serde(default)]
    pub private: Option<bool>,
}

/// The full repository object of repository-scoped events.
#[derive(Debug, Clone, Deserialize)]
pub struct Repository {
    pub id: i64,
    pub full_name: String,
    #[serde(default)]
    pub private: bool,
    #[serde(default)]
    pub default_branch: Option<String>,
    #[serde(default)]
    pub archived: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstallationAction {
    Created,
    Deleted,
    Suspend,
    Unsuspend,
    NewPermissionsAccepted,
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InstallationEvent {
    pub action: InstallationAction,
    pub installation: Installation,
    #[serde(default)]
    pub repositories: Option<Vec<RepoSummary>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepositoriesAction {
    Added,
    Removed,
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InstallationRepositoriesEvent {
    pub action: RepositoriesAction,
    pub installation: Installation,
    #[serde(default)]
    pub repositories_added: Vec<RepoSummary>,
    #[serde(default)]
    pub repositories_removed: Vec<RepoSummary>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepositoryAction {
    Created,
    Renamed,
    Transferred,
    Edited,
    Archived,
    Unarchived,
    Deleted,
    Privatized,
    Publicized,
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RepositoryEvent {
    pub action: RepositoryAction,
    pub repository: Repository,
    #[serde(default)]
    pub installation: Option<InstallationRef>,
}

/// What a pushed ref names: only branches are synced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushedRef {
    Branch(BranchName),
    /// Tags and other refs (notes, pull refs): stored, ignored.
    Other(String),
}

#[derive(Debug, Clone, Deserialize)]
pub struct PushEvent {
    #[serde(rename = "ref", deserialize_with = "pushed_ref")]
    pub git_ref: PushedRef,
    #[serde(deserialize_with = "sha")]
    pub after: Sha,
    #[serde(default)]
    pub created: bool,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub forced: bool,
    /// Where the branch stood before (zeros for a new branch); kept as sent, read leniently.
    #[serde(default)]
    pub before: Option<String>,
    /// The commits GitHub lists (at most 20), each contained in `after`.
    #[serde(default)]
    pub commits: Vec<PushedCommit>,
    /// The head's message and author, for the run page; None when absent or unreadable (it never
    /// refuses the push).
    #[serde(default, deserialize_with = "lenient")]
    pub head_commit: Option<HeadCommit>,
    pub repository: Repository,
    #[serde(default)]
    pub installation: Option<InstallationRef>,
}

/// One entry of a push's `commits` (only the id is read).
#[derive(Debug, Clone, Deserialize)]
pub struct PushedCommit {
    pub id: String,
}

/// A push's `head_commit`: its message, author (`username` is the GitHub login, when GitHub
/// matched the email) and timestamp.
#[derive(Debug, Clone, Deserialize)]
pub struct HeadCommit {
    pub id: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub timestamp: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    pub author: Option<CommitAuthor>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CommitAuthor {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
}

impl HeadCommit {
    pub(crate) fn info(&self) -> crate::store::head_commits::CommitInfo {
        crate::store::head_commits::CommitInfo {
            message: self.message.clone(),
            author_name: self.author.as_ref().and_then(|a| a.name.clone()),
            author_login: self.author.as_ref().and_then(|a| a.username.clone()),
            committed_at: self.timestamp,
        }
    }
}

/// An optional part read as None when it does not have the expected shape.
fn lenient<'de, D: Deserializer<'de>, T: de::DeserializeOwned>(
    d: D,
) -> Result<Option<T>, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(serde_json::from_value(v).ok())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RefType {
    Branch,
    Tag,
}

/// `create` and `delete`: a branch or tag, by its short name.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawRefEvent")]
pub struct RefEvent {
    /// None for tags.
    pub branch: Option<BranchName>,
    pub repository: Repository,
    pub installation: Option<InstallationRef>,
}

#[derive(Deserialize)]
struct RawRefEvent {
    #[serde(rename = "ref")]
    git_ref: String,
    ref_type: RefType,
    repository: Repository,
    #[serde(default)]
    installation: Option<InstallationRef>,
}

impl TryFrom<RawRefEvent> for RefEvent {
    type Error = String;

    fn try_from(raw: RawRefEvent) -> Result<Self, String> {
        let branch = match raw.ref_type {
            RefType::Branch => Some(BranchName::parse(&raw.git_ref).map_err(|e| e.to_string())?),
            RefType::Tag => None,
        };
        Ok(Self {
            branch,
            repository: raw.repository,
            installation: raw.installation,
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct AppAuthorizationEvent {
    pub action: String,
}

/// A delivery's payload, typed by its event name.
#[derive(Debug, Clone)]
pub enum Event {
    Ping,
    Installation(InstallationEvent),
    InstallationRepositories(InstallationRepositoriesEvent),
    Repository(RepositoryEvent),
    Push(PushEvent),
    Create(RefEvent),
    Delete(RefEvent),
    AppAuthorization(AppAuthorizationEvent),
    /// An event hubsync does not act on.
    Unhandled,
}

impl Event {
    /// Whether hubsync acts on this event at all (others are stored as ignored).
    pub(crate) fn is_handled(name: &EventName) -> bool {
        matches!(
            name.as_str(),
            "ping"
                | "installation"
                | "installation_repositories"
                | "repository"
                | "push"
                | "create"
                | "delete"
                | "github_app_authorization"
        )
    }

    pub fn parse(name: &EventName, body: &str) -> Result<Self, serde_json::Error> {
        Ok(match name.as_str() {
            "ping" => Self::Ping,
            "installation" => Self::Installation(serde_json::from_str(body)?),
            "installation_repositories" => {
                Self::InstallationRepositories(serde_json::from_str(body)?)
            }
            "repository" => Self::Repository(serde_json::from_str(body)?),
            "push" => Self::Push(serde_json::from_str(body)?),
            "create" => Self::Create(serde_json::from_str(body)?),
            "delete" => Self::Delete(serde_json::from_str(body)?),
            "github_app_authorization" => Self::AppAuthorization(serde_json::from_str(body)?),
            _ => Self::Unhandled,
        })
    }
}

fn sha<'de, D: Deserializer<'de>>(d: D) -> Result<Sha, D::Error> {
    let raw = String::deserialize(d)?;
    Sha::parse(&raw).map_err(de::Error::custom)
}

fn pushed_ref<'de, D: Deserializer<'de>>(d: D) -> Result<PushedRef, D::Error> {
    let raw = String::deserialize(d)?;
    match raw.strip_prefix("refs/heads/") {
        Some(branch) => BranchName::parse(branch)
            .map(PushedRef::Branch)
            .map_err(de::Error::custom),
        None => Ok(PushedRef::Other(raw)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(event: &str, body: &str) -> Result<Event, serde_json::Error> {
        Event::parse(&EventName::parse(event).unwrap(), body)
    }

    #[test]
    fn unknown_fields_and_actions_are_tolerated() {
        let e = parse(
            "installation",
            r#"{"action":"something_new","installation":{"id":1,"extra":[1]},"x":null}"#,
        )
        .unwrap();
        assert!(matches!(e, Event::Installation(i) if i.action == InstallationAction::Other));
    }

    #[test]
    fn impossible_git_values_are_refused() {
        let repo = r#""repository":{"id":1,"full_name":"o/r"}"#;
        let bad_branch = format!(
            r#"{{"ref":"refs/heads/a..b","after":"{}",{repo}}}"#,
            "0".repeat(40)
        );
        assert!(parse("push", &bad_branch).is_err());
        let bad_sha = format!(r#"{{"ref":"refs/heads/main","after":"xyz",{repo}}}"#);
        assert!(parse("push", &bad_sha).is_err());
        let tag = format!(
            r#"{{"ref":"refs/tags/v1","after":"{}",{repo}}}"#,
            "a".repeat(40)
        );
        assert!(
            matches!(parse("push", &tag).unwrap(), Event::Push(p) if matches!(p.git_ref, PushedRef::Other(_)))
        );
        let create = format!(r#"{{"ref":"a b","ref_type":"branch",{repo}}}"#);
        assert!(parse("create", &create).is_err());
    }
}
