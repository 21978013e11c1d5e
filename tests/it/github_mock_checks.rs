//! The GitHub mock (`tests/support/github.rs`) refuses what GitHub refuses
//! and paginates as GitHub does: the `gh_*`, `action_*` and `report_*`
//! tests assert "no violations", which proves something only if the mock's
//! checks work. Each request here is sent raw (reqwest), once as GitHub
//! accepts it and once broken in one way.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::github_mock::{Comment, GithubMock, OWNER, PR, REPO, TOKEN};

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// A request as warden's client sends it: token, User-Agent, and the
/// headers GitHub documents.
fn good(mock: &GithubMock, method: reqwest::Method, rest: &str) -> reqwest::RequestBuilder {
    client()
        .request(method, format!("{}/repos/{OWNER}/{REPO}{rest}", mock.url))
        .bearer_auth(TOKEN)
        .header("user-agent", "warden-test")
        .header("accept", "application/vnd.github+json")
        .header("x-github-api-version", "2022-11-28")
}

async fn status_and_message(request: reqwest::RequestBuilder) -> (StatusCode, String) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["message"].as_str().unwrap_or("").to_owned())
}

fn check_run(conclusion: &str, annotations: Vec<Value>) -> Value {
    json!({
        "name": "warden",
        "head_sha": "0123456789abcdef0123456789abcdef01234567",
        "status": "completed",
        "conclusion": conclusion,
        "output": {"title": "t", "summary": "s", "annotations": annotations},
    })
}

fn annotation(start: u64, end: u64, columns: bool) -> Value {
    let mut a = json!({
        "path": "src/lib.rs",
        "start_line": start,
        "end_line": end,
        "annotation_level": "failure",
        "message": "m",
    });
    if columns {
        a["start_column"] = json!(1);
        a["end_column"] = json!(2);
    }
    a
}

#[tokio::test]
async fn requests_github_would_refuse_are_refused_and_noted() {
    let mock = GithubMock::start();
    let comments = format!("/issues/{PR}/comments");
    let post = reqwest::Method::POST;

    // Accepted as sent.
    let ok = good(&mock, post.clone(), &comments).json(&json!({"body": "hi"}));
    assert_eq!(status_and_message(ok).await.0, StatusCode::CREATED);
    let ok = good(&mock, post.clone(), "/check-runs").json(&check_run("neutral", vec![]));
    assert_eq!(status_and_message(ok).await.0, StatusCode::CREATED);
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());

    let url = format!("{}/repos/{OWNER}/{REPO}{comments}", mock.url);
    let refused: Vec<(reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (
            client()
                .post(&url)
                .header("user-agent", "x")
                .json(&json!({"body": "hi"})),
            StatusCode::UNAUTHORIZED,
            "Bad credentials",
        ),
        (
            client()
                .post(&url)
                .bearer_auth(TOKEN)
                .json(&json!({"body": "hi"})),
            StatusCode::FORBIDDEN,
            "User-Agent",
        ),
        (
            client()
                .post(&url)
                .bearer_auth(TOKEN)
                .header("user-agent", "x")
                .header("x-github-api-version", "1999-01-01")
                .json(&json!({"body": "hi"})),
            StatusCode::BAD_REQUEST,
            "API version",
        ),
        (
            client()
                .post(&url)
                .bearer_auth(TOKEN)
                .header("user-agent", "x")
                .header("accept", "text/html")
                .json(&json!({"body": "hi"})),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Accept",
        ),
        (
            good(&mock, post.clone(), &comments).body("{\"body\": \"hi\"}"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Media Type",
        ),
        (
            good(&mock, post.clone(), &comments).json(&json!({"body": "hi", "draft": true})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation Failed",
        ),
        (
            good(&mock, post.clone(), &comments).json(&json!({"body": "x".repeat(65_537)})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation Failed",
        ),
        (
            // Only GitHub sets `stale`.
            good(&mock, post.clone(), "/check-runs").json(&check_run("stale", vec![])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation Failed",
        ),
        (
            good(&mock, post.clone(), "/check-runs")
                .json(&check_run("neutral", vec![annotation(1, 1, false); 51])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation Failed",
        ),
        (
            good(&mock, post.clone(), "/check-runs")
                .json(&check_run("neutral", vec![annotation(1, 3, true)])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation Failed",
        ),
        (
            // GitHub documents PATCH for a comment update.
            good(&mock, post.clone(), "/issues/comments/1001").json(&json!({"body": "hi"})),
            StatusCode::NOT_FOUND,
            "Not Found",
        ),
        (
            client()
                .get(format!(
                    "{}/repos/someone/else/issues/{PR}/comments",
                    mock.url
                ))
                .bearer_auth(TOKEN)
                .header("user-agent", "x"),
            StatusCode::NOT_FOUND,
            "Not Found",
        ),
    ];
    let expected = refused.len();
    for (i, (request, status, message)) in refused.into_iter().enumerate() {
        let (got, text) = status_and_message(request).await;
        assert_eq!(got, status, "request {i}: {text}");
        assert!(text.contains(message), "request {i}: {text}");
        assert_eq!(mock.violations().len(), i + 1, "request {i} is noted");
    }
    assert_eq!(mock.violations().len(), expected);
    assert_eq!(mock.comments().len(), 1, "nothing refused was kept");
    assert_eq!(mock.check_runs().len(), 1);
}

#[tokio::test]
async fn comments_are_paginated_with_absolute_link_urls() {
    let mock = GithubMock::start();
    for id in 1..=45 {
        mock.push_comment(Comment {
            id,
            issue: PR,
            body: format!("comment {id}"),
            login: "someone".into(),
        });
    }
    // Another issue's comments are not this one's.
    mock.add_comment(PR + 1, "someone", "elsewhere");

    let first = good(
        &mock,
        reqwest::Method::GET,
        &format!("/issues/{PR}/comments"),
    )
    .send()
    .await
    .unwrap();
    let link = first.headers()["link"].to_str().unwrap().to_owned();
    let page: Vec<Value> = first.json().await.unwrap();
    assert_eq!(page.len(), 30, "GitHub's default page size");
    let next = link
        .split(',')
        .find(|l| l.contains("rel=\"next\""))
        .and_then(|l| l.trim().strip_prefix('<'))
        .and_then(|l| l.split_once('>'))
        .map(|(url, _)| url.to_owned())
        .expect("a rel=\"next\" link");
    assert!(
        next.starts_with(&format!(
            "{}/repositories/1/issues/{PR}/comments?",
            mock.url
        )),
        "{next}"
    );
    let second = client()
        .get(&next)
        .bearer_auth(TOKEN)
        .header("user-agent", "x")
        .send()
        .await
        .unwrap();
    assert!(second.headers().get("link").is_none(), "the last page");
    let page: Vec<Value> = second.json().await.unwrap();
    assert_eq!(page.len(), 15);
    assert_eq!(page[14]["body"], "comment 45");
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
}
