//! Extensions: the building blocks of an app, and their builder.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::data_ref::{AnyDataRef, ExtensionDataRef, Outputs};
use super::error::AppError;
use super::id::ExtensionId;
use super::input::{ExtensionInput, InputName, InputRef, IntoInputDeclaration};
use super::routing::RouteResolver;
use crate::backend::BoxError;
use crate::services::config::Config;

type FactoryFn = Arc<dyn Fn(&ExtensionContext<'_>) -> Result<Outputs, BoxError> + Send + Sync>;

/// The original factory an [`Extension::override_factory`] factory may call.
pub type OriginalFactory<'a> = dyn Fn(&ExtensionContext<'_>) -> Result<Outputs, BoxError> + 'a;
pub(crate) type ParsedConfig = Arc<dyn Any + Send + Sync>;
type ConfigParser = Arc<dyn Fn(Option<&Value>) -> Result<ParsedConfig, String> + Send + Sync>;

/// Where an extension attaches: a parent extension id and one of its inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachTo {
    /// The parent extension id.
    pub id: String,
    /// The input name.
    pub input: String,
}

impl From<&InputRef> for AttachTo {
    fn from(input: &InputRef) -> Self {
        Self::new(input.extension(), input.name())
    }
}

impl From<(&str, &str)> for AttachTo {
    fn from((id, input): (&str, &str)) -> Self {
        Self::new(id, input)
    }
}

impl AttachTo {
    /// `attachTo: { id, input }`.
    pub fn new(id: impl Into<String>, input: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            input: input.into(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct ExtensionSpec {
    pub(crate) kind: Option<String>,
    pub(crate) namespace: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) attach_to: Option<AttachTo>,
    pub(crate) disabled: bool,
    pub(crate) inputs: Vec<(String, ExtensionInput)>,
    pub(crate) outputs: Vec<AnyDataRef>,
    pub(crate) config: ConfigParser,
    pub(crate) config_type: &'static str,
    pub(crate) factory: FactoryFn,
}

/// An extension: an id, where it attaches, its inputs, its outputs, its config and a factory.
///
/// Made with [`Extension::builder`] (or a blueprint). Cloning is cheap.
///
/// ```
/// use backlot::frontend::{Extension, ExtensionDataRef, Outputs};
///
/// static GREETING: ExtensionDataRef<String> = ExtensionDataRef::new("demo.greeting");
///
/// #[derive(serde::Deserialize, Default)]
/// #[serde(default)]
/// struct GreetingConfig {
///     name: Option<String>,
/// }
///
/// let ext = Extension::builder("greeting", "hello")
///     .namespace("demo")
///     .attach_to(("app/nav", "items"))
///     .config::<GreetingConfig>()
///     .output(&[GREETING.any()])
///     .factory(|_ctx, config: &GreetingConfig| {
///         let name = config.name.clone().unwrap_or_else(|| "world".into());
///         Ok(Outputs::new().with(&GREETING, format!("hello {name}")))
///     });
/// assert_eq!(ext.id()?.to_string(), "greeting:demo/hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Extension {
    pub(crate) spec: Arc<ExtensionSpec>,
}

impl fmt::Debug for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extension")
            .field("id", &self.id_string())
            .field("attach_to", &self.spec.attach_to)
            .field("disabled", &self.spec.disabled)
            .field(
                "inputs",
                &self.spec.inputs.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("outputs", &self.spec.outputs)
            .finish_non_exhaustive()
    }
}

impl Extension {
    /// Starts an extension of `kind` named `name`; either may be empty. The namespace defaults
    /// to the id of the plugin the extension is given to.
    pub fn builder(kind: &str, name: &str) -> ExtensionBuilder {
        ExtensionBuilder::new(
            Some(kind).filter(|k| !k.is_empty()).map(str::to_string),
            None,
            Some(name).filter(|n| !n.is_empty()).map(str::to_string),
        )
    }

