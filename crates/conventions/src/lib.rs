//! Names that the agent (which emits telemetry) and the console (which reads it)
//! must agree on. Any OTLP source that follows them shows up in the saga, breaker
//! and route views; see `shared/DESIGN.md`, "Telemetry conventions".
//!
//! Nothing here depends on an OpenTelemetry crate: these are plain strings and
//! small enums, so every crate of the workspace can use them.
#![forbid(unsafe_code)]

pub mod breaker;
pub mod bulkhead;
pub mod eventing;
pub mod ratelimit;
pub mod resource;
pub mod retry;
pub mod route;
pub mod saga;
pub mod telemetry;

/// The error returned when a wire value is not one of an enum's known names or codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue {
    /// What kind of value was expected, e.g. `"breaker state"`.
    pub kind: &'static str,
    /// The value that was seen.
    pub value: String,
}

impl std::fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown {}: {:?}", self.kind, self.value)
    }
}

impl std::error::Error for UnknownValue {}

/// Declares a string-valued enum with `as_str`, `FromStr`, `Display` and `ALL`.
macro_rules! string_enum {
    ($(#[$meta:meta])* $kind:literal, $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value as it appears on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::UnknownValue { kind: $kind, value: s.to_owned() }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use string_enum;
