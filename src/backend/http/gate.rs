//! Gates: the server answers before plugins have started; requests to a plugin wait for it
//! (up to `backend.lifecycle.startupRequestPauseTimeout`) and then go to its router.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;
use tower::ServiceExt;

use super::error::ApiError;

#[derive(Clone)]
pub(crate) enum GateState {
    Pending,
    Open(Router),
    Failed(String),
}

#[derive(Clone)]
pub(crate) struct Gate {
    name: Arc<str>,
    state: watch::Sender<GateState>,
    pause: Duration,
}

impl Gate {
    pub(crate) fn new(name: &str, pause: Duration) -> Self {
        let (state, _) = watch::channel(GateState::Pending);
        Self {
            name: Arc::from(name),
            state,
            pause,
        }
    }

    pub(crate) fn open(&self, router: Router) {
        self.state.send_replace(GateState::Open(router));
    }

    pub(crate) fn fail(&self, message: String) {
        self.state.send_replace(GateState::Failed(message));
    }

    async fn dispatch(&self, req: Request) -> Response {
        let mut rx = self.state.subscribe();
        let state = match tokio::time::timeout(
            self.pause,
            rx.wait_for(|s| !matches!(s, GateState::Pending)),
        )
        .await
        {
            Ok(Ok(state)) => state.clone(),
            _ => GateState::Pending,
        };
        match state {
            GateState::Open(router) => match router.oneshot(req).await {
                Ok(res) => res,
                Err(never) => match never {},
            },
            GateState::Failed(message) => ApiError::service_unavailable(message).into_response(),
            GateState::Pending => {
                ApiError::service_unavailable(format!("{} has not started yet", self.name))
                    .into_response()
            }
        }
    }

    /// A tower service dispatching through the gate.
    pub(crate) fn service(&self) -> GateService {
        GateService(self.clone())
    }
}

/// The tower service of a [`Gate`].
#[derive(Clone)]
pub(crate) struct GateService(Gate);

impl tower::Service<Request> for GateService {
    type Response = Response;
    type Error = Infallible;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let gate = self.0.clone();
        Box::pin(async move { Ok(gate.dispatch(req).await) })
    }
}
