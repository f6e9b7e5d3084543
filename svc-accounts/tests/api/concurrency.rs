use futures_util::stream::{self, StreamExt};
use reqwest::redirect::Policy;
use reqwest::StatusCode;

use crate::helpers::{spawn_app, PASSWORD};

fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .pool_max_idle_per_host(32)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_sign_ups_create_exactly_two_hundred_accounts() {
    let app = spawn_app().await;
    let client = plain_client();
    let token = app.csrf(&client).await;
    let statuses: Vec<StatusCode> = stream::iter(0..200)
        .map(|i| {
            let client = client.clone();
            let token = token.clone();
            let url = app.url("/actions/sign-up");
            async move {
                let email = format!("user{i}@example.com");
                let name = format!("User {i}");
                client
                    .post(url)
                    .form(&[
                        ("name", name.as_str()),
                        ("email", &email),
                        ("password", PASSWORD),
                        ("plan", "starter"),
                        ("csrf_token", &token),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::SEE_OTHER),
        "{statuses:?}"
    );
    assert_eq!(app.accounts(), 200);
    // Nobody signs in before confirming the address.
    assert_eq!(app.storage.count_sessions().unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_sign_ups_of_one_email_in_different_cases_create_one_account() {
    let app = spawn_app().await;
    let client = plain_client();
    let token = app.csrf(&client).await;
    let base = "someone@example.com";
    // 20 distinct spellings: bit j of i upper-cases letter j of the first five.
    let variants: Vec<String> = (0..20u32)
        .map(|i| {
            base.chars()
                .enumerate()
                .map(|(j, c)| {
                    if j < 5 && i & (1 << j) != 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect()
        })
        .collect();
    let distinct: std::collections::HashSet<&String> = variants.iter().collect();
    assert_eq!(distinct.len(), 20);
    let statuses: Vec<StatusCode> = stream::iter(variants)
        .map(|email| {
            let client = client.clone();
            let token = token.clone();
            let url = app.url("/actions/sign-up");
            async move {
                client
                    .post(url)
                    .form(&[
                        ("name", "Twin"),
                        ("email", email.as_str()),
                        ("password", PASSWORD),
                        ("plan", "pro"),
                        ("csrf_token", &token),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        })
        .buffer_unordered(20)
        .collect()
        .await;
    // Issue 21: a sign-up with a taken address answers as a new one does (303), and none
    // signs in, so the database alone tells them apart: one account, no session.
    assert!(
        statuses.iter().all(|s| *s == StatusCode::SEE_OTHER),
        "{statuses:?}"
    );
    assert_eq!(app.storage.count_sessions().unwrap(), 0);
    assert_eq!(app.accounts(), 1);
    assert!(app.storage.account_by_email(base).unwrap().is_some());
}
