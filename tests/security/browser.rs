//! What a browser does, by hand: log in and keep the cookie, read a form's hidden fields, walk
//! the GitHub App setup flow through the fake GitHub.
use reqwest::{header, redirect::Policy, StatusCode};

pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// Logs in at `base`: the `hubsync_session=...` pair to send back, and the whole Set-Cookie.
pub async fn login(base: &str, token: &str) -> (String, String) {
    let r = no_redirects()
        .post(format!("{base}/login"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let set = r.headers()[header::SET_COOKIE].to_str().unwrap().to_owned();
    (set.split(';').next().unwrap().to_owned(), set)
}

/// GET with this cookie (empty: none), not following redirects.
pub async fn get(url: String, cookie: &str) -> reqwest::Response {
    let mut r = no_redirects().get(url);
    if !cookie.is_empty() {
        r = r.header(header::COOKIE, cookie);
    }
    r.send().await.unwrap()
}

/// The first CSRF field of a page.
pub fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[at..].split('"').next().unwrap().to_owned()
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Opens /setup (for a personal account's app) as `cookie` and returns the create-app form's
/// action and manifest.
pub async fn setup_form(base: &str, cookie: &str) -> (String, String) {
    let r = get(format!("{base}/setup?account=personal"), cookie).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let attr = |marker: &str, name: &str| {
        let rest = &html[html.find(marker).unwrap()..];
        let start = rest.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        unescape(&rest[start..start + rest[start..].find('"').unwrap()])
    };
    (
        attr("id=\"create-app\"", "action"),
        attr("name=\"manifest\"", "value"),
    )
}

/// Submits the manifest on the fake GitHub and follows it back to hubsync's callback.
pub async fn create_on_github(action: &str, manifest: &str) -> reqwest::Response {
    let http = no_redirects();
    let res = http
        .post(action)
        .form(&[("manifest", manifest)])
        .send()
        .await
        .unwrap();
    let back = res.headers()["location"].to_str().unwrap().to_owned();
    http.get(&back).send().await.unwrap()
}