    /// Starts an extension with a complete id, such as `nav-item:catalog` — handy for overrides,
    /// which must name the id they replace. A malformed id is reported by
    /// [`AppBuilder::build`](super::AppBuilder::build).
    ///
    /// ```
    /// use backlot::frontend::Extension;
    ///
    /// let ext = Extension::with_id("nav-item:catalog").disabled(true).factory(|_| Ok(Default::default()));
    /// assert_eq!(ext.id()?.to_string(), "nav-item:catalog");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_id(id: &str) -> ExtensionBuilder {
        match ExtensionId::parse(id) {
            Ok(parsed) => ExtensionBuilder::new(
                parsed.kind().map(str::to_string),
                parsed.namespace().map(str::to_string),
                parsed.name().map(str::to_string),
            ),
            // Keep the raw text so that `build` reports the malformed id.
            Err(_) => ExtensionBuilder::new(None, Some(id.to_string()), None),
        }
    }

    /// The extension id; fails when its parts are malformed.
    pub fn id(&self) -> Result<ExtensionId, AppError> {
        ExtensionId::new(
            self.spec.kind.as_deref(),
            self.spec.namespace.as_deref(),
            self.spec.name.as_deref(),
        )
    }

    pub(crate) fn id_string(&self) -> String {
        match self.id() {
            Ok(id) => id.to_string(),
            Err(_) => format!(
                "{}{}{}",
                self.spec
                    .kind
                    .as_deref()
                    .map(|k| format!("{k}:"))
                    .unwrap_or_default(),
                self.spec.namespace.as_deref().unwrap_or_default(),
                self.spec
                    .name
                    .as_deref()
                    .map(|n| format!("/{n}"))
                    .unwrap_or_default()
            ),
        }
    }

    /// Where the extension attaches (`None` only for the root `app`).
    pub fn attach_to(&self) -> Option<&AttachTo> {
        self.spec.attach_to.as_ref()
    }

    /// Whether the extension is disabled unless config enables it.
    pub fn is_disabled(&self) -> bool {
        self.spec.disabled
    }

    /// The declared inputs.
    pub fn inputs(&self) -> impl Iterator<Item = (&str, &ExtensionInput)> {
        self.spec.inputs.iter().map(|(n, i)| (n.as_str(), i))
    }

    /// The declared outputs.
    pub fn outputs(&self) -> &[AnyDataRef] {
        &self.spec.outputs
    }

    pub(crate) fn input(&self, name: &str) -> Option<&ExtensionInput> {
        self.spec
            .inputs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, i)| i)
    }

    /// A new extension with the same id, attachment, inputs, outputs and config whose factory
    /// wraps this one's, like Backstage's `extension.override({ factory })`: call `original`
    /// to get the original outputs (a later value per data ref wins), or ignore it. Give the
    /// result to the app as an override.
    ///
    /// ```
    /// use backlot::frontend::{App, NavItemBlueprint, RouteRef, core_data};
    ///
    /// static HOME: RouteRef = RouteRef::new("home.root");
    /// let item = NavItemBlueprint::new("Home", &HOME).namespace("home").build();
    /// let louder = item.override_factory(|ctx, original| {
    ///     let mut out = original(ctx)?;
    ///     if let Some(mut nav) = out.get(&core_data::NAV_ITEM).cloned() {
    ///         nav.title = nav.title.to_uppercase();
    ///         out.insert(&core_data::NAV_ITEM, nav);
    ///     }
    ///     Ok(out)
    /// });
    /// assert_eq!(louder.id()?.to_string(), "nav-item:home");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn override_factory(
        &self,
        factory: impl Fn(&ExtensionContext<'_>, &OriginalFactory<'_>) -> Result<Outputs, BoxError>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        let original = self.spec.factory.clone();
        let mut spec = (*self.spec).clone();
        spec.factory = Arc::new(move |ctx| factory(ctx, &|c: &ExtensionContext<'_>| original(c)));
        Self {
            spec: Arc::new(spec),
        }
    }

    pub(crate) fn with_default_namespace(&self, namespace: &str) -> Self {
        if self.spec.namespace.is_some() {
            return self.clone();
        }
        let mut spec = (*self.spec).clone();
        spec.namespace = Some(namespace.to_string());
        Self {
            spec: Arc::new(spec),
        }
    }

    pub(crate) fn parse_config(&self, value: Option<&Value>) -> Result<ParsedConfig, String> {
        (self.spec.config)(value)
    }

    pub(crate) fn run_factory(&self, ctx: &ExtensionContext<'_>) -> Result<Outputs, BoxError> {
        (self.spec.factory)(ctx)
    }
}

/// Builds an [`Extension`]; see [`Extension::builder`].
///
/// ```
/// use backlot::frontend::{Extension, ExtensionInput, Outputs, core_data};
///
/// // A parent with an input, and a child feeding it.
/// let list = Extension::builder("", "list")
///     .namespace("demo")
///     .attach_to(&core_data::APP_APIS)
///     .disabled(true)
///     .input(("items", ExtensionInput::many(&[core_data::TITLE.any()])))
///     .factory(|ctx| {
///         let titles: Vec<String> = ctx
///             .inputs()
///             .many("items")?
///             .iter()
///             .filter_map(|item| item.get(&core_data::TITLE).cloned())
///             .collect();
///         assert!(titles.len() <= 1);
///         Ok(Outputs::new())
///     });
/// assert!(list.is_disabled());
/// ```
#[must_use]
pub struct ExtensionBuilder<C = NoConfig> {
    spec: ExtensionSpec,
    _config: PhantomData<fn() -> C>,
}

