//! The frontend system: App, extensions, utility APIs and routing (a later issue builds it).
