//! A small HTTP/1.1 client over hyper, for talking to other workers'
//! endpoints: the table query forwarded to the key's owner, and the
//! `status` command asking a running worker.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

use crate::error::{Error, Result};

/// How long one request may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP answer: its status code and its body as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: String,
}

/// `GET http://{authority}{path}` with `headers`; an error names the address
/// and what failed (connecting, the exchange, or the time limit).
pub(crate) async fn get(authority: &str, path: &str, headers: &[(&str, &str)]) -> Result<Answer> {
    let failed = |what: &str, e: Box<dyn std::error::Error + Send + Sync>| Error::Transport {
        what: format!("{what} http://{authority}{path}"),
        source: e,
    };
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(authority)
            .await
            .map_err(|e| failed("connecting to", Box::new(e)))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| failed("opening HTTP with", Box::new(e)))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut request = Request::get(path).header(hyper::header::HOST, authority);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::new()))
            .map_err(|e| failed("building the request for", Box::new(e)))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| failed("requesting", Box::new(e)))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| failed("reading the answer of", Box::new(e)))?
            .to_bytes();
        Ok(Answer {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    };
    tokio::time::timeout(TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| {
            Err(failed(
                &format!("no answer within {}s from", TIMEOUT.as_secs()),
                "timed out".into(),
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn gets_a_page_and_names_an_address_that_refuses() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let router = axum::Router::new().route(
            "/hello",
            axum::routing::get(|headers: axum::http::HeaderMap| async move {
                format!("hi {}", headers["x-who"].to_str().unwrap())
            }),
        );
        tokio::spawn(async move { axum::serve(listener, router).await });
        let answer = get(&addr, "/hello", &[("x-who", "there")]).await.unwrap();
        assert_eq!(
            answer,
            Answer {
                status: 200,
                body: "hi there".into()
            }
        );
        assert_eq!(get(&addr, "/nothing", &[]).await.unwrap().status, 404);

        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let closed_addr = closed.local_addr().unwrap().to_string();
        drop(closed);
        let error = get(&closed_addr, "/x", &[]).await.unwrap_err().to_string();
        assert!(error.contains(&closed_addr), "{error}");
    }
}