/// The config type of an extension that takes none (before
/// [`ExtensionBuilder::config`]); its factory gets only the context.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoConfig;

impl<C> Clone for ExtensionBuilder<C> {
    fn clone(&self) -> Self {
        Self {
            spec: self.spec.clone(),
            _config: PhantomData,
        }
    }
}

impl<C> fmt::Debug for ExtensionBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtensionBuilder")
            .field("kind", &self.spec.kind)
            .field("namespace", &self.spec.namespace)
            .field("name", &self.spec.name)
            .finish_non_exhaustive()
    }
}

fn no_config(value: Option<&Value>) -> Result<ParsedConfig, String> {
    match value {
        None | Some(Value::Null) => Ok(Arc::new(())),
        Some(Value::Object(map)) if map.is_empty() => Ok(Arc::new(())),
        Some(_) => Err("this extension takes no config".to_string()),
    }
}

impl ExtensionBuilder<NoConfig> {
    fn new(kind: Option<String>, namespace: Option<String>, name: Option<String>) -> Self {
        Self {
            _config: PhantomData,
            spec: ExtensionSpec {
                kind,
                namespace,
                name,
                attach_to: None,
                disabled: false,
                inputs: Vec::new(),
                outputs: Vec::new(),
                config: Arc::new(no_config),
                config_type: "()",
                factory: Arc::new(|_| Ok(Outputs::new())),
            },
        }
    }

    /// Sets the factory and finishes the extension. The factory runs once when the app is
    /// built, after the factories of its children; keep it cheap.
    pub fn factory(
        mut self,
        factory: impl Fn(&ExtensionContext<'_>) -> Result<Outputs, BoxError> + Send + Sync + 'static,
    ) -> Extension {
        self.spec.factory = Arc::new(factory);
        Extension {
            spec: Arc::new(self.spec),
        }
    }
}

impl<C: DeserializeOwned + Default + Send + Sync + 'static> ExtensionBuilder<C> {
    /// Sets the factory and finishes the extension; the factory gets the parsed config as
    /// `&C`. It runs once when the app is built, after the factories of its children.
    pub fn factory(
        mut self,
        factory: impl Fn(&ExtensionContext<'_>, &C) -> Result<Outputs, BoxError> + Send + Sync + 'static,
    ) -> Extension {
        self.spec.factory = Arc::new(move |ctx| factory(ctx, ctx.config::<C>()?));
        Extension {
            spec: Arc::new(self.spec),
        }
    }
}

impl<C> ExtensionBuilder<C> {
    /// Sets the namespace (by default the plugin id).
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.spec.namespace = Some(namespace.to_string()).filter(|n| !n.is_empty());
        self
    }

    /// Attaches the extension to an input of its parent: an [`InputRef`] the parent declared
    /// (`.attach_to(&SECTIONS)`), or `(parent_id, input_name)` for an ad-hoc input.
    pub fn attach_to(mut self, target: impl Into<AttachTo>) -> Self {
        self.spec.attach_to = Some(target.into());
        self
    }

    /// Makes the extension disabled unless `app.extensions` enables it.
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.spec.disabled = disabled;
        self
    }

    /// Declares an input: an [`InputRef`] (`.input(&SECTIONS)`), or
    /// `(name, ExtensionInput)` for an ad-hoc one. A second input with the same name replaces
    /// the first.
    pub fn input(mut self, input: impl IntoInputDeclaration) -> Self {
        let (name, input) = input.into_declaration();
        self.spec.inputs.retain(|(n, _)| *n != name);
        self.spec.inputs.push((name, input));
        self
    }

    /// Declares the outputs (replacing earlier declarations).
    pub fn output(mut self, refs: &[AnyDataRef]) -> Self {
        self.spec.outputs = refs.to_vec();
        self
    }

    /// Declares the config type: `C` is parsed from the extension's `config` in
    /// `app.extensions` (absent config gives `C::default()`, so give `C` `#[serde(default)]`).
    /// A value that does not parse fails the app build with an error naming the extension.
    pub fn config<D: DeserializeOwned + Default + Send + Sync + 'static>(
        mut self,
    ) -> ExtensionBuilder<D> {
        self.spec.config = Arc::new(|value| {
            let parsed: D = match value {
                None | Some(Value::Null) => D::default(),
                Some(v) => serde_path_to_error::deserialize(v.clone()).map_err(|e| {
                    let path = e.path().to_string();
                    if path == "." || path.is_empty() {
                        e.inner().to_string()
                    } else {
                        format!("{path}: {}", e.inner())
                    }
                })?,
            };
            Ok(Arc::new(parsed) as ParsedConfig)
        });
        self.spec.config_type = std::any::type_name::<D>();
        ExtensionBuilder {
            spec: self.spec,
            _config: PhantomData,
        }
    }
}

