//! Who may talk to the UI/API: the page opened from the launch URL. Every API request must carry
//! `Authorization: Bearer <launch token>`; the page keeps the token from its launch URL in
//! sessionStorage. No cookie: a browser sends cookies for 127.0.0.1 to every port of it, so any
//! other local server would receive the token. The page itself and its static assets hold no
//! data and are served without the token (a launch URL with a wrong token is refused). The Host
//! header must name this loopback listener (no DNS rebinding) and an Origin, when sent, must be
//! this listener's. Every answer carries a strict Content-Security-Policy.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// Content-Security-Policy of every answer: only this origin's scripts, styles and connections.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// A random per-launch token.
#[derive(Clone)]
pub struct LaunchToken(Arc<str>);

impl std::fmt::Debug for LaunchToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LaunchToken(..)")
    }
}

impl LaunchToken {
    /// 32 random bytes from the OS, as hex.
    pub fn generate() -> Result<LaunchToken, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(LaunchToken(
            bytes
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                .into(),
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn matches(&self, presented: &str) -> bool {
        let a = presented.as_bytes();
        let b = self.0.as_bytes();
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

#[derive(Clone)]
pub struct Guard {
    pub token: LaunchToken,
    pub addr: SocketAddr,
}

impl Guard {
    fn host_allowed(&self, host: &str) -> bool {
        let port = self.addr.port();
        [
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
            self.addr.to_string(),
        ]
        .iter()
        .any(|allowed| allowed.eq_ignore_ascii_case(host))
    }

    fn presented_token<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|auth| auth.strip_prefix("Bearer "))
    }
}

fn plain(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.to_owned(),
    )
        .into_response()
}

fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// The middleware in front of every UI/API route.
pub async fn check(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !guard.host_allowed(host) {
        return secure(plain(
            StatusCode::MISDIRECTED_REQUEST,
            "unexpected Host header: open the address `ccscope serve` printed",
        ));
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok())
        && !origin
            .strip_prefix("http://")
            .is_some_and(|o| guard.host_allowed(o))
    {
        return secure(plain(
            StatusCode::FORBIDDEN,
            "cross-origin requests are refused",
        ));
    }
    if request.method() != Method::GET
        && request.method() != Method::HEAD
        && headers.get(header::ORIGIN).is_none()
    {
        // Browsers send Origin on every state-changing request; its absence means a script or
        // a forged form, which must use the bearer header instead.
        if !headers.contains_key(header::AUTHORIZATION) {
            return secure(plain(
                StatusCode::FORBIDDEN,
                "state-changing requests need an Origin header",
            ));
        }
    }
    // The launch URL: a wrong token is refused at once; the page takes a right one from the
    // address bar into its sessionStorage.
    if request.uri().path() == "/"
        && let Some(query) = request.uri().query()
        && let Some(token) = query.split('&').find_map(|p| p.strip_prefix("token="))
        && !guard.token.matches(token)
    {
        return secure(plain(
            StatusCode::UNAUTHORIZED,
            "this launch token is not valid (ccscope makes a new one at every start): open the address `ccscope serve` printed",
        ));
    }
    // The page and its assets hold no data.
    if !request.uri().path().starts_with("/api/") {
        return secure(next.run(request).await);
    }
    if !guard
        .presented_token(headers)
        .is_some_and(|t| guard.token.matches(t))
    {
        return secure(plain(
            StatusCode::UNAUTHORIZED,
            "ccscope needs the launch token: open the address `ccscope serve` printed (it ends in ?token=…)",
        ));
    }
    secure(next.run(request).await)
}
