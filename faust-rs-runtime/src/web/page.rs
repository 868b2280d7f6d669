//! User pages: the routes of `#[page]` functions, their [`Reply`], and
//! the check of their paths (see the [module docs](super#pages)).

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::{Query, RawPathParams};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;

use crate::app::AppCore;
use crate::app::registry::{ArgKind, PageDef};
use crate::cli::CommandArgs;
use crate::error::{BoxError, Error, Result};

/// What a page answers: a status, a content type and a body.
///
/// ```
/// use faust::web::Reply;
///
/// let page = Reply::html("<h1>Totals</h1>");
/// assert_eq!(page.content_type(), "text/html; charset=utf-8");
/// let missing = Reply::json(&serde_json::json!({"error": "no such account"})).with_status(404);
/// assert_eq!(missing.status(), 404);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    status: u16,
    content_type: Cow<'static, str>,
    body: Bytes,
}

impl Reply {
    /// `value` as JSON, status 200. A value that cannot be written as JSON
    /// (a map with non-string keys, say) answers 500 saying why.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Reply {
        match serde_json::to_vec(value) {
            Ok(body) => Reply::new("application/json", body),
            Err(e) => Reply::new(
                "application/json",
                serde_json::json!({"error": format!("the page's value is not JSON: {e}")})
                    .to_string(),
            )
            .with_status(500),
        }
    }

    /// An HTML page, status 200.
    pub fn html(body: impl Into<String>) -> Reply {
        Reply::new("text/html; charset=utf-8", body.into())
    }

    /// Plain text, status 200.
    pub fn text(body: impl Into<String>) -> Reply {
        Reply::new("text/plain; charset=utf-8", body.into())
    }

    /// `body` with the content type `content_type`, status 200.
    pub fn new(content_type: impl Into<Cow<'static, str>>, body: impl Into<Bytes>) -> Reply {
        Reply {
            status: 200,
            content_type: content_type.into(),
            body: body.into(),
        }
    }

    /// The same reply with HTTP status `status` (a status outside
    /// 100..=999 answers 500).
    pub fn with_status(mut self, status: u16) -> Reply {
        self.status = status;
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The content type.
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text_body(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// The body parsed as JSON (`Value::Null` when it is not JSON).
    pub fn json_body(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// An error answer: `{"error": message}` with `status`.
    fn error(status: u16, message: impl std::fmt::Display) -> Reply {
        Reply::json(&serde_json::json!({"error": message.to_string()})).with_status(status)
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (
            status,
            [(header::CONTENT_TYPE, self.content_type.into_owned())],
            self.body,
        )
            .into_response()
    }
}

/// What a `#[page]` function may return inside its `Result`: any
/// [`Serialize`] value (answered as JSON) or a [`Reply`].
#[diagnostic::on_unimplemented(
    message = "a #[page] cannot answer with `{Self}`",
    label = "neither `Serialize` nor `faust::web::Reply`",
    note = "return `Result<T>` where `T: Serialize` (answered as JSON), or `Result<faust::web::Reply>` for HTML, text or another status"
)]
pub trait IntoReply {
    /// The answer.
    fn into_reply(self) -> Reply;
}

impl IntoReply for Reply {
    fn into_reply(self) -> Reply {
        self
    }
}

impl<T: Serialize> IntoReply for T {
    fn into_reply(self) -> Reply {
        Reply::json(&self)
    }
}

/// A boxed answer of a page, as built by generated code.
#[doc(hidden)]
pub type PageFuture = Pin<Box<dyn Future<Output = std::result::Result<Reply, BoxError>> + Send>>;

/// Wraps a user page's future; used by generated code.
#[doc(hidden)]
pub fn page_future<Fut, R, E>(fut: Fut) -> PageFuture
where
    Fut: Future<Output = std::result::Result<R, E>> + Send + 'static,
    R: IntoReply,
    E: Into<BoxError>,
{
    Box::pin(async move { fut.await.map(IntoReply::into_reply).map_err(Into::into) })
}

