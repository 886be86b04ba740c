//! The app tree: extensions resolved into an arena of nodes, then instantiated depth-first.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::config::ExtensionParams;
use super::data_ref::Outputs;
use super::error::{AppError, AppWarning};
use super::extension::{AttachTo, Extension, ExtensionContext, InputItem, Inputs, ParsedConfig};
use super::input::Cardinality;
use super::routing::RouteResolver;
use crate::services::config::Config;

/// The index of a node in an [`AppTree`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(usize);

/// Where an extension came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    App,
    Plugin(String),
    Override,
}

impl Source {
    fn describe(&self) -> String {
        match self {
            Self::App => "the app".to_string(),
            Self::Plugin(id) => format!("plugin '{id}'"),
            Self::Override => "the overrides".to_string(),
        }
    }
}

/// An extension ready to be placed in the tree.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) id: String,
    pub(crate) extension: Extension,
    pub(crate) source: Source,
}

/// One extension in the app tree.
#[derive(Debug)]
pub struct AppNode {
    id: String,
    source: Source,
    extension: Extension,
    attach_to: Option<AttachTo>,
    disabled: bool,
    config: Option<Value>,
    parsed_config: Option<ParsedConfig>,
    parent: Option<NodeId>,
    children: Vec<(String, Vec<NodeId>)>,
    outputs: Option<Outputs>,
}

impl AppNode {
    /// The extension id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The plugin that provided the extension, if any.
    pub fn plugin_id(&self) -> Option<&str> {
        match &self.source {
            Source::Plugin(id) => Some(id),
            _ => None,
        }
    }

    /// The extension.
    pub fn extension(&self) -> &Extension {
        &self.extension
    }

    /// Where the node attaches after config (`None` for the root).
    pub fn attach_to(&self) -> Option<&AttachTo> {
        self.attach_to.as_ref()
    }

    /// Whether the node is enabled after config.
    pub fn is_enabled(&self) -> bool {
        !self.disabled
    }

    /// The parent node, when attached.
    pub fn parent(&self) -> Option<NodeId> {
        self.parent
    }

    /// The enabled and disabled children attached to `input`, in order.
    pub fn children(&self, input: &str) -> &[NodeId] {
        self.children
            .iter()
            .find(|(n, _)| n == input)
            .map(|(_, c)| c.as_slice())
            .unwrap_or(&[])
    }

    /// The factory's outputs, once instantiated (only active nodes are).
    pub fn outputs(&self) -> Option<&Outputs> {
        self.outputs.as_ref()
    }

    /// Whether the factory ran.
    pub fn is_instantiated(&self) -> bool {
        self.outputs.is_some()
    }
}

/// The app's extensions as a tree stored in an arena; the root is `app`.
///
/// ```
/// use backlot::frontend::App;
///
/// let app = App::builder().build()?;
/// let tree = app.tree();
/// let root = tree.root().ok_or("no root")?;
/// assert_eq!(root.id(), "app");
/// let nav = tree.get("app/nav").ok_or("no nav")?;
/// assert!(nav.is_instantiated());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct AppTree {
    nodes: Vec<AppNode>,
    by_id: HashMap<String, NodeId>,
    root: Option<NodeId>,
    order: Vec<NodeId>,
}

impl AppTree {
    /// The root node `app`.
    pub fn root(&self) -> Option<&AppNode> {
        self.root.map(|r| &self.nodes[r.0])
    }

    /// The node with an extension id.
    pub fn get(&self, id: &str) -> Option<&AppNode> {
        self.by_id.get(id).map(|n| &self.nodes[n.0])
    }

    /// The node at an index.
    pub fn node(&self, id: NodeId) -> Option<&AppNode> {
        self.nodes.get(id.0)
    }

    /// Every node, in resolution order.
    pub fn nodes(&self) -> impl Iterator<Item = &AppNode> {
        self.nodes.iter()
    }

    /// The ids of the instantiated nodes, in the order their factories ran.
    pub fn instantiated_ids(&self) -> Vec<&str> {
        self.order
            .iter()
            .map(|n| self.nodes[n.0].id.as_str())
            .collect()
    }

    /// The path of route segments from the root to a node: the `core.routing.path` outputs of
    /// its routable ancestors and itself.
    pub(crate) fn route_path_chain(&self, node: NodeId) -> Vec<String> {
        let mut chain = Vec::new();
        let mut at = Some(node);
        while let Some(id) = at {
            let n = &self.nodes[id.0];
            if let Some(path) = n
                .outputs
                .as_ref()
                .and_then(|o| o.get(&super::core_data::ROUTE_PATH))
            {
                chain.push(path.clone());
            }
            at = n.parent;
        }
        chain.reverse();
        chain
    }

