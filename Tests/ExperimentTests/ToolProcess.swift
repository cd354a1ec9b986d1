import Foundation

/// What a command-line tool printed and how it ended (the result type of every CLI test here).
struct ToolResult { let status: Int32; let out: String; let err: String }

/// Runs `tool` with `args` to its end — in `cwd` when given, with `environment` entries set (a nil value
/// removes the variable) — and returns its exit status, standard output and standard error.
func runProcess(_ tool: URL, _ args: [String], cwd: URL? = nil, environment: [String: String?] = [:]) throws -> ToolResult {
    let p = Process()
    p.executableURL = tool
    p.arguments = args
    if let cwd { p.currentDirectoryURL = cwd }
    if !environment.isEmpty {
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
    }
    let o = Pipe(), e = Pipe()
    p.standardOutput = o
    p.standardError = e
    try p.run()
    // read both pipes before waiting: a child filling one pipe would otherwise block forever
    let od = o.fileHandleForReading.readDataToEndOfFile(), ed = e.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return ToolResult(status: p.terminationStatus, out: String(decoding: od, as: UTF8.self), err: String(decoding: ed, as: UTF8.self))
}