/// The routes the endpoint serves itself, which a page may not take.
const BUILT_IN: &[&str] = &[
    "/",
    "/health",
    "/ready",
    "/metrics",
    "/agents",
    "/topics",
    "/status",
    "/tables/{}/{}",
];

/// Checks the app's pages: each path well formed, none a built-in route's
/// or another page's (routes differing only in parameter names are the
/// same route).
pub(crate) fn check(pages: &[&'static PageDef]) -> Result<()> {
    let mut seen: Vec<(String, &'static PageDef)> = Vec::new();
    for &def in pages {
        let shape = shape_of(def.path).map_err(|problem| {
            Error::config(format!(
                "#[page(\"{}\")] ({}): {problem}",
                def.path, def.location
            ))
        })?;
        if BUILT_IN.contains(&shape.as_str()) {
            return Err(Error::config(format!(
                "#[page(\"{}\")] ({}) takes a route the web endpoint serves itself; choose \
                 another path (the built-in routes are: {})",
                def.path,
                def.location,
                BUILT_IN.join(", ").replace("{}", "{..}")
            )));
        }
        if seen.iter().any(|(_, d)| std::ptr::eq(*d, def)) {
            continue; // the same definition listed twice
        }
        if let Some((_, first)) = seen.iter().find(|(s, _)| *s == shape) {
            return Err(Error::config(format!(
                "#[page(\"{}\")] ({}) and #[page(\"{}\")] ({}) are the same route; change one \
                 path",
                first.path, first.location, def.path, def.location
            )));
        }
        seen.push((shape, def));
    }
    Ok(())
}

/// `path` with each parameter written `{}`: two paths of one shape are
/// one route. An error says what is wrong with the path.
fn shape_of(path: &str) -> std::result::Result<String, String> {
    if !path.starts_with('/') {
        return Err("a page's path starts with `/`".to_owned());
    }
    let mut shape = String::new();
    for segment in path[1..].split('/') {
        shape.push('/');
        if segment.starts_with('{') && segment.ends_with('}') && segment.len() > 2 {
            shape.push_str("{}");
        } else if segment.contains(['{', '}']) {
            return Err(format!(
                "segment `{segment}`: a parameter is a whole segment, `{{name}}`"
            ));
        } else {
            shape.push_str(segment);
        }
    }
    Ok(shape)
}

/// The routes of `pages`, answered with `core`'s context.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>(
    core: Arc<AppCore>,
    pages: &[&'static PageDef],
) -> axum::Router<S> {
    let mut router = axum::Router::new();
    for (i, &def) in pages.iter().enumerate() {
        if pages[..i].iter().any(|d| std::ptr::eq(*d, def)) {
            continue;
        }
        let core = core.clone();
        router = router.route(
            def.path,
            axum::routing::get(
                move |params: RawPathParams, Query(query): Query<HashMap<String, String>>| {
                    let path: HashMap<&str, &str> = params.iter().collect();
                    let values = def
                        .args
                        .iter()
                        .map(|arg| match arg.kind {
                            ArgKind::Required => path.get(arg.long).map(|v| (*v).to_owned()),
                            ArgKind::Optional | ArgKind::Flag => query.get(arg.long).cloned(),
                        })
                        .collect();
                    let args = CommandArgs::for_page(def, values);
                    async move { answer(core, def, args).await }
                },
            ),
        );
    }
    router
}

/// Runs the page `def` on `args` with `core`'s context.
pub(crate) async fn answer(core: Arc<AppCore>, def: &'static PageDef, args: CommandArgs) -> Reply {
    let future = match (def.run)(&args) {
        Ok(future) => future,
        Err(e) => return Reply::error(400, e),
    };
    let scope = crate::context::Scope::new(core);
    let pending = scope.pending.clone();
    let answered = scope.run(future).await;
    // What the page sent is on the broker before it answers.
    let settled = pending.settle().await;
    match (answered, settled) {
        (Ok(reply), Ok(())) => reply,
        (Err(e), _) => Reply::error(500, format!("page `{}`: {e}", def.path)),
        (Ok(_), Err(e)) => Reply::error(
            500,
            format!("page `{}`: a record it sent failed: {e}", def.path),
        ),
    }
}

/// Answers `GET path_and_query` from `pages` without a server, as the
/// worker's endpoint would: the test driver's `get`.
pub(crate) async fn get(
    core: Arc<AppCore>,
    pages: &[&'static PageDef],
    path_and_query: &str,
) -> Reply {
    let known: Vec<&str> = pages.iter().map(|p| p.path).collect();
    let mut router = routes::<()>(core, pages).fallback(move |uri: axum::http::Uri| {
        let known = known.join(", ");
        async move {
            Reply::error(
                404,
                format!(
                    "no #[page] serves `{}`; the app's pages are: {}",
                    uri.path(),
                    if known.is_empty() { "none" } else { &known }
                ),
            )
        }
    });
    let request = match axum::http::Request::get(path_and_query).body(axum::body::Body::empty()) {
        Ok(request) => request,
        Err(e) => return Reply::error(400, format!("`{path_and_query}` is not a path: {e}")),
    };
    let response = match tower_service::Service::call(&mut router, request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    match axum::body::to_bytes(response.into_body(), usize::MAX).await {
        Ok(body) => Reply::new(content_type, body).with_status(status),
        Err(e) => Reply::error(500, format!("reading the page's body: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_name_parameters_and_reject_half_segments() {
        assert_eq!(shape_of("/counts/{word}").unwrap(), "/counts/{}");
        assert_eq!(shape_of("/").unwrap(), "/");
        assert!(shape_of("counts").unwrap_err().contains("starts with `/`"));
        assert!(
            shape_of("/counts/w{word}")
                .unwrap_err()
                .contains("whole segment")
        );
    }

    fn never(_: &CommandArgs) -> Result<PageFuture> {
        Err(Error::config("not run in these tests"))
    }

    const fn page(path: &'static str, line: u32) -> PageDef {
        PageDef {
            path,
            doc: "",
            args: &[],
            location: crate::app::registry::Location {
                module: "pages",
                file: "pages.rs",
                line,
            },
            run: never,
        }
    }

    #[test]
    fn pages_may_not_take_built_in_routes_or_each_others() {
        static COUNTS: PageDef = page("/counts/{word}", 1);
        static SAME_SHAPE: PageDef = page("/counts/{other}", 2);
        static METRICS: PageDef = page("/metrics", 3);
        static TABLES: PageDef = page("/tables/{a}/{b}", 4);
        static BAD: PageDef = page("/a/x{y}", 5);
        assert!(
            check(&[&COUNTS, &COUNTS]).is_ok(),
            "listed twice is one page"
        );
        let e = check(&[&COUNTS, &SAME_SHAPE]).unwrap_err().to_string();
        assert!(e.contains("are the same route"), "{e}");
        assert!(e.contains("pages.rs:1") && e.contains("pages.rs:2"), "{e}");
        for def in [&METRICS, &TABLES] {
            let e = check(&[def]).unwrap_err().to_string();
            assert!(e.contains("the web endpoint serves itself"), "{e}");
        }
        let e = check(&[&BAD]).unwrap_err().to_string();
        assert!(e.contains("whole segment"), "{e}");
    }

    #[test]
    fn replies_carry_their_type_and_status() {
        let reply = vec![1, 2].into_reply();
        assert_eq!(reply.content_type(), "application/json");
        assert_eq!(reply.json_body(), serde_json::json!([1, 2]));
        let map: HashMap<(u8, u8), u8> = [((1, 2), 3)].into();
        let bad = Reply::json(&map);
        assert_eq!(bad.status(), 500);
        assert!(bad.text_body().contains("not JSON"), "{}", bad.text_body());
        assert_eq!(Reply::text("hi").with_status(201).status(), 201);
    }
}
