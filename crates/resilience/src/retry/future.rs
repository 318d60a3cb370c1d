//! The response future of [`Retry`](super::Retry).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tokio::time::{Sleep, sleep};
use tower::Service;

use super::{Next, RetryPolicy};
use crate::classify::Classify;
use crate::error::BoxError;

pin_project! {
    #[project = StateProj]
    #[derive(Debug)]
    enum State<F> {
        /// An attempt is running.
        Calling { #[pin] future: F },
        /// Backing off before the next attempt.
        Waiting { #[pin] sleep: Sleep },
        /// Waiting for the service to be ready for the next attempt.
        Readying,
    }
}

pin_project! {
    /// Attempts, backoffs and readiness waits until the policy returns a result.
    pub struct ResponseFuture<S, Req, C>
    where
        S: Service<Req>,
    {
        service: S,
        request: Req,
        policy: RetryPolicy<C>,
        attempt: u32,
        #[pin]
        state: State<S::Future>,
    }
}

impl<S, Req, C> std::fmt::Debug for ResponseFuture<S, Req, C>
where
    S: Service<Req>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("policy", &self.policy)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

impl<S, Req, C> ResponseFuture<S, Req, C>
where
    S: Service<Req>,
{
    pub(crate) fn new(service: S, request: Req, policy: RetryPolicy<C>, future: S::Future) -> Self {
        ResponseFuture {
            service,
            request,
            policy,
            attempt: 1,
            state: State::Calling { future },
        }
    }
}

impl<S, Req, C> Future for ResponseFuture<S, Req, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    Req: Clone,
    C: Classify<S::Response, S::Error>,
{
    type Output = Result<S::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Calling { future } => {
                    let result = ready!(future.poll(cx));
                    match this.policy.next(&result, *this.attempt) {
                        Next::Return => return Poll::Ready(result.map_err(Into::into)),
                        Next::RetryAfter(delay) => this.state.set(State::Waiting {
                            sleep: sleep(delay),
                        }),
                    }
                }
                StateProj::Waiting { sleep } => {
                    ready!(sleep.poll(cx));
                    this.state.set(State::Readying);
                }
                StateProj::Readying => {
                    if let Err(e) = ready!(this.service.poll_ready(cx)) {
                        return Poll::Ready(Err(e.into()));
                    }
                    *this.attempt += 1;
                    let future = this.service.call(this.request.clone());
                    this.state.set(State::Calling { future });
                }
            }
        }
    }
}
