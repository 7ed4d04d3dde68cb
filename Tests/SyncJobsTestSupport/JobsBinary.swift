import Foundation

/// Runs the built `jobs` binary the way a user does.
package enum JobsBinary {
    package static let url: URL = {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("jobs")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return packageRoot.appendingPathComponent(".build/debug/jobs")
    }()

    /// The package's folder: this file is Tests/SyncJobsTestSupport/JobsBinary.swift.
    package static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    package struct Result {
        package var status: Int32
        package var stdout: String
        package var stderr: String
    }

    /// The binary, set to run in `directory` with the test's environment, less `JOBS_STATE` (so
    /// the state is the project's own) and `WAREHOUSE_URL` (so the shipped PostgreSQL job behaves
    /// as documented for a shell without it), plus `extra`.
    static func process(_ arguments: [String], in directory: String, environment extra: [String: String] = [:]) -> Process {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var environment = ProcessInfo.processInfo.environment
        environment["JOBS_STATE"] = nil
        environment["WAREHOUSE_URL"] = nil
        environment.merge(extra) { $1 }
        process.environment = environment
        return process
    }

    package static func start(_ arguments: [String], in directory: String, environment extra: [String: String] = [:]) throws -> (Process, Pipe, Pipe) {
        let process = process(arguments, in: directory, environment: extra)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        return (process, out, err)
    }

    /// Runs the binary to completion. The blocking reads and wait happen on a thread of their own:
    /// blocking the test's cooperative threads would starve the in-process servers other tests run.
    package static func run(_ arguments: [String], in directory: String, environment: [String: String] = [:]) async throws -> Result {
        let (process, out, err) = try start(arguments, in: directory, environment: environment)
        return await offPool {
            let stdout = out.fileHandleForReading.readDataToEndOfFile()
            let stderr = err.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                          stderr: String(decoding: stderr, as: UTF8.self))
        }
    }

    /// Runs another program (a script) to completion, off the cooperative pool, with its output.
    package static func runCapturing(_ process: Process) async throws -> Result {
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        return await offPool {
            let stdout = out.fileHandleForReading.readDataToEndOfFile()
            let stderr = err.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                          stderr: String(decoding: stderr, as: UTF8.self))
        }
    }

    /// Runs the binary with standard output and standard error on one pipe, as a terminal shows
    /// them: in the order they were written (both are unbuffered writes).
    package static func runInterleaved(_ arguments: [String], in directory: String) async throws -> (status: Int32, output: String) {
        try await runInterleaved(process(arguments, in: directory))
    }

    /// Runs `process` to completion with standard output and standard error on one pipe.
    package static func runInterleaved(_ process: Process) async throws -> (status: Int32, output: String) {
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        return await offPool {
            let output = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: output, as: UTF8.self))
        }
    }

    /// Waits for a process to exit without blocking a cooperative thread.
    package static func wait(_ process: Process) async {
        await offPool { process.waitUntilExit() }
    }

    package static func offPool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: work()) }.start()
        }
    }
}