    pub(crate) fn node_ids(&self) -> impl Iterator<Item = NodeId> {
        (0..self.nodes.len()).map(NodeId)
    }
}

/// Merges app, plugin and override extensions: plugin duplicates are errors; overrides replace
/// in place or are appended.
pub(crate) fn merge_entries(
    base: Vec<Entry>,
    overrides: Vec<Entry>,
) -> Result<Vec<Entry>, AppError> {
    let mut out: Vec<Entry> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for entry in base {
        if let Some(&i) = index.get(&entry.id) {
            return Err(AppError::DuplicateExtension {
                id: entry.id,
                first: out[i].source.describe(),
                second: entry.source.describe(),
            });
        }
        index.insert(entry.id.clone(), out.len());
        out.push(entry);
    }
    let mut seen_overrides = HashSet::new();
    for entry in overrides {
        if !seen_overrides.insert(entry.id.clone()) {
            return Err(AppError::DuplicateExtension {
                id: entry.id.clone(),
                first: Source::Override.describe(),
                second: Source::Override.describe(),
            });
        }
        match index.get(&entry.id) {
            Some(&i) => out[i] = entry,
            None => {
                index.insert(entry.id.clone(), out.len());
                out.push(entry);
            }
        }
    }
    Ok(out)
}

/// Builds the tree from entries and `app.extensions` params; detached extensions become
/// warnings.
pub(crate) fn resolve(
    entries: Vec<Entry>,
    params: Vec<ExtensionParams>,
) -> Result<(AppTree, Vec<AppWarning>), AppError> {
    let mut nodes: Vec<AppNode> = entries
        .into_iter()
        .map(|e| AppNode {
            attach_to: e.extension.attach_to().cloned(),
            disabled: e.extension.is_disabled(),
            id: e.id,
            source: e.source,
            children: e
                .extension
                .inputs()
                .map(|(name, _)| (name.to_string(), Vec::new()))
                .collect(),
            extension: e.extension,
            config: None,
            parsed_config: None,
            parent: None,
            outputs: None,
        })
        .collect();

    // Apply config; extensions that config enables move to the end, in config order.
    let mut moved: Vec<usize> = Vec::new();
    for p in params {
        let Some(i) = nodes.iter().position(|n| n.id == p.id) else {
            return Err(AppError::UnknownConfiguredExtension { id: p.id });
        };
        let node = &mut nodes[i];
        if let Some(attach) = p.attach_to {
            node.attach_to = Some(attach);
        }
        if let Some(disabled) = p.disabled {
            if node.disabled && !disabled {
                moved.push(i);
            }
            node.disabled = disabled;
        }
        if p.config.is_some() {
            node.config = p.config;
        }
    }
    if !moved.is_empty() {
        let mut taken: Vec<Option<AppNode>> = nodes.into_iter().map(Some).collect();
        let mut reordered = Vec::with_capacity(taken.len());
        let moved_set: HashSet<usize> = moved.iter().copied().collect();
        for (i, slot) in taken.iter_mut().enumerate() {
            if !moved_set.contains(&i) {
                reordered.extend(slot.take());
            }
        }
        for i in moved {
            reordered.extend(taken[i].take());
        }
        nodes = reordered;
    }

    let mut tree = AppTree {
        by_id: nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.clone(), NodeId(i)))
            .collect(),
        nodes,
        root: None,
        order: Vec::new(),
    };
    tree.root = tree.by_id.get("app").copied();

    let mut warnings = Vec::new();
    for i in 0..tree.nodes.len() {
        let Some(attach) = tree.nodes[i].attach_to.clone() else {
            continue;
        };
        let Some(&parent) = tree.by_id.get(&attach.id) else {
            warnings.push(AppWarning::UnknownParent {
                extension: tree.nodes[i].id.clone(),
                parent: attach.id,
            });
            continue;
        };
        let slot = tree.nodes[parent.0]
            .children
            .iter_mut()
            .find(|(n, _)| *n == attach.input);
        match slot {
            Some((_, children)) if parent.0 != i => {
                children.push(NodeId(i));
                tree.nodes[i].parent = Some(parent);
            }
            _ => warnings.push(AppWarning::UnknownInput {
                extension: tree.nodes[i].id.clone(),
                parent: attach.id,
                input: attach.input,
            }),
        }
    }
    Ok((tree, warnings))
}

fn enabled_children(tree: &AppTree, node: NodeId, input: &str) -> Vec<NodeId> {
    tree.nodes[node.0]
        .children(input)
        .iter()
        .copied()
        .filter(|c| !tree.nodes[c.0].disabled)
        .collect()
}

