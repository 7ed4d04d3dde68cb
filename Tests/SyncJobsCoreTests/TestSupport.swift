// The shared test helpers (TestWorkspace, CapturedOutput, RecordingDestination, LogCapture, the
// clocks, the Events API helpers) are in Tests/SyncJobsTestSupport. Exported from this one file so
// that every test file in this target sees them without an import of its own.
@_exported import SyncJobsTestSupport