/// One attached child as its parent's factory sees it: the child's id and outputs.
#[derive(Debug, Clone)]
pub struct InputItem {
    pub(crate) id: String,
    pub(crate) outputs: Outputs,
}

impl InputItem {
    /// The child extension id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The child's value for `data_ref`.
    pub fn get<T: Send + Sync + 'static>(&self, data_ref: &ExtensionDataRef<T>) -> Option<&T> {
        self.outputs.get(data_ref)
    }

    /// The child's value for `data_ref`, or an error naming the child and the ref.
    pub fn require<T: Send + Sync + 'static>(
        &self,
        data_ref: &ExtensionDataRef<T>,
    ) -> Result<&T, BoxError> {
        self.get(data_ref).ok_or_else(|| {
            format!("extension '{}' has no data '{}'", self.id, data_ref.id()).into()
        })
    }

    /// All outputs of the child.
    pub fn outputs(&self) -> &Outputs {
        &self.outputs
    }
}

/// The children attached to an extension, by input name.
#[derive(Debug, Default)]
pub struct Inputs {
    pub(crate) extension: String,
    pub(crate) items: HashMap<String, Vec<InputItem>>,
}

impl Inputs {
    fn get(&self, name: &str) -> Result<&[InputItem], BoxError> {
        self.items
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| format!("extension '{}' has no input '{name}'", self.extension).into())
    }

    /// The children of a many-input, in attachment order; `input` is an [`InputRef`] or a
    /// name.
    pub fn many(&self, input: impl InputName) -> Result<&[InputItem], BoxError> {
        self.get(input.input_name())
    }

    /// The child of a required singleton input.
    pub fn one(&self, input: impl InputName) -> Result<&InputItem, BoxError> {
        let name = input.input_name();
        self.get(name)?.first().ok_or_else(|| {
            format!(
                "input '{name}' of extension '{}' has no extension attached",
                self.extension
            )
            .into()
        })
    }

    /// The child of an optional singleton input, if any.
    pub fn maybe(&self, input: impl InputName) -> Result<Option<&InputItem>, BoxError> {
        Ok(self.get(input.input_name())?.first())
    }
}

/// What an extension factory receives: its id, config and the outputs of its children.
pub struct ExtensionContext<'a> {
    pub(crate) id: &'a str,
    pub(crate) plugin: Option<&'a str>,
    pub(crate) config: &'a ParsedConfig,
    pub(crate) config_type: &'static str,
    pub(crate) inputs: &'a Inputs,
    pub(crate) app_config: &'a Config,
    pub(crate) routes: &'a RouteResolver,
}

impl fmt::Debug for ExtensionContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtensionContext")
            .field("id", &self.id)
            .field("plugin", &self.plugin)
            .finish_non_exhaustive()
    }
}

impl ExtensionContext<'_> {
    /// The extension id.
    pub fn id(&self) -> &str {
        self.id
    }

    /// The id of the plugin that provided the extension (`None` for the app's own and for
    /// overrides).
    pub fn plugin_id(&self) -> Option<&str> {
        self.plugin
    }

    /// The parsed config; `C` must be the type given to [`ExtensionBuilder::config`]. A factory
    /// set after `config::<C>()` receives it as `&C` already; this is for
    /// [`Extension::override_factory`] factories.
    pub fn config<C: Send + Sync + 'static>(&self) -> Result<&C, BoxError> {
        self.config.downcast_ref::<C>().ok_or_else(|| {
            format!(
                "extension '{}' has config of type {}, not {}",
                self.id,
                self.config_type,
                std::any::type_name::<C>()
            )
            .into()
        })
    }

    /// The attached children.
    pub fn inputs(&self) -> &Inputs {
        self.inputs
    }

    /// The whole app config.
    pub fn app_config(&self) -> &Config {
        self.app_config
    }

    /// The app's routes, as Backstage's `useRouteRef`: a cheap handle to keep in what the
    /// factory returns and resolve when rendering (the route table is complete once the app is
    /// built, after every factory ran), so links follow pages that config moved.
    pub fn routes(&self) -> &RouteResolver {
        self.routes
    }
}