/// Checks the active part of the tree (cardinality, data, config), then runs the factories of
/// active nodes depth-first, children before parents.
pub(crate) fn instantiate(
    tree: &mut AppTree,
    app_config: &Config,
    routes: &RouteResolver,
) -> Result<(), AppError> {
    let root = match tree.root {
        Some(r) if !tree.nodes[r.0].disabled => r,
        _ => return Err(AppError::MissingRoot),
    };
    validate(tree, root)?;
    instantiate_node(tree, root, app_config, routes)
}

fn validate(tree: &mut AppTree, node: NodeId) -> Result<(), AppError> {
    let parsed = {
        let n = &tree.nodes[node.0];
        n.extension
            .parse_config(n.config.as_ref())
            .map_err(|reason| AppError::ExtensionConfig {
                extension: n.id.clone(),
                reason,
            })?
    };
    tree.nodes[node.0].parsed_config = Some(parsed);
    let inputs: Vec<(String, super::input::ExtensionInput)> = tree.nodes[node.0]
        .extension
        .inputs()
        .map(|(n, i)| (n.to_string(), i.clone()))
        .collect();
    for (name, input) in inputs {
        let children = enabled_children(tree, node, &name);
        let parent_id = tree.nodes[node.0].id.clone();
        match input.cardinality() {
            Cardinality::One | Cardinality::Maybe if children.len() > 1 => {
                return Err(AppError::SingletonInputConflict {
                    extension: parent_id,
                    input: name,
                    children: children
                        .iter()
                        .map(|c| tree.nodes[c.0].id.clone())
                        .collect(),
                });
            }
            Cardinality::One if children.is_empty() => {
                return Err(AppError::MissingRequiredInput {
                    extension: parent_id,
                    input: name,
                });
            }
            _ => {}
        }
        for child in children {
            let c = &tree.nodes[child.0];
            let missing: Vec<String> = input
                .data_refs()
                .iter()
                .filter(|r| !r.is_optional())
                .filter(|r| !c.extension.outputs().iter().any(|o| o.same_data(r)))
                .map(|r| r.id().to_string())
                .collect();
            if !missing.is_empty() {
                return Err(AppError::UnacceptedData {
                    extension: c.id.clone(),
                    parent: parent_id,
                    input: name,
                    missing,
                });
            }
            validate(tree, child)?;
        }
    }
    Ok(())
}

fn instantiate_node(
    tree: &mut AppTree,
    node: NodeId,
    app_config: &Config,
    routes: &RouteResolver,
) -> Result<(), AppError> {
    let input_names: Vec<String> = tree.nodes[node.0]
        .extension
        .inputs()
        .map(|(n, _)| n.to_string())
        .collect();
    let mut inputs = Inputs {
        extension: tree.nodes[node.0].id.clone(),
        items: HashMap::new(),
    };
    for name in input_names {
        let mut items = Vec::new();
        for child in enabled_children(tree, node, &name) {
            instantiate_node(tree, child, app_config, routes)?;
            let c = &tree.nodes[child.0];
            let outputs = c.outputs.clone().unwrap_or_default();
            if let Some(input) = tree.nodes[node.0].extension.input(&name) {
                let missing: Vec<String> = input
                    .data_refs()
                    .iter()
                    .filter(|r| !r.is_optional() && !outputs.contains(r.id()))
                    .map(|r| r.id().to_string())
                    .collect();
                if !missing.is_empty() {
                    return Err(AppError::UnacceptedData {
                        extension: c.id.clone(),
                        parent: tree.nodes[node.0].id.clone(),
                        input: name,
                        missing,
                    });
                }
            }
            items.push(InputItem {
                id: c.id.clone(),
                outputs,
            });
        }
        inputs.items.insert(name, items);
    }
    let n = &tree.nodes[node.0];
    let unit: ParsedConfig = std::sync::Arc::new(());
    let config = n.parsed_config.as_ref().unwrap_or(&unit);
    let ctx = ExtensionContext {
        id: &n.id,
        plugin: n.plugin_id(),
        config,
        config_type: n.extension.spec.config_type,
        inputs: &inputs,
        app_config,
        routes,
    };
    let outputs = n
        .extension
        .run_factory(&ctx)
        .map_err(|source| AppError::Factory {
            extension: n.id.clone(),
            source,
        })?;
    for declared in n.extension.outputs() {
        if !declared.is_optional() && !outputs.contains(declared.id()) {
            return Err(AppError::MissingOutput {
                extension: n.id.clone(),
                data_ref: declared.id().to_string(),
            });
        }
    }
    for id in outputs.ids() {
        let ok = n
            .extension
            .outputs()
            .iter()
            .any(|d| d.id() == id && outputs.raw(id).is_some_and(|v| v.type_id == d.type_id()));
        if !ok {
            return Err(AppError::UndeclaredOutput {
                extension: n.id.clone(),
                data_ref: id.to_string(),
            });
        }
    }
    tree.nodes[node.0].outputs = Some(outputs);
    tree.order.push(node);
    Ok(())
}
