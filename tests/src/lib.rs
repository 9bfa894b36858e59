//! Workspace-level tests for siem-connectors live in `tests/`; this library is empty.
