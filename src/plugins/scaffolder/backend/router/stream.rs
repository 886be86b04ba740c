//! `GET /v2/tasks/{id}/eventstream`: the task's events as server-sent events, resumable by
//! `?after=` or `Last-Event-ID`, ended after the `completion` event. Each stream holds a
//! permit of `scaffolder.eventStream.maxOpenStreams`; without one the answer is 503.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, watch};

use super::tasks::{parse_after, readable_task};
use super::{AppState, Caller, Shared};
use crate::backend::ApiError;

struct StreamState {
    state: Arc<AppState>,
    task_id: String,
    after: Option<i64>,
    rx: watch::Receiver<u64>,
    done: bool,
    deadline: tokio::time::Instant,
    recoverable: bool,
    _permit: OwnedSemaphorePermit,
}

pub(super) async fn eventstream(
    State(state): Shared,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut after = parse_after(q.as_deref())?;
    if after.is_none()
        && let Some(v) = headers.get("last-event-id").and_then(|v| v.to_str().ok())
    {
        after = Some(v.trim().parse::<i64>().map_err(|_| {
            ApiError::input(format!("invalid Last-Event-ID '{v}': expected an event id"))
        })?);
    }
    let task = readable_task(&state, &caller, &id).await?;
    let permit = Arc::clone(&state.streams).try_acquire_owned().map_err(|_| {
        ApiError::service_unavailable(
            "too many open event streams (scaffolder.eventStream.maxOpenStreams); try again later",
        )
    })?;
    let rx = state.engine.store.hub().subscribe(&id);
    let deadline = tokio::time::Instant::now() + state.engine.config.stream_max_duration;
    let init = StreamState {
        state: Arc::clone(&state),
        task_id: id,
        after,
        rx,
        done: false,
        deadline,
        recoverable: task.recovers_by_starting_over(),
        _permit: permit,
    };
    let events = stream::unfold(init, next_batch).flat_map(stream::iter);
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

type Batch = Vec<Result<Event, Infallible>>;

async fn next_batch(mut s: StreamState) -> Option<(Batch, StreamState)> {
    if s.done {
        return None;
    }
    loop {
        let config = &s.state.engine.config;
        let listed = s
            .state
            .engine
            .store
            .list_events(&s.task_id, s.after, config.max_events_per_request)
            .await;
        let events = match listed {
            Ok(e) => e,
            Err(_) => {
                // The database is unavailable; end the stream, the client resumes with
                // Last-Event-ID.
                return None;
            }
        };
        let mut batch: Batch = Vec::new();
        for e in &events {
            if s.after.is_some_and(|a| e.id <= a) && e.event_type != "completion" {
                continue;
            }
            let data = e.to_json(s.recoverable).to_string();
            batch.push(Ok(Event::default()
                .event(e.event_type.clone())
                .id(e.id.to_string())
                .data(data)));
            s.after = Some(s.after.map_or(e.id, |a| a.max(e.id)));
            if e.event_type == "completion" {
                s.done = true;
                break;
            }
        }
        if !batch.is_empty() {
            return Some((batch, s));
        }
        let poll = config.stream_poll_interval;
        let deadline = s.deadline;
        tokio::select! {
            changed = s.rx.changed() => {
                if changed.is_err() {
                    tokio::time::sleep(poll).await;
                }
            }
            () = tokio::time::sleep(poll) => {}
            () = tokio::time::sleep_until(deadline) => return None,
        }
    }
}
