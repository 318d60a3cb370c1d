//! Standard OpenTelemetry resource attributes the console reads.

/// The logical service that emitted the telemetry.
pub const SERVICE_NAME: &str = "service.name";
/// The service's version.
pub const SERVICE_VERSION: &str = "service.version";
/// What the console shows when a resource has no `service.name`.
pub const UNKNOWN_SERVICE: &str = "unknown_service";
