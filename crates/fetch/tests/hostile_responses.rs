//! Hostile servers on 127.0.0.1: a response declaring 1 GB, a gzip bomb that inflates far past
//! the limit, and a server that never answers. Each ends in a clear error naming the URL, with
//! memory bounded by the body limit.

use std::io::Write;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use verbatim_fetch::{FetchConfig, FetchError, FetchOutcome, Fetcher, Validators};

/// Serves `response` (head and body bytes) to every connection; returns the feed URL.
async fn serve_once(response: Vec<u8>) -> String {
    let listener = match TcpListener::bind("127.0.0.1:0").await {
        Ok(listener) => listener,
        Err(error) => panic!("bind: {error}"),
    };
    let address = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let response = response.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let _ = socket.write_all(&response).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("http://{address}/feed.xml")
}

fn fetcher(max_body_bytes: usize) -> Fetcher {
    match Fetcher::new(FetchConfig {
        allow_private_networks: true,
        max_body_bytes,
        total_timeout: Duration::from_secs(5),
        ..FetchConfig::default()
    }) {
        Ok(fetcher) => fetcher,
        Err(error) => panic!("{error}"),
    }
}

#[tokio::test]
async fn a_declared_gigabyte_is_refused_before_reading() {
    let url = serve_once(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 1073741824\r\n\r\n<rss>"
            .to_vec(),
    )
    .await;
    match fetcher(32 * 1024 * 1024)
        .get(&url, &Validators::default())
        .await
    {
        Err(error @ FetchError::TooLarge { .. }) => {
            assert!(error.to_string().contains(&url), "{error}");
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[tokio::test]
async fn a_gzip_bomb_stops_at_the_limit() {
    // 64 MiB of zeros compress to about 64 KiB.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..64 {
        let _ = encoder.write_all(&zeros);
    }
    let compressed = encoder.finish().unwrap_or_default();
    assert!(compressed.len() < 1024 * 1024);
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        compressed.len()
    )
    .into_bytes();
    response.extend_from_slice(&compressed);
    let url = serve_once(response).await;
    match fetcher(4 * 1024 * 1024)
        .get(&url, &Validators::default())
        .await
    {
        Err(FetchError::TooLarge { url: named, limit }) => {
            assert_eq!(named, url);
            assert_eq!(limit, 4 * 1024 * 1024);
        }
        Ok(FetchOutcome::Fetched(fetched)) => {
            panic!("inflated {} bytes past the limit", fetched.body.len())
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let listener = match TcpListener::bind("127.0.0.1:0").await {
        Ok(listener) => listener,
        Err(error) => panic!("bind: {error}"),
    };
    let url = format!(
        "http://{}/feed.xml",
        listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default()
    );
    // Accept and hold the connection without a byte of answer.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let fetcher = match Fetcher::new(FetchConfig {
        allow_private_networks: true,
        total_timeout: Duration::from_millis(500),
        ..FetchConfig::default()
    }) {
        Ok(fetcher) => fetcher,
        Err(error) => panic!("{error}"),
    };
    match fetcher.get(&url, &Validators::default()).await {
        Err(error @ FetchError::Timeout { .. }) => assert!(error.to_string().contains(&url)),
        other => panic!("expected Timeout, got {other:?}"),
    }
}

#[tokio::test]
async fn a_redirect_loop_ends_in_a_clear_error() {
    let listener = match TcpListener::bind("127.0.0.1:0").await {
        Ok(listener) => listener,
        Err(error) => panic!("bind: {error}"),
    };
    let address = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let url = format!("http://{address}/feed.xml");
    let target = url.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let response = format!(
                    "HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    match fetcher(1024 * 1024).get(&url, &Validators::default()).await {
        Err(error @ FetchError::Network { .. }) => {
            let message = error.to_string();
            assert!(
                message.contains(&url) && message.contains("redirect"),
                "{message}"
            );
        }
        other => panic!("expected a redirect error, got {other:?}"),
    }
}
