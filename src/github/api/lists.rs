//! Listings that span pages: the installation's repositories, a repository's branches.
use serde::de::DeserializeOwned;
use url::Url;

use super::{decode, InstallationClient, JSON};
use crate::{
    git::{BranchName, Sha},
    github::{
        client::{Answer, Mode},
        types::{BranchRef, RawBranchRef, RawInstallationRepos, RepoName, Repository},
        GithubError,
    },
};

/// Pages followed per listing: 100,000 entries at 100 a page; a `Link` loop ends here.
pub(crate) const MAX_PAGES: usize = 1000;

/// The `rel="next"` URL of a `Link` header.
pub(crate) fn next_link(answer: &Answer) -> Option<String> {
    next_in(answer.headers.get(http::header::LINK)?.to_str().ok()?)
}

fn next_in(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim() == "rel=\"next\"")
            .then(|| {
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            })
    })
}

impl InstallationClient {
    /// Reads `path` and every page its `Link` headers lead to (on the API host only, at most
    /// `MAX_PAGES`), handing each page to `each`.
    async fn pages<P: DeserializeOwned>(
        &self,
        route: &'static str,
        path: &str,
        mut each: impl FnMut(P) -> Result<(), GithubError>,
    ) -> Result<(), GithubError> {
        let mut url = self.app.http.url(path)?;
        for _ in 0..MAX_PAGES {
            let answer = self.send(route, url, JSON, Mode::Buffer).await?;
            each(decode(route, &answer)?)?;
            let Some(next) = next_link(&answer) else {
                return Ok(());
            };
            url = Url::parse(&next).map_err(|e| GithubError::Decode {
                route,
                reason: format!("bad Link URL: {e}"),
            })?;
            if !self.app.http.same_origin(&url) {
                return Err(GithubError::Decode {
                    route,
                    reason: "Link points away from the API host".into(),
                });
            }
        }
        Err(GithubError::Decode {
            route,
            reason: format!("more than {MAX_PAGES} pages"),
        })
    }

    /// Every repository the installation can see (`GET /installation/repositories`, all pages).
    pub async fn list_repositories(&self) -> Result<Vec<Repository>, GithubError> {
        const ROUTE: &str = "GET /installation/repositories";
        let mut repos = Vec::new();
        let path = "/installation/repositories?per_page=100";
        self.pages(ROUTE, path, |page: RawInstallationRepos| {
            for raw in page.repositories {
                repos.push(raw.parse(ROUTE)?);
            }
            Ok(())
        })
        .await?;
        Ok(repos)
    }

    /// Every branch of a repository and the commit it points at (`GET .../branches`, all pages).
    /// A name git would refuse is left out (and logged) rather than failing the listing.
    pub async fn list_branches(&self, repo: &RepoName) -> Result<Vec<BranchRef>, GithubError> {
        const ROUTE: &str = "GET /repos/{owner}/{repo}/branches";
        let mut branches = Vec::new();
        let path = format!("/repos/{repo}/branches?per_page=100");
        self.pages(ROUTE, &path, |page: Vec<RawBranchRef>| {
            for raw in page {
                let commit = Sha::parse(&raw.commit.sha).map_err(|e| GithubError::Decode {
                    route: ROUTE,
                    reason: e.to_string(),
                })?;
                match BranchName::parse(&raw.name) {
                    Ok(name) => branches.push(BranchRef { name, commit }),
                    Err(e) => tracing::warn!(%repo, error = %e, "branch name skipped"),
                }
            }
            Ok(())
        })
        .await?;
        Ok(branches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_comes_from_the_link_header() {
        let link = "<https://api.github.com/installation/repositories?per_page=100&page=1>; \
                    rel=\"prev\", <https://api.github.com/installation/repositories?per_page=100&page=3>; \
                    rel=\"next\", <https://api.github.com/installation/repositories?page=9>; rel=\"last\"";
        assert_eq!(
            next_in(link).as_deref(),
            Some("https://api.github.com/installation/repositories?per_page=100&page=3")
        );
        assert_eq!(next_in("<https://x/?page=1>; rel=\"first\""), None);
    }
}
