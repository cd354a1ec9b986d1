import Foundation

/// Produces an output folder all at once: files are written into a hidden staging folder next to the
/// destination, which replaces the destination only when everything succeeded (rename). A failure
/// leaves the previous folder (if any) untouched and removes the staging folder.
public final class AtomicDirectory {
    public let destination: URL
    /// Where files go while the folder is being produced.
    public let staging: URL
    private var committed = false

    public init(_ destination: URL) throws {
        self.destination = destination.standardizedFileURL
        let parent = self.destination.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        } catch {
            throw IOError.cannotWrite(path: self.destination.path, reason: "cannot create its parent folder \(parent.path) (is part of the path a file?)")
        }
        staging = parent.appendingPathComponent(".\(self.destination.lastPathComponent).partial-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        do {
            try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: false)
        } catch {
            throw IOError.cannotWrite(path: parent.path, reason: "cannot create a folder there (\(error.localizedDescription))")
        }
    }

    deinit { if !committed { try? FileManager.default.removeItem(at: staging) } }

    /// URL of a file inside the staging folder.
    public func file(_ name: String) -> URL { staging.appendingPathComponent(name) }

    public func write(_ data: Data, _ name: String) throws {
        do { try data.write(to: file(name)) } catch {
            throw IOError.cannotWrite(path: destination.appendingPathComponent(name).path, reason: error.localizedDescription)
        }
    }

    public func write(_ text: String, _ name: String) throws { try write(Data(text.utf8), name) }

    /// Moves the staging folder into place (replacing an older destination folder).
    public func commit() throws {
        let fm = FileManager.default
        var old: URL? = nil
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: destination.path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw IOError.cannotWrite(path: destination.path, reason: "exists and is not a folder") }
            let o = destination.deletingLastPathComponent().appendingPathComponent(".\(destination.lastPathComponent).old-\(getpid())")
            try? fm.removeItem(at: o)
            guard rename(destination.path, o.path) == 0 else {
                throw IOError.cannotWrite(path: destination.path, reason: String(cString: strerror(errno)))
            }
            old = o
        }
        guard rename(staging.path, destination.path) == 0 else {
            let reason = String(cString: strerror(errno))
            if let old { _ = rename(old.path, destination.path) }
            throw IOError.cannotWrite(path: destination.path, reason: reason)
        }
        committed = true
        if let old { try? fm.removeItem(at: old) }
    }
}

/// Peak resident set size of this process (bytes).
public func peakRSSBytes() -> Int64 {
    var u = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
    return Int64(u.ru_maxrss) * 1024
}
