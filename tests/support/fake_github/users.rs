//! The fake's GitHub users, for Sign in with GitHub: who they are, what they reach, their
//! organisation roles, and their tokens' fate.
use super::{oauth, FakeGithub, TEST_CLIENT_ID, TEST_CLIENT_SECRET};

impl FakeGithub {
    /// The variables that point hubsync's Sign in with GitHub at this fake (no app credentials).
    pub fn oauth_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("GITHUB_CLIENT_ID", TEST_CLIENT_ID.to_string()),
            ("GITHUB_CLIENT_SECRET", TEST_CLIENT_SECRET.to_string()),
            ("GITHUB_API_URL", self.url.clone()),
            ("GITHUB_URL", self.url.clone()),
        ]
    }

    /// A GitHub user; returns their id (the account's id when an installation is on their account).
    pub fn add_user(&self, login: &str) -> i64 {
        let account = self
            .state
            .inner()
            .installations
            .values()
            .find(|i| i.account_login == login)
            .map(|i| i.account_id);
        let mut oauth = self.state.oauth.lock().unwrap();
        let id = account.unwrap_or(70_000 + oauth.users.len() as i64);
        oauth.users.insert(
            login.to_owned(),
            oauth::FakeUser {
                id,
                login: login.to_owned(),
                access: Default::default(),
            },
        );
        id
    }

    /// The user reaches these repositories of the installation (`/user/installations` lists it).
    pub fn grant(&self, login: &str, installation: i64, repo_ids: &[i64]) {
        let mut oauth = self.state.oauth.lock().unwrap();
        let user = oauth.users.get_mut(login).expect("a known user");
        user.access
            .entry(installation)
            .or_default()
            .extend(repo_ids.iter().copied());
    }

    /// The user no longer reaches the repository.
    pub fn ungrant(&self, login: &str, installation: i64, repo_id: i64) {
        let mut oauth = self.state.oauth.lock().unwrap();
        if let Some(repos) = oauth
            .users
            .get_mut(login)
            .and_then(|u| u.access.get_mut(&installation))
        {
            repos.remove(&repo_id);
        }
    }

    /// `login`'s membership of `org`: `admin` (an owner) or `member`.
    pub fn set_membership(&self, org: &str, login: &str, role: &str) {
        self.state
            .oauth
            .lock()
            .unwrap()
            .memberships
            .insert((org.to_owned(), login.to_owned()), role.to_owned());
    }

    /// The authorize page approves at once as this user.
    pub fn approve_as(&self, login: &str) {
        self.state.oauth.lock().unwrap().approve_as = Some(login.to_owned());
    }

    /// `expires_in` of new user tokens (None: tokens that never expire, without a refresh token).
    pub fn set_user_token_expiry(&self, expires_in: Option<i64>) {
        self.state.oauth.lock().unwrap().expires_in = expires_in;
    }

    /// Every user access token stops working (401); refresh tokens still work.
    pub fn expire_user_tokens(&self) {
        self.state.oauth.lock().unwrap().expire_tokens();
    }

    /// The user revoked the app: their tokens and refresh tokens stop working.
    pub fn revoke_user(&self, login: &str) {
        self.state.oauth.lock().unwrap().revoke(login);
    }

    /// Refresh-token grants answered.
    pub fn user_token_refreshes(&self) -> u64 {
        self.state.oauth.lock().unwrap().refreshes
    }
}
