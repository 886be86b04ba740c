//! What the scaffolder's backend and its clients share: the wire types of `/api/scaffolder/v2`
//! (tasks, their events, the action list) and the plugin's permissions.

pub mod permissions;
mod task;

pub use task::{
    ActionExample, ActionInfo, ActionSchema, SerializedTask, SerializedTaskEvent, TaskEventBody,
    TaskEventType, TaskSpec, TaskStatus, TaskStep, TaskUser, TemplateInfo,
};
